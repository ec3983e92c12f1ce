"""What `pinbot gate` shows: the checks as text and as a step-summary table."""

from __future__ import annotations

from typing import Any

from pinbot import output
from pinbot.report import markdown_table, table


def _gate_subject(data: dict[str, Any]) -> str:
    sha = data["openhands_sha"] or "?"
    image = f"{data['image']}:{data['tag']}" if data["image"] else "an unknown image"
    return f"OpenHands {sha} with {image}@{data['digest'] or '?'}"


def gate_verdict_line(data: dict[str, Any]) -> str:
    if data["verdict"] == "pass":
        return f"GATE PASS: deploy may run {_gate_subject(data)}"
    failed = [c["name"] for c in data["checks"] if not c["ok"]]
    return f"GATE BLOCK: do not deploy; {len(failed)} check(s) not passed: {', '.join(failed)}"


def gate_text(data: dict[str, Any], deploy: str) -> str:
    rows = [(c["name"], c["status"].upper(), c["detail"]) for c in data["checks"]]
    return "\n".join(
        [
            f"deploy {deploy} would run {_gate_subject(data)}",
            "",
            table(("CHECK", "RESULT", "DETAIL"), rows),
            "",
            gate_verdict_line(data),
        ]
    )


def gate_markdown(data: dict[str, Any], deploy: str) -> str:
    rows = [
        (c["name"], ("✅ " if c["ok"] else "❌ ") + c["status"], output.markdown(c["detail"]))
        for c in data["checks"]
    ]
    return "\n".join(
        [
            f"### pinbot gate: {data['verdict'].upper()}",
            "",
            f"`{deploy}` would run {_gate_subject(data)}.",
            "",
            markdown_table(("check", "result", "detail"), rows).rstrip("\n"),
            "",
            f"**{gate_verdict_line(data)}**",
        ]
    )
