"""What `pinbot probe` shows: one row per agent, as text and as a step-summary table."""

from __future__ import annotations

from typing import Any

from pinbot.report import markdown_table, table

HEADERS = (
    "agent",
    "verdict",
    "session before",
    "session after",
    "marker",
    "recalled",
    "restarted",
    "s",
    "detail",
)


def _rows(data: dict[str, Any]) -> list[list[object]]:
    return [
        [
            a["agent"],
            a["verdict"],
            a["acp_session_id_before"] or "-",
            a["acp_session_id_after"] or "-",
            "yes" if a["marker_found"] else "no",
            "yes" if a["codeword_recalled"] else "no",
            "yes" if a["restarted"] else "no",
            a["seconds"],
            f"{a['step']}: {a['error']}" if a["error"] else a["detail"],
        ]
        for a in data["agents"]
    ]


def render_text(data: dict[str, Any]) -> str:
    identity = f" (build {data['build_git_sha']})" if data["build_git_sha"] else ""
    return f"{table(HEADERS, _rows(data))}\n\nverdict: {data['verdict']}{identity}"


def render_markdown(data: dict[str, Any]) -> str:
    lines = [f"### pinbot probe: {data['verdict']}", ""]
    if data["image"]:
        lines.append(f"Image `{data['image']['ref']}` at `{data['image']['digest']}`")
    if data["build_git_sha"]:
        lines.append(f"Agent server build `{data['build_git_sha']}`")
    return "\n".join([*lines, "", markdown_table(HEADERS, _rows(data))])
