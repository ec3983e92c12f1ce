"""`pinbot gate` through GitHub's API, without a clone: the API faked with `responses`.

The fake (testing.github) answers the endpoints the gate reads from the real bare repositories
of a world made by a real cut. The registry stays real.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pinbot.demo import repos
from testing.cutworld import CAPABLE
from testing.gateworld import CutWorld, cut_world, run
from testing.github import TOKEN, FakeGitHub
from testing.worlds import Images


@pytest.fixture(scope="module")
def world(images: Images, tmp_path_factory: pytest.TempPathFactory) -> CutWorld:
    return cut_world(tmp_path_factory.mktemp("gate-github"), images, CAPABLE)


@pytest.fixture(autouse=True)
def _served(github: FakeGitHub, world: CutWorld) -> None:
    """The fake answers for the world's repositories, from their bare remotes."""
    github.remotes.update(
        {"acme/OpenHands": world.repos.openhands.remote, "acme/deploy": world.repos.deploy.remote}
    )


def gate(world: CutWorld, deploy: str, openhands: str, *extra: str) -> tuple[int, Any, str]:
    refs = world.repos.refs()
    code, out, err = run(
        ["--json", "gate", "--deploy", deploy, "--openhands", openhands, "--image", world.image,
         "--registry-url", world.images.registry, "--sdk", str(world.images.world.sdk),
         "--require-commit", world.repos.openhands.backend_commit, *extra]
    )  # fmt: skip
    assert world.repos.refs() == refs
    return code, json.loads(out) if out.strip() else None, err


def test_the_gate_reads_both_repositories_through_the_api_and_passes(
    world: CutWorld, github: FakeGitHub
) -> None:
    deploy = f"https://github.com/acme/deploy@{world.deploy_branch}"

    code, report, err = gate(world, deploy, "github.com/acme/OpenHands")

    assert code == 0, err
    assert report["openhands_sha"] == world.pin
    assert [c["status"] for c in report["checks"]] == ["pass"] * 5
    assert TOKEN not in err
    asked = {(method, path.split("/")[4]) for method, path in github.calls}
    # (git: the tree, for every lock file in it: a second lock is a pin site too)
    assert asked == {("GET", "commits"), ("GET", "contents"), ("GET", "compare"), ("GET", "git")}


def test_a_missing_backend_commit_blocks_through_the_api_too(
    world: CutWorld, github: FakeGitHub
) -> None:
    oh = world.repos.openhands
    elsewhere = repos.add_commit(
        oh.remote, "elsewhere", {"x.py": "x = 1\n"}, "Other", start=oh.main
    )
    deploy = f"https://github.com/acme/deploy@{world.deploy_branch}"

    code, report, _ = gate(
        world, deploy, "https://github.com/acme/OpenHands.git", "--require-commit", elsewhere
    )

    assert code == 1
    failing = [c["name"] for c in report["checks"] if not c["ok"]]
    assert failing == ["backend_commits"]
    assert elsewhere[:12] in report["checks"][1]["detail"]


def test_a_sha_github_does_not_know_blocks(world: CutWorld, github: FakeGitHub) -> None:
    workflow = repos.deploy_workflow("0123456789" * 4)
    dp = world.repos.deploy
    repos.add_commit(dp.remote, "api-unknown", {repos.WORKFLOW: workflow}, "Deploy", start=dp.main)

    code, report, _ = gate(world, "github.com/acme/deploy@api-unknown", "github.com/acme/OpenHands")

    assert code == 1
    assert [c["status"] for c in report["checks"]] == ["fail"] + ["skip"] * 4
    assert "is not a commit in github.com/acme/OpenHands" in report["checks"][0]["detail"]


def test_a_deploy_ref_github_does_not_know_is_bad_input(
    world: CutWorld, github: FakeGitHub
) -> None:
    code, report, err = gate(
        world, "github.com/acme/deploy@no-such-branch", "github.com/acme/OpenHands"
    )

    assert (code, report) == (2, None)
    assert "no-such-branch is not a commit in github.com/acme/deploy" in err


def test_github_refusing_the_token_is_an_external_failure(
    world: CutWorld, github: FakeGitHub
) -> None:
    github.fail_with = 401

    code, report, err = gate(
        world, f"github.com/acme/deploy@{world.deploy_branch}", "github.com/acme/OpenHands"
    )

    assert (code, report) == (3, None)
    assert "GitHub said 401" in err and "GITHUB_TOKEN" in err
