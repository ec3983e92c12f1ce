"""The world of the cut tests: images in the real registry, repositories behind file:// remotes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pinbot.demo import repos
from pinbot.demo.builds import Build
from pinbot.demo.repos import Remotes
from testing.cli import pinbot
from testing.worlds import Images, publish_to

IMAGE = "ghcr.io/cutworld/agent-server"
CAPABLE = "1.27.0-python"
INCAPABLE = "1.28.0-python"
COMPOSE_FILES = ("docker-compose.yml", "containers/dev/compose.yml")


def publish_images(registry: str, root: Path) -> Images:
    """1.26.0 (the pin) lacks the routes, 1.27.0 has them, 1.28.0 dropped them again."""
    builds = [Build(version="1.26.0"), Build(version="1.27.0", routes=True), Build("1.28.0")]
    return publish_to(registry, "cutworld/agent-server", builds, root)


def cut_remotes(
    root: Path, files: Mapping[str, str | bytes | None] | None = None, workflow: str | None = None
) -> Remotes:
    """The cut tests' remotes (`repos.make_remotes`), pinned at this world's image."""
    return repos.make_remotes(root, IMAGE, files=files, workflow=workflow)


def deploy_branch(tag: str = CAPABLE) -> str:
    """The deploy branch a cut to `tag` pushes."""
    return f"pinbot/agent-server-{tag}"


def head_branch(branch: str, tag: str = CAPABLE) -> str:
    """The branch a cut to `tag` pushes `branch`'s pin commit to (its PR goes into `branch`)."""
    return f"pinbot/{branch}/agent-server-{tag}"


def cut_argv(
    images: Images, world: Remotes, *extra: str, tag: str = CAPABLE, image: str = IMAGE,
    branch: str = "", openhands: str = "",
) -> list[str]:  # fmt: skip
    """`pinbot --json cut` of `tag` from the world's OpenHands branch (or `branch`; `openhands`:
    another URL of its remote) to its deploy repository, `extra` flags last."""
    return [
        "--json", "cut", "--tag", tag,
        "--openhands", openhands or world.openhands.url,
        "--openhands-branch", branch or world.openhands.branch,
        "--deploy", world.deploy.url, "--image", image,
        "--registry-url", images.registry, "--sdk", str(images.world.sdk), *extra,
    ]  # fmt: skip


def cut_json(
    images: Images, world: Remotes, *extra: str, tag: str = CAPABLE
) -> tuple[int, dict[str, Any] | None, str]:
    """`cut_argv` run: exit code, the JSON report (None when it printed none) and stderr."""
    run = pinbot(*cut_argv(images, world, *extra, tag=tag))
    return run.code, run.data, run.err


def git_as(directory: Path, author: tuple[str, str]) -> Callable[..., str]:
    """`git(*args)` in `directory`, committing as `author` (name, email): a human's commits."""
    return functools.partial(repos.git, directory, author=author)
