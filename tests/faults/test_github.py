"""GitHub API faults during `pinbot cut --open-prs`: real pushes, the pulls API faked (responses).

The remotes are GitHub URLs that git rewrites to the local bare repositories (insteadOf), as in
tests/integration/test_cut_prs.py, on the same stateful fake (testing.github), with faults. After
each fault GitHub is healthy again and the cut re-run: it must find the PRs it opened, open the
missing ones, and never make a second PR or a second commit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from testing import cutting
from testing.cutworld import CAPABLE, IMAGE, cut_remotes, head_branch
from testing.github import DEPLOY_URL, OPENHANDS_URL, FakeGitHub
from testing.matrix import Fault, Row, check
from testing.worlds import Images

AREA = "GitHub API"
RATE_LIMIT = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before "
    "you try again.",
}
BAD_GATEWAY = {"message": "Server Error"}


def fault(name: str, code: int, says: str, outcome: str, **options: Any) -> Fault:
    return Fault(AREA, name, code, says, outcome, options)


FAULTS = [
    fault(
        "a lagging PR listing, then 422 'already exists' on opening",
        0, '"pr": "https://github.com/acme/OpenHands/pull/7"',
        "takes the PR that exists and updates it: no second PR",
        seed=True, faults=[{"method": "GET", "times": 1, "status": 200, "body": []}],
    ),
    fault(
        "the PR is opened but GitHub answers 502 (the retry hits 422)",
        0, '"pr": "https://github.com/acme/deploy/pull/',
        "retries, finds the PR its first request made: exactly one PR each",
        faults=[{"method": "POST", "times": 1, "status": 502, "body": BAD_GATEWAY,
                 "goes_through": True}],
    ),
    fault(
        "secondary rate limit: 403 with Retry-After, once",
        0, '"pr": "https://github.com/acme/deploy/pull/',
        "waits as asked and goes on: both PRs opened",
        faults=[{"method": "POST", "times": 1, "status": 403, "body": RATE_LIMIT,
                 "headers": {"Retry-After": "1"}}],
    ),
    fault(
        "secondary rate limit that does not lift",
        3, "wait a few minutes and re-run",
        "stops after its retries with both branches pushed; a re-run opens the PRs",
        faults=[{"method": "POST", "times": 99, "status": 403, "body": RATE_LIMIT,
                 "headers": {"Retry-After": "1"}}],
    ),
    fault(
        "GitHub answers 502 to every request",
        3, "re-run",
        "stops with both branches pushed; a re-run opens the PRs, no new commit",
        faults=[{"method": m, "times": 99, "status": 502, "body": BAD_GATEWAY}
                for m in ("GET", "POST", "PATCH")],
    ),
]  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> Remotes:
    made = cut_remotes(tmp_path / "remotes")
    Path(os.environ["GIT_CONFIG_GLOBAL"]).write_text(
        f'[url "{made.openhands.url}"]\n\tinsteadOf = {OPENHANDS_URL}\n'
        f'[url "{made.deploy.url}"]\n\tinsteadOf = {DEPLOY_URL}\n'
    )
    return made


def argv(images: Images, world: Remotes) -> list[str]:
    return [
        "--json", "cut", "--tag", CAPABLE, "--openhands", OPENHANDS_URL,
        "--openhands-branch", world.openhands.branch, "--deploy", DEPLOY_URL,
        "--image", IMAGE, "--registry-url", images.registry, "--sdk", str(images.world.sdk),
        "--require-commit", world.openhands.backend_commit, "--open-prs",
    ]  # fmt: skip


def pull_state(github: FakeGitHub, world: Remotes) -> tuple[str, bool]:
    """How many PRs each head has, and whether that is exactly one each."""
    heads = [head_branch(world.openhands.branch), cutting.DEPLOY_BRANCH]
    counts = [
        github.open_pulls(repo).count(head)
        for repo, head in zip(("acme/OpenHands", "acme/deploy"), heads, strict=True)
    ]
    return f"PRs per head: {counts}", counts == [1, 1]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_github_fault(
    fault: Fault, row: Row, capsys, images, world, github, tag: str, temp: Path
) -> None:
    if fault.options.get("seed"):
        branch = world.openhands.branch
        github.seed("acme/OpenHands", 7, head_branch(branch), "A pin PR.", base=branch)
    github.faults = [dict(f, hits=0) for f in fault.options["faults"]]

    run = cutting.cut(capsys, argv(images, world))

    fired = any(f["hits"] for f in github.faults)
    github.faults = []
    before = cutting.state(world)
    refs = world.refs()
    again = cutting.cut(capsys, argv(images, world))
    after = cutting.state(world)
    prs, one_each = pull_state(github, world)
    row.state = f"{before.describe()}; a re-run: {after.describe()}, {prs}"
    row.data_lost = bool(before.problems or after.problems) or not one_each
    check(fault, row, run, tag, temp)
    assert fired
    assert before.completed, before.describe()  # both branches pushed before any PR call
    assert again.code == 0, again.text
    assert world.refs() == refs  # the re-run made no new commit
    assert not row.data_lost, row.state
    assert repos.git(world.deploy.remote, "rev-parse", cutting.DEPLOY_BRANCH)
