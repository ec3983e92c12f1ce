"""What the probe concludes from what it saw. Pure functions: no I/O.

Facts (DESIGN.md §1): a turn is over when the conversation's `execution_status` is terminal *and*
the count of finish actions or error events has grown since the message was sent (the status
alone can still show the previous turn). Native resume = same ACP session id, no
`<<RESUMED CONVERSATION>>` marker anywhere, and the codeword comes back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

MARKER = "<<RESUMED CONVERSATION>>"
TERMINAL = ("finished", "error", "stuck")
Verdict = Literal["error", "lost", "bootstrap", "native"]
ORDER: tuple[Verdict, ...] = ("error", "lost", "bootstrap", "native")  # worst first


@dataclass(frozen=True)
class Turn:
    """How a turn ended: the agent's reply, or the error the server recorded."""

    reply: str | None
    error: str | None


def judge(
    session_before: str | None,
    session_after: str | None,
    marker_found: bool,
    codeword_recalled: bool,
    error: str | None = None,
) -> Verdict:
    if error is not None:
        return "error"
    if not codeword_recalled:
        return "lost"
    if marker_found or session_before != session_after:
        return "bootstrap"
    return "native"


def worst(verdicts: Iterable[str]) -> Verdict:
    """The worst verdict of all agents; `error` when there are none (nothing was proved)."""
    seen = set(verdicts)
    found: Verdict = next((v for v in ORDER if v in seen), "error")
    return found


def is_outcome(event: dict[str, Any]) -> bool:
    """A finish action or an error event: what ends a turn."""
    return is_finish(event) or event.get("kind") == "ConversationErrorEvent"


def is_finish(event: dict[str, Any]) -> bool:
    return event.get("kind") == "ActionEvent" and event.get("tool_name") == "finish"


def outcomes(events: Sequence[dict[str, Any]]) -> int:
    return sum(1 for event in events if is_outcome(event))


def turn_over(conversation: dict[str, Any], outcomes_before: int, outcomes_now: int) -> bool:
    """The turn-completion rule, with the prompt-id cross-check when the server reports both."""
    if conversation.get("execution_status") not in TERMINAL or outcomes_now <= outcomes_before:
        return False
    state = conversation.get("agent_state") or {}
    prompted = state.get("acp_last_prompt_user_message_id")
    last = conversation.get("last_user_message_id")
    finished = conversation.get("execution_status") == "finished"
    return not (finished and prompted and last and prompted != last)


def turn_result(events: Sequence[dict[str, Any]], outcomes_before: int) -> Turn:
    """The newest outcome after the first `outcomes_before` ones."""
    fresh = [event for event in events if is_outcome(event)][outcomes_before:]
    if not fresh:
        return Turn(None, "the turn ended without a finish action or an error event")
    last = fresh[-1]
    if is_finish(last):
        return Turn(str((last.get("action") or {}).get("message") or ""), None)
    return Turn(None, str(last.get("detail") or last.get("code") or "ConversationErrorEvent"))


def marker_in(events: Iterable[dict[str, Any]]) -> bool:
    """Whether any event (a prompt, a message, anything it carries) holds the marker."""
    return any(MARKER in json.dumps(event) for event in events)


def recalled(reply: str | None, codeword: str) -> bool:
    return reply is not None and codeword.lower() in reply.lower()
