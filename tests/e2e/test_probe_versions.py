"""The move a pin makes, proved with the released packages: a conversation born on the pin
today goes to the candidate, and with --rollback back again beside one born on the candidate.

Real `openhands-agent-server` 1.43.1, 1.50.1 and 1.58.2 and the adapters each pins (codex-acp
1.1.7 for 1.43.1, claude-agent-acp 0.63.0 and codex-acp 1.10.0 for the other two), installed by
`scripts/dev setup`, talking to the test kit's fake model in a network namespace with loopback
only (`unshare -n`). Each case shares its server start-ups between its agents: one start per
side, three for a rollback. The tables asserted here are the ones README's probe section shows.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from testing.services import missing_service
from testing.vendor_agents import older_adapters, older_server
from tests.e2e.test_probe_vendor_agents import (  # real_parts: autouse, fails in CI if missing
    RIG_DEADLINE,
    probe_in_namespace,
    real_parts,  # noqa: F401
)

pytestmark = pytest.mark.timeout(RIG_DEADLINE + 60)
ROLLBACK = ["--rollback", "--timeout", "240"]


@pytest.fixture(autouse=True)
def older_parts() -> None:
    wanted = [
        older_server("agent-server-1.50.1"),
        older_server("agent-server-1.43.1"),
        older_adapters("codex-acp-1.1.7") / "codex-acp",
    ]
    missing = [str(path) for path in wanted if not path.exists()]
    if missing:
        missing_service(f"the older agent servers and codex-acp 1.1.7 ({', '.join(missing)})")


def legs(result: dict[str, Any], agent: str) -> list[tuple[str, str, str]]:
    """Each leg as `from version`, `to version`, verdict."""
    found = next(a for a in result["data"]["agents"] if a["agent"] == agent)
    return [
        (
            f"{leg['from']} {leg['server_version_before']}",
            f"{leg['to']} {leg['server_version_after']}",
            leg["verdict"],
        )
        for leg in found["legs"]
    ]


def upgrade_and_back(old: str, new: str, last: str = "native") -> list[tuple[str, str, str]]:
    return [
        (f"from {old}", f"candidate {new}", "native"),
        (f"candidate {new}", f"from {old}", "native"),
        (f"candidate {new}", f"from {old}", last),
    ]


def test_claude_and_codex_move_from_1_50_1_to_1_58_2_and_back_natively(tmp_path: Path) -> None:
    result = probe_in_namespace(
        tmp_path, "server-command", "--agents", "claude-code,codex",
        "--from-server", "agent-server-1.50.1", *ROLLBACK,
    )  # fmt: skip
    assert (result["code"], result["data"].get("verdict")) == (0, "native"), result["stderr"]
    for agent in ("claude-code", "codex"):
        assert legs(result, agent) == upgrade_and_back("1.50.1", "1.58.2")


def test_the_small_agent_moves_from_1_50_1_to_1_58_2_and_back_natively(tmp_path: Path) -> None:
    small = f"{sys.executable} -m testing.acp_agent --name small --store {{workdir}}/small-store"
    result = probe_in_namespace(
        tmp_path, "server-command", "--agents", "small", "--acp-command", small,
        "--from-server", "agent-server-1.50.1", *ROLLBACK,
    )  # fmt: skip
    assert (result["code"], result["data"].get("verdict")) == (0, "native"), result["stderr"]
    assert legs(result, "small") == upgrade_and_back("1.50.1", "1.58.2")


def test_a_codex_conversation_born_on_1_58_2_is_lost_when_the_pin_goes_back_to_1_43_1(
    tmp_path: Path,
) -> None:
    result = probe_in_namespace(
        tmp_path, "server-command", "--agents", "codex", "--from-server", "agent-server-1.43.1",
        "--from-adapters", "codex-acp-1.1.7", *ROLLBACK,
    )  # fmt: skip
    assert (result["code"], result["data"].get("verdict")) == (1, "lost"), result["stderr"]
    assert legs(result, "codex") == upgrade_and_back("1.43.1", "1.58.2", last="lost")


def test_codex_acp_1_10_0_resumes_its_own_session_directly(tmp_path: Path) -> None:
    result = probe_in_namespace(tmp_path, "acp", "--agents", "codex", "--timeout", "240")
    assert (result["code"], result["data"].get("verdict")) == (0, "native"), result["stderr"]
    ((source, target, verdict),) = legs(result, "codex")
    assert (source, target, verdict) == ("candidate 1.10.0", "candidate 1.10.0", "native")


def test_codex_acp_1_1_7_cannot_load_a_session_1_10_0_created(tmp_path: Path) -> None:
    result = probe_in_namespace(
        tmp_path, "acp", "--agents", "codex", "--from-adapters", "codex-acp-1.1.7", *ROLLBACK
    )
    assert (result["code"], result["data"].get("verdict")) == (1, "lost"), result["stderr"]
    assert legs(result, "codex") == upgrade_and_back("1.1.7", "1.10.0", last="lost")
    born = result["data"]["agents"][0]["legs"][2]
    assert born["reopened_with"] == "session/load"
    assert "session/load failed" in born["detail"]
    assert "-32603" in born["detail"]
