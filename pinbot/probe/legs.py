"""The legs of a probe (pure): which conversation moves from which side to which, and what a
leg's report says.

A probe without a from side has one leg, the candidate recycled onto itself. With a from side
(`--from-image`, `--from-server-command`, `--from-acp-command`) the conversation is born on the
from side and moved to the candidate: the upgrade a deploy makes. `--rollback` adds what a
revert does: the same conversation goes back to the from side, and a second one, born on the
candidate, goes there too (the conversations a deploy started before it was reverted).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import takewhile
from typing import Any

from pinbot.probe.verdict import Verdict, judge, worst

FROM = "from"
CANDIDATE = "candidate"
NEITHER = "neither"  # an ACP agent that advertises neither session/load nor session/resume
UNCHANGED = "the upgrade changed nothing: the server reports version {version} on both sides"
UNKNOWN_VERSION = "the server's version could not be read on both sides, so no upgrade is proven"
# What a server may report as its version (shown in reports, PR bodies and the terminal).
VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}\Z")


@dataclass(frozen=True)
class LegPlan:
    conversation: int  # 0: born on the first side; 1: born on the candidate (rollback only)
    source: str
    target: str


def leg_plans(has_from: bool, rollback: bool) -> list[LegPlan]:
    if not has_from:
        return [LegPlan(0, CANDIDATE, CANDIDATE)]
    legs = [LegPlan(0, FROM, CANDIDATE)]
    if rollback:
        legs += [LegPlan(0, CANDIDATE, FROM), LegPlan(1, CANDIDATE, FROM)]
    return legs


def next_batch(plans: Sequence[LegPlan]) -> list[LegPlan]:
    """The legs one recycle ends: the next ones that make the same move."""
    move = (plans[0].source, plans[0].target)
    return list(takewhile(lambda p: (p.source, p.target) == move, plans))


@dataclass
class Leg:
    """One move of one conversation, as the report shows it."""

    source: str
    target: str
    verdict: Verdict = "error"
    restarted: bool = False
    acp_session_id_before: str | None = None
    acp_session_id_after: str | None = None
    marker_found: bool = False
    codeword_recalled: bool = False
    server_version_before: str | None = None
    server_version_after: str | None = None
    conversation_id: str | None = None
    reopened_with: str | None = None  # --target acp: session/load, session/resume or neither
    step: str | None = None
    error: str | None = "not reached: an earlier step failed"
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {"from": data.pop("source"), "to": data.pop("target"), **data}

    def judge(self) -> None:
        """The leg's verdict; a move between two sides must show a new version to count."""
        if self.error is None and self.source != self.target:
            self.error = version_change(self.server_version_before, self.server_version_after)
            self.step = "versions" if self.error else None
        self.verdict = judge(
            self.acp_session_id_before,
            self.acp_session_id_after,
            self.marker_found,
            self.codeword_recalled,
            self.error,
            self.restarted,
        )
        if self.verdict != "error" and self.reopened_with == NEITHER:
            self.verdict = "unsupported"


def version_change(before: str | None, after: str | None) -> str | None:
    """Why a move between two sides proves no upgrade, or None when the version moved."""
    if before is None or after is None:
        return UNKNOWN_VERSION
    return UNCHANGED.format(version=before) if before == after else None


def server_version(info: dict[str, Any], named: str | None = None) -> str | None:
    """The version a server reports in `/server_info`, else the one its package/image names."""
    found = info.get("version")
    if isinstance(found, str) and VERSION_RE.match(found) and found != "unknown":
        return found
    return named


# --- what a report's legs say, read back from its JSON (the gate, the cut's PRs) ----------------


def agent_legs(agent: dict[str, Any]) -> list[dict[str, Any]]:
    legs = agent.get("legs")
    return [leg for leg in legs if isinstance(leg, dict)] if isinstance(legs, list) else []


def upgrade_verdict(agent: dict[str, Any]) -> str:
    """The agent's verdict on the way to the candidate (every leg that ends there); a report
    without legs has only its agent's verdict."""
    onto = [str(leg.get("verdict")) for leg in agent_legs(agent) if leg.get("to") == CANDIDATE]
    return worst(onto) if onto else str(agent.get("verdict"))


def rollback_losses(report: dict[str, Any]) -> list[str]:
    """What reverting the pin would cost, per agent and leg: a leg back to the from side that
    is not native ("codex: a conversation born on the candidate 1.58.2 is lost on 1.43.1")."""
    found = []
    for agent in report.get("agents") or []:
        if not isinstance(agent, dict):
            continue
        for index, leg in enumerate(agent_legs(agent)):
            if leg.get("to") == FROM and leg.get("verdict") != "native":
                found.append(_loss(str(agent.get("agent")), index, leg))
    return found


def _loss(agent: str, index: int, leg: dict[str, Any]) -> str:
    which = "a conversation born on the candidate" if index >= 2 else "the upgraded conversation"
    before, after = leg.get("server_version_before"), leg.get("server_version_after")
    return f"{agent}: {which} {before or '?'} is {leg.get('verdict')} on {after or '?'}"
