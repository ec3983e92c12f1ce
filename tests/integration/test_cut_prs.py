"""`pinbot cut --open-prs`: real git pushes, GitHub's API faked with `responses`.

The remotes are named by GitHub URLs, which git rewrites to the local bare repositories
(`url.<file URL>.insteadOf` in the test's own git config), so the forge sees GitHub remotes
while every push lands in a real repository.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from testing.cli import pinbot
from testing.cutworld import CAPABLE, IMAGE, cut_remotes, deploy_branch, head_branch
from testing.github import DEPLOY_URL, OPENHANDS_URL, TOKEN
from testing.probe_reports import rollback_report
from testing.worlds import Images


@pytest.fixture
def hub_world(tmp_path: Path) -> Remotes:
    world = cut_remotes(tmp_path / "remotes")
    config = Path(os.environ["GIT_CONFIG_GLOBAL"])
    config.write_text(
        f'[url "{world.openhands.url}"]\n\tinsteadOf = {OPENHANDS_URL}\n'
        f'[url "{world.deploy.url}"]\n\tinsteadOf = {DEPLOY_URL}\n'
    )
    return world


def cut(
    capsys: pytest.CaptureFixture[str], images: Images, world: Remotes, *extra: str
) -> tuple[int, Any, str]:
    code, out, err = pinbot(
        "--json", "cut", "--tag", CAPABLE,
        "--openhands", OPENHANDS_URL, "--openhands-branch", world.openhands.branch,
        "--deploy", DEPLOY_URL, "--image", IMAGE, "--registry-url", images.registry,
        "--sdk", str(images.world.sdk), "--open-prs", *extra,
    )  # fmt: skip
    return code, json.loads(out) if out.strip() else None, err


def marker(body: str) -> dict[str, Any]:
    found = re.search(r"<!-- pinbot:begin (\{.*?\}) -->", body)
    assert found is not None, body
    return json.loads(found.group(1))


def test_open_prs_opens_two_cross_linked_prs_and_a_rerun_opens_none(
    capsys, images, hub_world, github
) -> None:
    code, report, err = cut(capsys, images, hub_world)

    assert code == 0, err
    oh_url, deploy_url = report["openhands"]["pr"], report["deploy"]["pr"]
    assert oh_url == "https://github.com/acme/OpenHands/pull/100"
    assert deploy_url == "https://github.com/acme/deploy/pull/101"
    assert github.writes() == [
        ("POST", "/repos/acme/OpenHands/pulls"),
        ("POST", "/repos/acme/deploy/pulls"),
        ("PATCH", "/repos/acme/OpenHands/pulls/100"),
    ]
    oh_body = github.body("acme/OpenHands", head_branch(hub_world.openhands.branch))
    deploy_body = github.body("acme/deploy", deploy_branch())
    assert deploy_url in oh_body and oh_url in deploy_body
    sha = report["openhands"]["commit"]
    digest = images.world.digests[CAPABLE]
    assert marker(deploy_body) == {
        "role": "deploy",
        "image": IMAGE,
        "tag": CAPABLE,
        "digest": digest,
        "build_sha": images.world.shas[CAPABLE],
        "openhands_sha": sha,
        "forced": False,
    }
    assert f"| digest | `{digest}` |" in oh_body
    assert "| source | pass |" in oh_body
    assert TOKEN not in err + json.dumps(report)
    pulls = github.pulls["acme/deploy"]
    assert (pulls[0]["base"]["ref"], pulls[0]["head"]["ref"]) == ("main", deploy_branch())
    pulls = github.pulls["acme/OpenHands"]
    branch = hub_world.openhands.branch
    assert (pulls[0]["base"]["ref"], pulls[0]["head"]["ref"]) == (branch, head_branch(branch))

    github.calls.clear()
    code, again, err = cut(capsys, images, hub_world)

    assert code == 0, err
    assert github.writes() == []
    assert len(github.calls) == 2
    assert (again["openhands"]["pr"], again["deploy"]["pr"]) == (oh_url, deploy_url)
    assert len(github.pulls["acme/OpenHands"]) == 1 and len(github.pulls["acme/deploy"]) == 1


def test_the_pin_pr_goes_into_the_backend_branch_and_the_backend_pr_is_left_alone(
    capsys, images, hub_world, github
) -> None:
    branch = hub_world.openhands.branch
    github.seed("acme/OpenHands", 14709, branch, "Native ACP resume.\n\nFixes #1")

    code, report, err = cut(capsys, images, hub_world)

    assert code == 0, err
    assert report["openhands"]["pr"] == "https://github.com/acme/OpenHands/pull/101"
    assert github.body("acme/OpenHands", branch) == "Native ACP resume.\n\nFixes #1"
    body = github.body("acme/OpenHands", head_branch(branch))
    assert marker(body) == marker(body) | {
        "role": "openhands",
        "openhands_sha": report["openhands"]["commit"],
    }
    assert report["deploy"]["pr"] in body


def test_forced_pins_say_so_in_both_prs(capsys, images, hub_world, github) -> None:
    code, _, err = cut(capsys, images, hub_world, "--tag", "1.28.0-python", "--force-capability")

    assert code == 0, err
    for repo, head in (
        ("acme/OpenHands", head_branch(hub_world.openhands.branch, "1.28.0-python")),
        ("acme/deploy", deploy_branch("1.28.0-python")),
    ):
        body = github.body(repo, head)
        assert "Pinned with `--force-capability`" in body
        assert marker(body)["forced"] is True


def test_required_prs_are_resolved_to_commits_through_the_api(
    capsys, images, hub_world, github, tmp_path
) -> None:
    (tmp_path / "pinbot.toml").write_text("require_prs = [14709]\n")
    github.seed("acme/OpenHands", 14709, hub_world.openhands.branch, "Backend")
    github.commits[14709] = [hub_world.openhands.backend_commit]
    code, _, err = cut(capsys, images, hub_world, "--dry-run")
    assert code == 0, err

    github.commits[14709].append("f" * 40)
    refs = hub_world.refs()
    code, _, err = cut(capsys, images, hub_world)

    assert code == 1
    assert "does not contain the backend commit(s) ffffffffffff" in err
    assert hub_world.refs() == refs


def test_without_a_token_open_prs_is_refused_before_anything_is_pushed(
    capsys, images, hub_world, monkeypatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    refs = hub_world.refs()

    code, _, err = cut(capsys, images, hub_world)

    assert code == 2
    assert "set GITHUB_TOKEN" in err
    assert hub_world.refs() == refs


def test_file_remotes_get_branches_pushed_and_no_pr(capsys, images, tmp_path) -> None:
    world = cut_remotes(tmp_path / "plain")
    code, out, err = pinbot(
        "cut", "--tag", CAPABLE, "--openhands", world.openhands.url,
        "--openhands-branch", world.openhands.branch, "--deploy", world.deploy.url,
        "--image", IMAGE, "--registry-url", images.registry,
        "--sdk", str(images.world.sdk), "--open-prs",
    )  # fmt: skip

    assert code == 0, err
    assert f"{world.openhands.url} is not a GitHub remote: no OpenHands PR" in err + out
    assert deploy_branch() in repos.git(world.deploy.remote, "branch")


def test_with_the_provenance_detector_on_both_prs_show_its_evidence(
    capsys, images, hub_world, github
) -> None:
    code, _, err = cut(capsys, images, hub_world, "--detectors", "source,provenance")

    assert code == 0, err
    sha = images.world.shas[CAPABLE][:12]
    for repo, head in (
        ("acme/OpenHands", head_branch(hub_world.openhands.branch)),
        ("acme/deploy", deploy_branch()),
    ):
        body = github.body(repo, head)
        assert f"| provenance | pass | linux/amd64, linux/arm64 attest build commit {sha}" in body


def test_a_probe_report_puts_its_leg_table_and_the_rollback_warning_in_both_prs(
    capsys, images, hub_world, github, tmp_path: Path
) -> None:
    digest = images.world.digests[CAPABLE]
    agents = ("claude-code", "co|dex<b>")  # a report is outside text: escaped in the PRs
    report = rollback_report(tmp_path / "probe.json", digest, agents, losing="co|dex<b>")

    code, _, err = cut(capsys, images, hub_world, "--probe-report", report)

    assert code == 0, err
    for body in (
        github.body("acme/OpenHands", head_branch(hub_world.openhands.branch)),
        github.body("acme/deploy", deploy_branch()),
    ):
        assert "#### Upgrade and rollback probe: lost" in body
        assert "| claude-code | 1 | from 1.43.1 | candidate 1.58.2 | native |" in body
        assert "| 3 | candidate 1.58.2 | from 1.43.1 | lost |" in body
        assert "Reverting this pin will cost live" in body
        assert "co|dex<b>" not in body and "<b>" not in body


def test_a_probe_report_of_another_image_is_refused_before_anything_is_pushed(
    capsys, images, hub_world, github, tmp_path: Path
) -> None:
    other = images.world.digests[CAPABLE].replace("sha256:", "sha256:0")[:71]
    report = rollback_report(tmp_path / "probe.json", other)

    code, _, err = cut(capsys, images, hub_world, "--probe-report", report)

    assert code == 2
    assert "--probe-report: the report is for" in err
    assert github.writes() == []


def test_new_prs_get_the_configured_draft_labels_reviewers_and_assignees_once(
    capsys, images, hub_world, github, tmp_path: Path
) -> None:
    (tmp_path / "pinbot.toml").write_text(
        '[pr]\nlabels = ["dependencies", "agent-server"]\nreviewers = ["alice", "acme/release"]\n'
        'assignees = ["bob"]\ndraft = true\n'
    )

    code, _, err = cut(capsys, images, hub_world)

    assert code == 0, err
    for repo in ("acme/OpenHands", "acme/deploy"):
        (pull,) = github.pulls[repo]
        assert pull["draft"] is True
        assert [label["name"] for label in pull["labels"]] == ["dependencies", "agent-server"]
        assert [r["login"] for r in pull["requested_reviewers"]] == ["alice"]
        assert [t["slug"] for t in pull["requested_teams"]] == ["release"]
        assert [a["login"] for a in pull["assignees"]] == ["bob"]
    writes = len(github.writes())

    again, _, err = cut(capsys, images, hub_world)

    assert again == 0, err
    assert len(github.writes()) == writes, "a re-run dresses nothing again"
