"""The world of the cut tests: images in the real registry, repositories behind file:// remotes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pinbot.demo import repos
from pinbot.demo.builds import Build, World, publish
from pinbot.demo.registry import RegistryWriter
from testing.cli import pinbot

IMAGE = "ghcr.io/cutworld/agent-server"
CAPABLE = "1.27.0-python"
INCAPABLE = "1.28.0-python"
COMPOSE_FILES = ("docker-compose.yml", "containers/dev/compose.yml")


@dataclass
class Images:
    registry: str
    world: World


@dataclass
class Repos:
    openhands: repos.OpenHandsRepo
    deploy: repos.DeployRepo

    def refs(self) -> tuple[str, str]:
        """Every ref of both remotes: equal before and after means nothing was pushed."""
        return (
            repos.git(self.openhands.remote, "for-each-ref"),
            repos.git(self.deploy.remote, "for-each-ref"),
        )


def publish_images(registry: str, root: Path) -> Images:
    """1.26.0 (the pin) lacks the routes, 1.27.0 has them, 1.28.0 dropped them again."""
    builds = [Build(version="1.26.0"), Build(version="1.27.0", routes=True), Build("1.28.0")]
    world = publish(RegistryWriter(registry, "cutworld/agent-server"), root / "sdk", builds)
    return Images(registry, world)


def make_repos(
    root: Path, files: dict[str, Any] | None = None, workflow: str | None = None
) -> Repos:
    openhands = repos.openhands_repo(root, image=IMAGE, files=files)
    return Repos(openhands, repos.deploy_repo(root, openhands.main, workflow))


def deploy_branch(tag: str = CAPABLE) -> str:
    """The deploy branch a cut to `tag` pushes."""
    return f"pinbot/agent-server-{tag}"


def head_branch(branch: str, tag: str = CAPABLE) -> str:
    """The branch a cut to `tag` pushes `branch`'s pin commit to (its PR goes into `branch`)."""
    return f"pinbot/{branch}/agent-server-{tag}"


def cut_json(
    images: Images, world: Repos, *extra: str, tag: str = CAPABLE
) -> tuple[int, dict[str, Any] | None, str]:
    """`pinbot --json cut` of `tag` from the world's OpenHands branch to its deploy repository:
    exit code, the JSON report (None when it printed none) and stderr."""
    argv = ["--json", "cut", "--tag", tag, "--openhands", world.openhands.url]
    argv += ["--openhands-branch", world.openhands.branch, "--deploy", world.deploy.url]
    argv += ["--image", IMAGE, "--registry-url", images.registry, "--sdk", str(images.world.sdk)]
    run = pinbot(*argv, *extra)
    return run.code, run.data, run.err


def git_as(directory: Path, author: tuple[str, str]) -> Callable[..., str]:
    """`git(*args)` in `directory`, committing as `author` (name, email): a human's commits."""
    return functools.partial(repos.git, directory, author=author)
