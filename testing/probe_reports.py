"""`pinbot probe --json` reports as the probe writes them, for the gate's and the cut's tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pinbot.commands.probe import Plan, report_json
from pinbot.probe.legs import FROM, Leg, leg_plans
from pinbot.probe.run import AgentReport


def rollback_report(
    path: Path, digest: str, agents: Sequence[str] = ("claude-code", "codex"), losing: str = "codex"
) -> str:
    """An upgrade probe with --rollback of `digest` (1.43.1 -> 1.58.2): native onto the
    candidate, and `losing`'s conversation born on the candidate lost on the way back."""
    plan = Plan("agent-server", list(agents), 60.0, leg_plans(True, True))
    plan.image = {"ref": f"img@{digest}", "digest": digest}
    reports = []
    for name in agents:
        report = AgentReport(name)
        report.legs = [Leg(p.source, p.target, restarted=True, error=None) for p in plan.legs]
        for index, leg in enumerate(report.legs):
            leg.acp_session_id_before = leg.acp_session_id_after = "s1"
            leg.codeword_recalled = not (name == losing and index == 2)
            leg.server_version_before = "1.43.1" if leg.source == FROM else "1.58.2"
            leg.server_version_after = "1.43.1" if leg.target == FROM else "1.58.2"
        report.settle()
        reports.append(report)
    verdict = "lost" if losing in agents else "native"
    path.write_text(json.dumps(report_json(plan, reports, verdict)))
    return str(path)
