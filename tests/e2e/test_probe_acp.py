"""`pinbot probe --target acp`: pinbot is the ACP client itself, over stdio, no server between.

The agent is the test kit's small ACP agent (`testing.acp_agent`), its sessions on disk under
{workdir}; each recycle ends its process group and starts it again.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from tests.e2e import test_probe

# The stand-in probes' fixtures: each run's processes tagged and checked, pinbot run as a CLI.
run_tag, probe = test_probe.run_tag, test_probe.probe


def agent(version: str = "0.1.0", mode: str = "remember") -> str:
    env = f"env HARNESS_AGENT_VERSION={version} HARNESS_AGENT_MODE={mode}"
    return f"{env} {sys.executable} -m testing.acp_agent --name small --store {{workdir}}/store"


@pytest.mark.parametrize(
    ("mode", "verdict", "code", "kept"),
    [
        ("remember", "native", 0, True),
        ("forget", "lost", 1, False),
        ("no-load", "unsupported", 1, False),
    ],
)
def test_an_acp_agent_restarted_resumes_its_session_or_says_why_not(
    probe: Any, mode: str, verdict: str, code: int, kept: bool
) -> None:
    run = probe(
        "--target", "acp", "--agents", "small", "--acp-command", agent(mode=mode), "--timeout", "20"
    )
    assert (run.code, run.data["verdict"]) == (code, verdict), run.err
    (leg,) = run.agent("small")["legs"]
    assert leg["restarted"] is True
    assert (leg["acp_session_id_after"] == leg["acp_session_id_before"]) is kept
    assert leg["codeword_recalled"] is kept
    if mode == "forget":
        assert "session/load failed" in leg["detail"]


def test_an_acp_upgrade_and_rollback_is_three_legs_with_the_agents_versions(probe: Any) -> None:
    run = probe(
        "--target", "acp", "--agents", "small", "--acp-command", agent("1.10.0"),
        "--from-acp-command", agent("1.1.7"), "--rollback", "--timeout", "20",
    )  # fmt: skip
    assert (run.code, run.data["verdict"]) == (0, "native"), run.err
    legs = run.agent("small")["legs"]
    assert [
        (g["from"], g["server_version_before"], g["to"], g["server_version_after"]) for g in legs
    ] == [
        ("from", "1.1.7", "candidate", "1.10.0"),
        ("candidate", "1.10.0", "from", "1.1.7"),
        ("candidate", "1.10.0", "from", "1.1.7"),
    ]
    assert all(g["verdict"] == "native" and g["reopened_with"] == "session/load" for g in legs)


def test_an_acp_agent_that_cannot_start_is_an_error(probe: Any) -> None:
    run = probe(
        "--target",
        "acp",
        "--agents",
        "small",
        "--acp-command",
        "/nonexistent/agent",
        "--timeout",
        "5",
    )
    assert (run.code, run.data["verdict"]) == (3, "error"), run.err
    assert "could not start" in run.data["agents"][0]["error"]


def test_target_acp_without_an_acp_command_is_bad_usage(probe: Any) -> None:
    run = probe("--target", "acp")
    assert run.code == 2
    assert "--acp-command" in run.err
