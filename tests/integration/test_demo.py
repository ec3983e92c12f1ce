"""`pinbot demo`: the newcomer's first command runs the whole pipeline on a local world."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testing.cli import pinbot


def test_demo_runs_scan_cut_gate_probe_and_says_where_to_look(capsys, tmp_path: Path) -> None:
    code, out, err = pinbot(*["demo", "--workdir", str(tmp_path / "demo")])

    assert code == 0, err
    assert out.startswith("pinbot demo: success")
    for step in ("step 1/4 scan", "step 2/4 cut", "step 3/4 gate", "step 4/4 probe"):
        assert step in err
    assert "  scan   1.29.0-python is the newest tag carrying the blob routes" in out
    assert "1.29.2-python   fail  provenance: attestation names another commit: " in err
    assert "1.29.1-python   held  hold: 1.29.1-python is held: its pin " in err
    assert "gate   pass" in out and "probe  native" in out
    assert "WARNING" not in err, "expected retries are not the user's business"
    assert "(cached verdict)" in err and str(tmp_path / "demo" / "software-agent-sdk") in err
    assert (tmp_path / "demo" / "cache").is_dir(), "the demo keeps its verdicts in its world"
    cache = tmp_path / "pinbot-cache"  # only a run's record (pinbot.cleanup), gone at its end
    assert [p for p in cache.rglob("*") if p.is_file()] == [], "and never touches the user's cache"
    report = json.loads((tmp_path / "demo" / "probe-report.json").read_text())
    assert [a["verdict"] for a in report["agents"]] == ["native", "native"]
    # What the summary tells the user to look at is really there.
    commit = out.split("openhands.git show ")[1].split()[0]
    shown = subprocess.run(
        ["git", "-C", str(tmp_path / "demo/remotes/openhands.git"), "show", commit],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "+AGENT_SERVER_IMAGE = 'ghcr.io/openhands/agent-server:1.29.0-python'" in shown
    assert "Pinbot-Digest: sha256:" in shown


def test_demo_falls_back_to_an_oci_layout_without_a_registry(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pinbot.demo.world.registry_binary", lambda: None)
    code, out, err = pinbot(*["--json", "demo", "--workdir", str(tmp_path / "demo")])

    assert code == 0, err
    summary = json.loads(out)
    assert summary["selected"]["tag"] == "1.29.0-python"
    assert (summary["gate"], summary["probe"]) == ("pass", "native")
    assert (tmp_path / "demo" / "agent-server.oci" / "index.json").is_file()
    assert "--registry-url oci:" in err


def test_a_step_that_finds_nothing_ends_the_demo_with_its_exit_code_1(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinbot.demo.builds import Build

    monkeypatch.setattr("pinbot.demo.world.demo_builds", lambda: [Build(version="1.29.0")])
    code, _, err = pinbot(*["demo", "--workdir", str(tmp_path / "demo")])

    assert code == 1, err
    assert "demo step 1/4 scan exited 1" in err
    assert "step 2/4" not in err, "nothing is cut on a scan that found nothing"


def test_a_step_whose_target_fails_ends_the_demo_with_its_exit_code_3(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pinbot.demo.world.server_command", lambda sha: "false {port} {workdir}")
    code, _, err = pinbot(*["demo", "--workdir", str(tmp_path / "demo")])

    assert code == 3, err
    assert "demo step 4/4 probe exited 3" in err
