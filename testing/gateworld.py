"""Worlds for the gate tests: a real `pinbot cut --push` over the cut tests' registry and repos.

Module-scoped worlds are built with the CLI itself (`run`), inside an environment of their own
(cache, git config), because the per-test isolation fixture does not reach that scope.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from testing.cli import pinbot
from testing.cutworld import IMAGE, cut_argv
from testing.worlds import Images


@dataclass
class CutWorld:
    """Repositories after a pushed cut; `cut` is the cut's JSON report."""

    repos: Remotes
    images: Images
    cut: dict[str, Any]
    image: str = IMAGE

    @property
    def pin(self) -> str:
        return str(self.cut["openhands"]["commit"])

    @property
    def deploy_branch(self) -> str:
        return str(self.cut["deploy"]["branch"])


def run(argv: list[str]) -> tuple[int, str, str]:
    """The CLI in-process (testing.cli.pinbot), as (code, stdout, stderr)."""
    done = pinbot(*argv)
    return done.code, done.out, done.err


@contextlib.contextmanager
def own_environment(root: Path) -> Iterator[None]:
    """What tests/conftest.py's isolation gives a test, for a fixture of wider scope."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PINBOT_CACHE_DIR", str(root / "cache"))
        patch.setenv("GIT_CONFIG_GLOBAL", str(root / "no-gitconfig"))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_ACTIONS"):
            patch.delenv(name, raising=False)
        yield


def cut_world(
    root: Path, images: Images, tag: str, *extra: str, image: str = IMAGE, branch: str = ""
) -> CutWorld:
    """Fresh remotes, then a real pushed cut of `tag` (extra: cut flags)."""
    with own_environment(root):
        world = repos.make_remotes(root / "remotes", image=image)
        argv = cut_argv(images, world, "--push", *extra, tag=tag, image=image, branch=branch)
        code, out, err = run(argv)
    assert code == 0, err
    return CutWorld(world, images, json.loads(out), image)


def registry_state(address: str, repository: str) -> dict[str, str]:
    """Every tag of `repository` and the digest it names: equal before and after means the
    registry was not written."""
    base = f"http://{address}/v2/{repository}"
    tags = requests.get(f"{base}/tags/list", timeout=10).json()["tags"] or []
    accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"
    with requests.Session() as http:
        return {
            tag: http.head(
                f"{base}/manifests/{tag}", headers={"Accept": accept}, timeout=10
            ).headers["Docker-Content-Digest"]
            for tag in sorted(tags)
        }


def deploy_at(world: CutWorld, branch: str, openhands_sha: str) -> str:
    """A deploy branch whose workflow names `openhands_sha` (a human's edit of main)."""
    workflow = repos.deploy_workflow(openhands_sha)
    repos.add_commit(world.repos.deploy.remote, branch, {repos.WORKFLOW: workflow}, "Deploy",
                     start=world.repos.deploy.main)  # fmt: skip
    return branch
