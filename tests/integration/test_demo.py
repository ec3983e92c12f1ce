"""`pinbot demo`: the newcomer's first command runs the whole pipeline on a local world."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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
    assert (
        "1.29.1-python   held  hold: 1.29.1-python is held: acp-native-resume moved its pin" in err
    )
    assert "gate   pass" in out and "probe  native" in out
    assert "WARNING" not in err, "expected retries are not the user's business"
    assert "(cached verdict)" in err and str(tmp_path / "demo" / "software-agent-sdk") in err
    assert (tmp_path / "demo" / "cache").is_dir(), "the demo keeps its verdicts in its world"
    cache = tmp_path / "pinbot-cache"  # only a run's record (pinbot.cleanup), gone at its end
    assert [p for p in cache.rglob("*") if p.is_file()] == [], "and never touches the user's cache"
    report = json.loads((tmp_path / "demo" / "probe-report.json").read_text())
    assert [a["verdict"] for a in report["agents"]] == ["native", "native"]
    # the move the pin makes, and its rollback, as the pin PR shows it (cut --probe-report)
    assert "| codex | 1 | from 1.26.0 | candidate 1.29.0 | native |" in err
    assert "| codex | 3 | candidate 1.29.0 | from 1.26.0 | native |" in err
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
    assert "--registry-url=oci:" in err  # the step line is options.argv of what runs


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
    monkeypatch.setattr(
        "pinbot.demo.world.server_command", lambda sha, tag="": "false {port} {workdir}"
    )
    code, _, err = pinbot(*["demo", "--workdir", str(tmp_path / "demo")])

    assert code == 3, err
    assert "demo step 4/4 probe exited 3" in err


# --- re-runnable and clean ------------------------------------------------------------------


def refs(remote: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(remote), "for-each-ref"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR of its own, for pinbot in-process and every process it starts."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    return tmp


def test_the_same_workdir_twice_is_success_and_the_second_run_adds_nothing(
    capsys, tmp_path: Path, tmpdir_env: Path
) -> None:
    workdir = tmp_path / "demo"
    first = pinbot("--json", "demo", "--workdir", str(workdir))
    assert first.code == 0, first.err
    remotes = workdir / "remotes"
    before = refs(remotes / "openhands.git"), refs(remotes / "deploy.git")

    again = pinbot("--json", "demo", "--workdir", str(workdir))

    assert again.code == 0, again.err
    assert "reusing the local world" in again.err and "building a local world" not in again.err
    assert again.data["openhands_commit"] == first.data["openhands_commit"]
    assert (refs(remotes / "openhands.git"), refs(remotes / "deploy.git")) == before
    assert list(tmpdir_env.iterdir()) == [], "nothing is left in TMPDIR"


def interrupted(argv: list[str], marker: str) -> tuple[int, str]:
    """Run the demo as a terminal would, Ctrl-C (SIGINT to its group) when `marker` shows."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pinbot", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            os.killpg(proc.pid, signal.SIGINT)
            break
    _, rest = proc.communicate(timeout=60)
    return proc.returncode, "".join(seen) + rest


