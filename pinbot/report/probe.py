"""What `pinbot probe` shows: one row per leg of each agent (a conversation moved from one
server to another, or recycled onto the same one), as text and as a step-summary table."""

from __future__ import annotations

from typing import Any

from pinbot import output
from pinbot.probe.legs import rollback_losses
from pinbot.report import markdown_table, table

HEADERS = (
    "agent",
    "verdict",
    "move",
    "session before",
    "session after",
    "marker",
    "recalled",
    "restarted",
    "s",
    "detail",
)
LEG_HEADERS = ("agent", "leg", "from", "to", "verdict", "session kept", "recalled", "restarted")


def _yes(value: object) -> str:
    return "yes" if value else "no"


def move(leg: dict[str, Any]) -> str:
    """`from 1.50.1 → candidate 1.58.2`; a leg that stays on one side shows it once."""
    before = f"{leg.get('from', '-')} {leg.get('server_version_before') or '?'}"
    after = f"{leg.get('to', '-')} {leg.get('server_version_after') or '?'}"
    return before if before == after else f"{before} → {after}"


def _rows(data: dict[str, Any]) -> list[list[object]]:
    return [
        [
            a["agent"],
            leg["verdict"],
            move(leg) if "from" in leg else "-",
            leg["acp_session_id_before"] or "-",
            leg["acp_session_id_after"] or "-",
            _yes(leg["marker_found"]),
            _yes(leg["codeword_recalled"]),
            _yes(leg["restarted"]),
            a["seconds"],
            f"{leg['step']}: {leg['error']}" if leg["error"] else leg["detail"],
        ]
        for a in data["agents"]
        for leg in (a.get("legs") or [a])
    ]


def leg_rows(data: dict[str, Any]) -> list[list[object]]:
    """The leg table of a pin PR: what each move did to each agent's conversation."""
    rows: list[list[object]] = []
    for agent in data.get("agents") or []:
        for number, leg in enumerate(agent.get("legs") or [], 1):
            kept = leg.get("acp_session_id_before") == leg.get("acp_session_id_after")
            rows.append(
                [
                    agent.get("agent"),
                    number,
                    f"{leg.get('from')} {leg.get('server_version_before') or '?'}",
                    f"{leg.get('to')} {leg.get('server_version_after') or '?'}",
                    leg.get("verdict"),
                    _yes(kept and leg.get("acp_session_id_before")),
                    _yes(leg.get("codeword_recalled")),
                    _yes(leg.get("restarted")),
                ]
            )
    return rows


def render_text(data: dict[str, Any]) -> str:
    identity = f" (build {data['build_git_sha']})" if data["build_git_sha"] else ""
    return f"{table(HEADERS, _rows(data))}\n\nverdict: {data['verdict']}{identity}"


def render_markdown(data: dict[str, Any]) -> str:
    lines = [f"### pinbot probe: {data['verdict']}", ""]
    if data.get("from_image"):
        lines.append(
            f"From image `{data['from_image']['ref']}` at `{data['from_image']['digest']}`"
        )
    if data["image"]:
        lines.append(f"Image `{data['image']['ref']}` at `{data['image']['digest']}`")
    if data["build_git_sha"]:
        lines.append(f"Agent server build `{data['build_git_sha']}`")
    return "\n".join([*lines, "", markdown_table(HEADERS, _rows(data))])


def probe_notes(report: dict[str, Any]) -> list[str]:
    """A pin PR's probe part: the leg table (every cell escaped) and, when a revert of this pin
    would lose conversations, a warning that says whose (a warning, not a block: the gate's
    --require-rollback-safe blocks)."""
    verdict = output.markdown(str(report.get("verdict")))
    lines = ["", f"#### Upgrade and rollback probe: {verdict}", ""]
    lines.append(markdown_table(LEG_HEADERS, leg_rows(report)).rstrip("\n"))
    losses = rollback_losses(report)
    if losses:
        agents = sorted({loss.split(":", 1)[0] for loss in losses})
        named = output.markdown(", ".join(agents))
        lines += ["", "> [!WARNING]", f"> Reverting this pin will cost live {named} conversations:"]
        lines += [f"> - {output.markdown(output.one_line(loss, 200))}" for loss in losses]
    return lines
