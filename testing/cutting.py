"""Driving `pinbot cut` in the fault matrix, and judging what the two remotes hold afterwards.

The promise under every git, GitHub and interruption fault: whatever happened, the remotes are
consistent — at most one pin commit, on the OpenHands branch's `pinbot/…` head branch, every human
commit kept, and a deploy branch only ever names a commit its OpenHands remote has — and a re-run
completes the cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from testing.cli import Run, pinbot
from testing.cutworld import CAPABLE, cut_argv, head_branch
from testing.worlds import Images

DEPLOY_BRANCH = f"pinbot/agent-server-{CAPABLE}"


def argv(images: Images, world: Remotes, *extra: str, openhands: str = "") -> list[str]:
    """The pushed cut of CAPABLE the fault tests make, its backend commit required."""
    required = ("--require-commit", world.openhands.backend_commit)
    return cut_argv(images, world, *required, "--push", *extra, openhands=openhands)


def cut(capsys: pytest.CaptureFixture[str], args: Sequence[str]) -> Run:
    return pinbot(*args)


@dataclass
class State:
    pins: list[str] = field(default_factory=list)  # pinbot's commits for the OpenHands branch
    deployed: str | None = None  # OPENHANDS_SHA on the deploy branch, if it exists
    problems: list[str] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return not self.problems and len(self.pins) == 1 and self.deployed == self.pins[0]

    def describe(self) -> str:
        if self.problems:
            return "; ".join(self.problems)
        if self.completed:
            return "pinned and deployed, one pin commit"
        if self.pins:
            return "OpenHands pinned, deploy branch not pushed yet"
        return "nothing of pinbot's on either remote"


def state(world: Remotes, humans: Sequence[str] = ()) -> State:
    oh, dp = world.openhands, world.deploy
    found = State()
    head = head_branch(oh.branch)
    on_branch = _since(oh.remote, oh.backend_commit, oh.branch)
    pinned = _since(oh.remote, oh.branch, head) if _has(oh.remote, head) else []
    for sha in on_branch + pinned:
        if "Pinbot-Image:" in repos.git(oh.remote, "log", "-1", "--format=%B", sha):
            found.pins.append(sha)
    if len(found.pins) > 1:
        found.problems.append(f"{len(found.pins)} pin commits for {oh.branch}")
    lost = [sha for sha in humans if sha not in on_branch]
    if lost:
        found.problems.append(f"human commit(s) {', '.join(s[:12] for s in lost)} lost")
    if _has(dp.remote, DEPLOY_BRANCH):
        found.deployed = _deployed(world)
        if found.deployed not in pinned + on_branch:
            found.problems.append(f"the deploy names {found.deployed}, not on {head}")
    return found


def _since(remote: Path, base: str, tip: str) -> list[str]:
    return repos.git(remote, "log", "--format=%H", f"{base}..{tip}").split()


def _has(remote: Path, branch: str) -> bool:
    return branch in repos.git(remote, "branch", "--format=%(refname:short)").split()


def _deployed(world: Remotes) -> str:
    text = repos.show(world.deploy.remote, DEPLOY_BRANCH, repos.WORKFLOW)
    return text.split("OPENHANDS_SHA:", 1)[1].split()[0].strip("'\"")
