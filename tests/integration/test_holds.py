"""A rollback that holds: a real `pinbot cut --push`, a human's real `git revert` of it, then
`cut --latest`, `cut --tag` and `scan` against the real registry and the reverted branch."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pinbot import api, commits
from pinbot.demo import repos
from pinbot.demo.builds import Build, World, publish
from pinbot.demo.registry import RegistryWriter
from pinbot.errors import NegativeVerdict
from testing.cli import pinbot
from testing.github import DEPLOY_URL, OPENHANDS_URL

IMAGE = "ghcr.io/holdworld/agent-server"
HELD = "1.28.0-python"
NEXT = "1.27.0-python"


@dataclass
class Rolled:
    registry: str
    world: World
    openhands: repos.OpenHandsRepo
    deploy: repos.DeployRepo
    pin_commit: str
    revert_commit: str


@pytest.fixture(scope="module")
def images(registry: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, World]:
    """1.26.0 (the pin) lacks the routes; 1.27.0 and 1.28.0 both carry them."""
    builds = [
        Build(version="1.26.0"),
        Build(version="1.27.0", routes=True),
        Build(version="1.28.0", routes=True),
    ]
    root = tmp_path_factory.mktemp("hold-images")
    return registry, publish(
        RegistryWriter(registry, "holdworld/agent-server"), root / "sdk", builds
    )


def cut(capsys: pytest.CaptureFixture[str], rolled: Rolled, *extra: str) -> tuple[int, Any, str]:
    code, out, err = pinbot(
        "--json", "cut", "--openhands", rolled.openhands.url,
        "--openhands-branch", rolled.openhands.branch, "--deploy", rolled.deploy.url,
        "--image", IMAGE, "--registry-url", rolled.registry,
        "--sdk", str(rolled.world.sdk), *extra,
    )  # fmt: skip
    return code, json.loads(out) if out.strip() else None, err


def roll_back(images: tuple[str, World], root: Path) -> Rolled:
    """1.28.0 cut and pushed by pinbot, then rolled back by a human with `git revert`."""
    registry, world = images
    openhands = repos.openhands_repo(root, image=IMAGE)
    deploy = repos.deploy_repo(root, openhands.main)
    argv = ["cut", "--tag", HELD, "--openhands", openhands.url]
    argv += ["--openhands-branch", openhands.branch, "--deploy", deploy.url, "--image", IMAGE]
    assert pinbot(*argv, "--registry-url", registry, "--sdk", str(world.sdk), "--push").code == 0
    head = f"pinbot/{openhands.branch}/agent-server-{HELD}"
    pin_commit = repos.git(openhands.remote, "rev-parse", head)
    # its PR merged (fast-forward), then rolled back on the branch
    repos.git(openhands.remote, "update-ref", f"refs/heads/{openhands.branch}", pin_commit)
    revert = repos.revert_commit(openhands.remote, openhands.branch, pin_commit)
    return Rolled(registry, world, openhands, deploy, pin_commit, revert)


@pytest.fixture(scope="module")
def rolled(images: tuple[str, World], tmp_path_factory: pytest.TempPathFactory) -> Rolled:
    """For tests that change nothing."""
    return roll_back(images, tmp_path_factory.mktemp("rolled"))


@pytest.fixture
def fresh(capsys: pytest.CaptureFixture[str], images: tuple[str, World], tmp_path: Path) -> Rolled:
    """For tests that push."""
    return roll_back(images, tmp_path / "remotes")


def held_line(rolled: Rolled) -> str:
    return (
        f"{HELD} is held: {rolled.openhands.branch} moved its pin to it in "
        f"{rolled.pin_commit[:12]} and back to 1.26.0-python in {rolled.revert_commit[:12]}"
    )


def test_the_world_branch_carries_gits_own_revert_of_the_pinbot_pin(rolled) -> None:
    message = repos.git(rolled.openhands.remote, "log", "-1", "--format=%B", rolled.revert_commit)

    assert f"This reverts commit {rolled.pin_commit}." in message
    assert commits.IMAGE_TRAILER not in message


def test_cut_latest_passes_over_the_held_image_and_says_which_commit_holds_it(
    capsys, rolled
) -> None:
    code, report, err = cut(capsys, rolled, "--latest", "--dry-run")

    assert code == 0, err
    assert (report["tag"], report["digest"]) == (NEXT, rolled.world.digests[NEXT])
    assert f"passing over {held_line(rolled)}" in err


def test_cut_tag_refuses_a_held_image_with_exit_1_and_changes_nothing(capsys, rolled) -> None:
    refs = repos.git(rolled.openhands.remote, "for-each-ref")

    code, report, err = cut(capsys, rolled, "--tag", HELD, "--push")

    assert code == 1 and report is None
    assert held_line(rolled) in err and "--allow-held" in err
    assert repos.git(rolled.openhands.remote, "for-each-ref") == refs


def test_allow_held_overrides_the_hold_for_latest_and_for_tag(capsys, rolled) -> None:
    code, report, err = cut(capsys, rolled, "--latest", "--dry-run", "--allow-held")

    assert code == 0, err
    assert report["tag"] == HELD
    assert f"warning: {held_line(rolled)}; --allow-held" in err

    code, report, err = cut(capsys, rolled, "--tag", HELD, "--dry-run", "--allow-held")

    assert code == 0, err
    assert report["openhands"]["changed"] is True


def test_a_later_pin_of_another_tag_does_not_lift_the_hold(capsys, fresh) -> None:
    rolled = fresh
    code, _, err = cut(capsys, rolled, "--tag", NEXT, "--push")
    assert code == 0, err

    code, report, err = cut(capsys, rolled, "--latest", "--dry-run")

    assert code == 0, err
    assert (report["tag"], report["openhands"]["changed"]) == (NEXT, False)  # already pinned
    assert f"passing over {held_line(rolled)}" in err


def test_scan_with_the_branch_shows_held_with_the_revert_commit(capsys, rolled) -> None:
    argv = ["scan", "--image", IMAGE, "--registry-url", rolled.registry]
    argv += ["--sdk", str(rolled.world.sdk), "--current", "1.26.0-python"]
    argv += ["--openhands", rolled.openhands.url, "--openhands-branch", rolled.openhands.branch]

    code, out, _ = pinbot(*argv)

    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith(HELD))
    assert " held " in row and rolled.revert_commit[:12] in row
    assert f"selected: {IMAGE}:{NEXT}@" in out

    code, out, _ = pinbot("--json", *argv)
    report = json.loads(out)

    assert report["selected"]["tag"] == NEXT
    assert report["candidates"][0]["verdict"] == "held"
    assert report["holds"] == [
        {
            "image": f"{IMAGE}:{HELD}",
            "digest": None,
            "pin_commit": rolled.pin_commit,
            "revert_commit": rolled.revert_commit,
            "back_to": "1.26.0-python",
            "branch": rolled.openhands.branch,
        }
    ]


def test_scan_needs_both_openhands_flags(capsys, rolled) -> None:
    code, _, err = pinbot("scan", "--image", IMAGE, "--openhands", rolled.openhands.url)

    assert code == 2
    assert "--openhands and --openhands-branch go together" in err


def test_when_every_newer_capable_image_is_held_latest_names_each_hold(capsys, fresh) -> None:
    rolled = fresh
    code, report, err = cut(capsys, rolled, "--tag", NEXT, "--push")
    assert code == 0, err
    branch = f"refs/heads/{rolled.openhands.branch}"
    repos.git(rolled.openhands.remote, "update-ref", branch, report["openhands"]["commit"])
    second = repos.revert_commit(
        rolled.openhands.remote, rolled.openhands.branch, report["openhands"]["commit"]
    )

    code, report, err = cut(capsys, rolled, "--latest", "--dry-run")

    assert code == 1 and report is None
    assert f"and is not held ({held_line(rolled)}; {NEXT} is held: " in err
    assert f"and back to 1.26.0-python in {second[:12]}" in err


def test_scan_reads_the_holds_of_a_remote_through_a_blobless_mirror(capsys, rolled) -> None:
    # github.com/acme/OpenHands is rewritten by git to the local bare repository.
    config = Path(os.environ["GIT_CONFIG_GLOBAL"])
    config.write_text(
        f'[url "{rolled.openhands.url}"]\n\tinsteadOf = https://github.com/acme/OpenHands\n'
    )
    argv = ["--json", "scan", "--image", IMAGE, "--registry-url", rolled.registry]
    argv += ["--sdk", str(rolled.world.sdk), "--current", "1.26.0-python"]
    argv += [
        "--openhands",
        "github.com/acme/OpenHands",
        "--openhands-branch",
        rolled.openhands.branch,
    ]

    code, out, _ = pinbot(*argv)
    report = json.loads(out)

    assert code == 0
    assert [h["revert_commit"] for h in report["holds"]] == [rolled.revert_commit]
    assert report["selected"]["tag"] == NEXT


def test_scan_refuses_a_branch_name_git_could_take_for_an_option(rolled) -> None:
    argv = ["scan", "--image", IMAGE, "--openhands", rolled.openhands.url]
    code, _, err = pinbot(*argv, "--openhands-branch=--output=/tmp/x")

    assert code == 2
    assert "--openhands-branch: '--output=/tmp/x' is not a valid branch name" in err


def test_a_rollback_on_any_branch_being_cut_holds_the_image_for_all(fresh) -> None:
    repos.git(fresh.openhands.remote, "branch", "release/1.0", "main")

    # The rollback is on the second branch named; the first never carried the pin.
    code, _, err = pinbot(
        "cut", "--tag", HELD, "--dry-run", "--openhands", fresh.openhands.url,
        "--openhands-branch", "release/1.0", "--openhands-branch", fresh.openhands.branch,
        "--deploy", fresh.deploy.url, "--image", IMAGE, "--registry-url", fresh.registry,
        "--sdk", str(fresh.world.sdk),
    )  # fmt: skip

    assert code == 1
    assert held_line(fresh) in err


def test_the_library_reads_holds_and_allows_a_held_pin_as_the_cli_does(rolled) -> None:
    where = {"image": IMAGE, "registry_url": rolled.registry, "sdk": str(rolled.world.sdk)}
    branch = {"openhands": rolled.openhands.url, "openhands_branch": rolled.openhands.branch}

    found = api.scan(**where, **branch, no_cache=True)
    printed = pinbot("--json", "--no-cache", "scan", *flags(where), *flags(branch)).data

    assert found == printed and found["selected"] is not None
    assert found["selected"]["tag"] == NEXT and found["holds"][0]["image"] == f"{IMAGE}:{HELD}"
    with pytest.raises(NegativeVerdict, match="--allow-held"):
        api.plan_cut(tag=HELD, deploy=rolled.deploy.url, **branch, **where)
    plan = api.plan_cut(tag=HELD, allow_held=True, deploy=rolled.deploy.url, **branch, **where)
    assert (plan["tag"], plan["openhands"]["changed"]) == (HELD, True)


def flags(values: dict[str, str]) -> list[str]:
    return [f"--{name.replace('_', '-')}={value}" for name, value in values.items()]


def test_a_pin_made_with_allow_held_says_so_in_both_commits_and_both_prs(
    capsys, fresh, github
) -> None:
    rolled = fresh
    Path(os.environ["GIT_CONFIG_GLOBAL"]).write_text(
        f'[url "{rolled.openhands.url}"]\n\tinsteadOf = {OPENHANDS_URL}\n'
        f'[url "{rolled.deploy.url}"]\n\tinsteadOf = {DEPLOY_URL}\n'
    )
    code, report, err = pinbot(
        "--json", "cut", "--tag", HELD, "--allow-held", "--open-prs",
        "--openhands", OPENHANDS_URL, "--openhands-branch", rolled.openhands.branch,
        "--deploy", DEPLOY_URL, "--image", IMAGE, "--registry-url", rolled.registry,
        "--sdk", str(rolled.world.sdk),
    )  # fmt: skip

    assert code == 0, err
    done = json.loads(report)
    said = f"WARNING: {held_line(rolled)}; pinned again with --allow-held."
    for remote, sha in (
        (rolled.openhands.remote, done["openhands"]["commit"]),
        (rolled.deploy.remote, done["deploy"]["commit"]),
    ):
        assert said in repos.git(remote, "log", "-1", "--format=%B", sha)
    for repo, head in (
        ("acme/OpenHands", done["openhands"]["head"]),
        ("acme/deploy", done["deploy"]["branch"]),
    ):
        body = github.body(repo, head)
        assert f"> [!WARNING]\n> Pinned with `--allow-held`: {held_line(rolled)}.\n" in body


def test_a_pin_of_an_image_nobody_held_says_nothing_of_holds(capsys, fresh) -> None:
    code, report, err = cut(capsys, fresh, "--tag", NEXT, "--dry-run", "--allow-held")

    assert code == 0, err
    assert "--allow-held" not in report["openhands"]["message"]
