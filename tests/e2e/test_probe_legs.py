"""Upgrade and rollback legs against the stand-in agent server, in two versions.

The conversation is born on the from side (`--from-server-command`, the pin today), moved to
the candidate on the same storage, and with `--rollback` moved back, beside a second one born
on the candidate. Every leg is asked, and its versions are what each server reports.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pinbot.net import free_port
from testing import world
from tests.e2e import test_probe

# The stand-in probes' fixtures: each run's processes tagged and checked, pinbot run as a CLI.
run_tag, probe = test_probe.run_tag, test_probe.probe

LEG_KEYS = {
    "from",
    "to",
    "verdict",
    "restarted",
    "acp_session_id_before",
    "acp_session_id_after",
    "marker_found",
    "codeword_recalled",
    "server_version_before",
    "server_version_after",
}


def moves(agent: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    return [
        (leg["from"], leg["to"], leg["server_version_before"], leg["server_version_after"],
         leg["verdict"])
        for leg in agent["legs"]
    ]  # fmt: skip


def test_an_upgrade_and_its_rollback_are_three_native_legs_per_agent(probe: Any) -> None:
    run = probe(
        "--target", "agent-server", "--server-command", world.server_command("1.58.2"),
        "--from-server-command", world.server_command("1.50.1"), "--rollback",
        "--agents", "claude-code,codex", "--timeout", "20",
    )  # fmt: skip
    assert (run.code, run.data["verdict"]) == (0, "native"), run.err
    for name in ("claude-code", "codex"):
        agent = run.agent(name)
        assert agent["verdict"] == "native"
        assert moves(agent) == [
            ("from", "candidate", "1.50.1", "1.58.2", "native"),
            ("candidate", "from", "1.58.2", "1.50.1", "native"),
            ("candidate", "from", "1.58.2", "1.50.1", "native"),
        ]
        first, back, born = agent["legs"]
        assert set(first) >= LEG_KEYS
        assert all(leg["restarted"] and leg["codeword_recalled"] for leg in agent["legs"])
        assert first["acp_session_id_after"] == back["acp_session_id_before"]
        assert born["conversation_id"] != first["conversation_id"]


def test_an_upgrade_that_changes_no_version_is_an_error_never_native(probe: Any) -> None:
    run = probe(
        "--target", "agent-server", "--server-command", world.server_command("1.58.2"),
        "--from-server-command", world.server_command("1.58.2"),
        "--agents", "codex", "--timeout", "20",
    )  # fmt: skip
    assert (run.code, run.data["verdict"]) == (3, "error"), run.err
    (leg,) = run.agent("codex")["legs"]
    assert leg["restarted"] and leg["codeword_recalled"]
    assert (
        leg["error"]
        == "the upgrade changed nothing: the server reports version 1.58.2 on both sides"
    )


def test_a_rollback_onto_a_server_that_cannot_load_is_lost_on_the_way_back(
    probe: Any,
) -> None:
    old = "env HARNESS_AGENT_MODE=forget " + world.server_command("1.43.1")
    run = probe(
        "--target", "agent-server", "--server-command", world.server_command("1.58.2"),
        "--from-server-command", old, "--rollback", "--agents", "codex", "--timeout", "20",
    )  # fmt: skip
    assert (run.code, run.data["verdict"]) == (1, "lost"), run.err
    assert [leg["verdict"] for leg in run.agent("codex")["legs"]] == ["native", "lost", "lost"]


def test_a_shared_server_is_recycled_once_for_both_agents(tmp_path: Path, probe: Any) -> None:
    workdir, calls = tmp_path / "server", tmp_path / "recycles"
    workdir.mkdir()
    port = free_port()
    recycle = (
        f"sh -c 'echo x >> {calls}; exec {sys.executable} -m testing.world {workdir} {{port}}'"
    )
    with world.agent_server(workdir, port):
        run = probe(
            "--target", "agent-server", "--agent-server-url", f"http://127.0.0.1:{port}",
            "--recycle-command", recycle, "--acp-command", world.acp_command("custom"),
            "--agents", "claude-code,codex", "--timeout", "20",
        )  # fmt: skip
    assert (run.code, run.data["verdict"]) == (0, "native"), run.err
    assert calls.read_text().split() == ["x"], "one recycle moved both agents"
    assert all(a["restarted"] for a in run.data["agents"])


def test_rollback_without_a_from_side_is_bad_usage(probe: Any) -> None:
    run = probe("--target", "agent-server", "--server-command", "x --port {port}", "--rollback")
    assert run.code == 2
    assert "--from-server-command" in run.err


def test_a_from_flag_of_another_target_is_bad_usage(probe: Any) -> None:
    run = probe(
        "--target", "agent-server", "--server-command", "x", "--from-image", "localhost:5000/a:1"
    )
    assert run.code == 2
    assert "--from-image goes with --image" in run.err
