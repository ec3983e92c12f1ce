"""Release lines: one `pinbot cut` moves the four chart pin spots on three release branches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pinbot.cli import main
from pinbot.config import PinSettings
from pinbot.demo import repos
from pinbot.pins import profiles
from pinbot.pins.state import PinState, read_state
from testing import eras
from testing.cutworld import CAPABLE, IMAGE, Images


@pytest.fixture
def charts(tmp_path: Path) -> eras.ChartRepo:
    return eras.chart_repo(tmp_path / "remotes", "1.26.0-python")


def cut(
    capsys: pytest.CaptureFixture[str], images: Images, charts: eras.ChartRepo
) -> tuple[int, dict[str, Any], str]:
    argv = ["--json", "cut", "--profile", "openhands-cloud-chart", "--tag", CAPABLE]
    argv += ["--openhands", charts.url]
    for branch in charts.branches:
        argv += ["--openhands-branch", branch]
    argv += ["--image", IMAGE, "--registry-url", images.registry, "--sdk", str(images.world.sdk)]
    code = main([*argv, "--push"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}, err


def pins_at(charts: eras.ChartRepo, branch: str) -> PinState:
    specs = profiles.sites(PinSettings(profile="openhands-cloud-chart"), "test")

    def read(path: str) -> bytes:
        return repos.show(charts.remote, branch, path).encode()

    return read_state(specs, read, IMAGE, "python")


def test_one_command_cuts_every_release_line_and_a_rerun_changes_nothing(
    capsys, images, charts
) -> None:
    code, report, err = cut(capsys, images, charts)

    assert code == 0, err
    assert [b["branch"] for b in report["branches"]] == list(charts.branches)
    assert all(b["changed"] for b in report["branches"])
    assert report["deploy"] is None
    for branch in charts.branches:
        pins = pins_at(charts, branch)
        assert len(pins.values) == 5  # four spots, the replicated one with its help text
        assert {f.value for f in pins.values} == {CAPABLE}
        assert pins.disagreements() == []
        files = repos.git(charts.remote, "diff", "--name-only", f"{branch}~1", branch).split()
        assert sorted(files) == sorted(eras.CHART_FILES)
    tips = {b: repos.git(charts.remote, "rev-parse", b) for b in charts.branches}

    again, rerun, err = cut(capsys, images, charts)

    assert again == 0, err
    assert not any(b["changed"] for b in rerun["branches"])
    assert {b: repos.git(charts.remote, "rev-parse", b) for b in charts.branches} == tips


def test_an_older_line_jumps_straight_to_the_target(capsys, images, charts) -> None:
    code, report, err = cut(capsys, images, charts)

    assert code == 0, err
    oldest = next(b for b in report["changes"] if b["branch"] == "release/0.13")
    assert (oldest["old"], oldest["new"]) == ("1.24.0-python", CAPABLE)
    assert repos.git(charts.remote, "rev-list", "--count", "release/0.13~1..release/0.13") == "1"