@pytest.mark.parametrize(
    "marker", ["building a local world", "step 2/4 cut", "step 4/4 probe"]
)  # fmt: skip
def test_a_demo_stopped_by_ctrl_c_ends_in_success_when_run_again(
    capsys, tmp_path: Path, tmpdir_env: Path, marker: str
) -> None:
    workdir = tmp_path / "demo"
    code, err = interrupted(["demo", "--workdir", str(workdir)], marker)
    assert code == 130, err
    assert list(tmpdir_env.iterdir()) == [], "an interrupted demo leaves nothing in TMPDIR"

    again = pinbot("--json", "demo", "--workdir", str(workdir))

    assert again.code == 0, again.err
    assert (again.data["gate"], again.data["probe"]) == ("pass", "native")
    log = subprocess.run(
        ["git", "-C", str(workdir / "remotes/openhands.git"), "log", "--format=%s",
         again.data["openhands_commit"]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert log.count("Pin agent-server 1.29.0-python") == 1, "one pin commit, not two"


def test_without_workdir_the_demo_leaves_nothing_behind(capsys, tmpdir_env: Path) -> None:
    run = pinbot("demo")

    assert run.code == 0, run.err
    assert list(tmpdir_env.iterdir()) == [], "the temporary world is gone"
    assert "run `pinbot demo --workdir DIR` (or --keep)" in run.out
    assert "Where to look" not in run.out


def test_without_workdir_ctrl_c_leaves_nothing_behind(capsys, tmpdir_env: Path) -> None:
    code, err = interrupted(["demo"], "step 2/4 cut")

    assert code == 130, err
    assert list(tmpdir_env.iterdir()) == []


def test_keep_keeps_the_temporary_world_and_says_where_to_look(capsys, tmpdir_env: Path) -> None:
    run = pinbot("--json", "demo", "--keep")

    assert run.code == 0, run.err
    kept = Path(run.data["workdir"])
    assert kept.parent == tmpdir_env and (kept / "remotes" / "openhands.git").is_dir()
    assert run.data["kept"] is True


def test_a_workdir_the_demo_did_not_make_is_refused_with_exit_2(capsys, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes\n")

    code, _, err = pinbot("demo", "--workdir", str(mine))

    assert code == 2, err
    assert f"--workdir {mine}: the directory is not empty" in err
    assert (mine / "notes.txt").read_text() == "my notes\n" and len(list(mine.iterdir())) == 1


def test_scripts_dev_demo_starts_no_service_and_leaves_no_process(
    capsys, tmp_path: Path, tmpdir_env: Path
) -> None:
    """The registry on :5000 and dockerd are the tests' services: the demo starts its own registry
    on a free port and stops it. `PINBOT_RUN_DIR` is where scripts/dev keeps its services."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PINBOT_RUN_DIR": str(tmp_path / "services"),
           "PINBOT_VENV": str(Path(sys.executable).parents[1])}  # fmt: skip
    workdir = tmp_path / "demo"

    done = subprocess.run(
        [str(root / "scripts" / "dev"), "demo", "--workdir", str(workdir)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "pinbot demo: success" in done.stdout
    assert not (tmp_path / "services").exists(), "no service of scripts/dev was started"
    assert "dockerd" not in done.stderr and "5000" not in done.stderr
    left = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True).stdout
    assert left == "", "the demo's registry and servers are gone"
    assert list(tmpdir_env.iterdir()) == []


def test_serve_keeps_the_world_up_for_the_users_own_commands_until_ctrl_c(
    capsys, tmp_path: Path, tmpdir_env: Path
) -> None:
    """The getting-started path: a dry-run pin plan of one's own against the demo world."""
    workdir = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pinbot", "demo", "--workdir", str(workdir), "--serve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    exports = {}
    for line in proc.stderr:
        if line.startswith("pinbot:   export "):
            name, _, value = line.removeprefix("pinbot:   export ").strip().partition("=")
            exports[name] = value
        if "Ctrl-C stops it" in line:
            break
    try:
        env = {**os.environ, **exports}
        oh, deploy = workdir / "remotes" / "openhands.git", workdir / "remotes" / "deploy.git"
        plan = subprocess.run(
            [sys.executable, "-m", "pinbot", "--json", "cut", "--latest", "--openhands",
             oh.as_uri(), "--openhands-branch", "acp-native-resume", "--deploy",
             deploy.as_uri(), "--dry-run"],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert plan.returncode == 0, plan.stderr
        planned = json.loads(plan.stdout)
        assert planned["dry_run"] is True and planned["changes"]
        # the source detector alone takes 1.29.2 (the demo's provenance detector refuses it)
        assert planned["tag"] == "1.29.2-python"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)

    assert proc.returncode == 130
    left = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True).stdout
    assert left == "", "the world's registry stopped with it"
