"""Release lines: one `pinbot cut` moves the four chart pin spots on three release branches,
each through its own `pinbot/…` head branch and (with `--open-prs`) a PR into that branch.

Real git remotes throughout; GitHub's API is the `responses` fake, and git rewrites the GitHub
URL to the local bare repository (`url.<file URL>.insteadOf`), so every push is real."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pinbot.config import PinSettings
from pinbot.demo import repos
from pinbot.pins import profiles
from pinbot.pins.state import PinState, read_state
from testing import eras
from testing.cli import pinbot
from testing.cutworld import CAPABLE, IMAGE, head_branch
from testing.worlds import Images

CLOUD_URL = "https://github.com/acme/OpenHands-Cloud"


@pytest.fixture
def charts(tmp_path: Path) -> eras.ChartRepo:
    return eras.chart_repo(tmp_path / "remotes", "1.26.0-python")


@pytest.fixture
def hub_charts(charts: eras.ChartRepo) -> eras.ChartRepo:
    """The chart repository behind a GitHub URL."""
    config = Path(os.environ["GIT_CONFIG_GLOBAL"])
    config.write_text(f'[url "{charts.url}"]\n\tinsteadOf = {CLOUD_URL}\n')
    return charts


def cut(
    capsys: pytest.CaptureFixture[str],
    images: Images,
    charts: eras.ChartRepo,
    *extra: str,
    url: str | None = None,
) -> tuple[int, dict[str, Any], str]:
    argv = ["--json", "cut", "--profile", "openhands-cloud-chart", "--tag", CAPABLE]
    argv += ["--openhands", url or charts.url]
    for branch in charts.branches:
        argv += ["--openhands-branch", branch]
    argv += ["--image", IMAGE, "--registry-url", images.registry, "--sdk", str(images.world.sdk)]
    code, out, err = pinbot(*argv, *(extra or ("--push",)))
    return code, json.loads(out) if out.strip() else {}, err


def pins_at(charts: eras.ChartRepo, ref: str) -> PinState:
    specs = profiles.sites(PinSettings(profile="openhands-cloud-chart"), "test")

    def read(path: str) -> bytes:
        return repos.show(charts.remote, ref, path).encode()

    return read_state(specs, read, IMAGE, "python")


def tips(charts: eras.ChartRepo) -> str:
    return repos.git(charts.remote, "for-each-ref")


def test_one_command_cuts_every_release_line_and_a_rerun_changes_nothing(
    capsys, images, charts
) -> None:
    before = {b: repos.git(charts.remote, "rev-parse", b) for b in charts.branches}

    code, report, err = cut(capsys, images, charts)

    assert code == 0, err
    assert [b["branch"] for b in report["branches"]] == list(charts.branches)
    assert [b["head"] for b in report["branches"]] == [head_branch(b) for b in charts.branches]
    assert all(b["changed"] for b in report["branches"])
    assert report["deploy"] is None
    for entry in report["branches"]:
        branch, head = entry["branch"], entry["head"]
        assert repos.git(charts.remote, "rev-parse", head) == entry["commit"]
        assert repos.git(charts.remote, "rev-parse", f"{head}~1") == before[branch]
        pins = pins_at(charts, head)
        assert len(pins.values) == 5  # four spots, the replicated one with its help text
        assert {f.value for f in pins.values} == {CAPABLE}
        assert pins.disagreements() == []
        files = repos.git(charts.remote, "diff", "--name-only", f"{head}~1", head).split()
        assert sorted(files) == sorted(eras.CHART_FILES)
    # the release branches themselves are only ever changed by their PRs
    assert {b: repos.git(charts.remote, "rev-parse", b) for b in charts.branches} == before
    refs = tips(charts)

    again, rerun, err = cut(capsys, images, charts)

    assert again == 0, err
    assert not any(b["changed"] for b in rerun["branches"])
    assert [b["commit"] for b in rerun["branches"]] == [b["commit"] for b in report["branches"]]
    assert tips(charts) == refs


def test_an_older_line_jumps_straight_to_the_target(capsys, images, charts) -> None:
    code, report, err = cut(capsys, images, charts)

    assert code == 0, err
    oldest = next(b for b in report["changes"] if b["branch"] == "release/0.13")
    assert (oldest["old"], oldest["new"]) == ("1.24.0-python", CAPABLE)
    count = repos.git(
        charts.remote, "rev-list", "--count", f"release/0.13..{head_branch('release/0.13')}"
    )
    assert count == "1"


def test_three_release_lines_get_three_prs_and_a_rerun_opens_none(
    capsys, images, hub_charts, github
) -> None:
    code, report, err = cut(capsys, images, hub_charts, "--open-prs", url=CLOUD_URL)

    assert code == 0, err
    heads = [head_branch(b) for b in hub_charts.branches]
    pulls = github.pulls["acme/OpenHands-Cloud"]
    assert [(p["head"]["ref"], p["base"]["ref"]) for p in pulls] == list(
        zip(heads, hub_charts.branches, strict=True)
    )
    assert [b["pr"] for b in report["branches"]] == [p["html_url"] for p in pulls]
    assert report["openhands"]["pr"] == pulls[0]["html_url"]
    assert github.writes() == [("POST", "/repos/acme/OpenHands-Cloud/pulls")] * 3
    for entry, pull in zip(report["branches"], pulls, strict=True):
        assert pull["title"] == f"Pin agent-server {CAPABLE} on {entry['branch']}"
        assert f"`{entry['commit']}` for `{entry['branch']}`" in pull["body"]
    refs = tips(hub_charts)
    github.calls.clear()

    again, rerun, err = cut(capsys, images, hub_charts, "--open-prs", url=CLOUD_URL)

    assert again == 0, err
    assert github.writes() == []
    assert len(github.pulls["acme/OpenHands-Cloud"]) == 3
    assert [b["pr"] for b in rerun["branches"]] == [b["pr"] for b in report["branches"]]
    assert not any(b["changed"] for b in rerun["branches"])
    assert tips(hub_charts) == refs


def test_a_human_commit_on_a_head_branch_stops_the_cut(capsys, images, charts, tmp_path) -> None:
    code, _, err = cut(capsys, images, charts)
    assert code == 0, err
    head = head_branch("release/0.14")
    work = tmp_path / "human"
    repos.git(tmp_path, "clone", "-q", "-b", head, charts.url, str(work))
    (work / "NOTES.md").write_text("reviewed\n")
    repos.git(work, "add", "NOTES.md")
    repos.git(work, "commit", "-q", "-m", "Reviewer's note")
    repos.git(work, "push", "-q", "origin", head)
    refs = tips(charts)

    code, _, err = cut(capsys, images, charts)

    assert code == 2
    assert f"{head} in {charts.url}: its tip " in err and "pinbot will not build on it" in err
    assert "Reviewer's note" in err
    assert tips(charts) == refs


def test_a_merged_line_needs_nothing_more(capsys, images, charts) -> None:
    code, report, err = cut(capsys, images, charts)
    assert code == 0, err
    pinned = next(b for b in report["branches"] if b["branch"] == "release/0.13")
    repos.git(charts.remote, "update-ref", "refs/heads/release/0.13", pinned["commit"])

    code, rerun, err = cut(capsys, images, charts)

    assert code == 0, err
    merged = next(b for b in rerun["branches"] if b["branch"] == "release/0.13")
    assert merged["head"] is None and not merged["changed"]
    assert merged["commit"] == pinned["commit"]
