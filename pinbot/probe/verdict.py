"""What the probe concludes from what it saw. Pure functions: no I/O.

Facts (docs/guides/probe.md): a turn is over when the conversation's `execution_status` is
terminal *and* the count of finish actions or error events has grown since the message was sent
(the status alone can still show the previous turn). Native resume = same ACP session id, no
`<<RESUMED CONVERSATION>>` marker anywhere, and the codeword comes back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

MARKER = "<<RESUMED CONVERSATION>>"
TERMINAL = ("finished", "error", "stuck")
Verdict = Literal["error", "unsupported", "lost", "bootstrap", "native"]
# worst first; `unsupported`: an ACP agent that offers neither session/load nor session/resume
ORDER: tuple[Verdict, ...] = ("error", "unsupported", "lost", "bootstrap", "native")
NO_RESTART = "the recycle restarted nothing; this proves nothing"
UNKNOWN_RESTART = "the agent server's identity could not be read, so no restart is proven"
UNSTEADY = (
    "the agent server's identity changed with no recycle (its /server_info uptime does not "
    "advance with time), so it cannot prove a restart"
)
UPTIME_PREFIX = "started between "


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
    restarted: bool = False,
) -> Verdict:
    if error is not None or not restarted:
        return "error"  # never a verdict about resume unless the recycle restarted the server
    if not codeword_recalled:
        return "lost"
    if marker_found or session_before != session_after:
        return "bootstrap"
    return "native"


def uptime_identity(server_info: dict[str, Any], sent: float, received: float) -> str | None:
    """An agent server's identity from a `/server_info` uptime read between `sent` and `received`.

    The server started between `sent - uptime` and `received - uptime`, widened by a second when
    the uptime is whole seconds (1.58 truncates it). The interval always holds the real start,
    so two reads of one server always overlap, whatever the network did.
    """
    uptime = server_info.get("uptime")
    if not isinstance(uptime, int | float) or isinstance(uptime, bool):
        return None
    rounding = 1.0 if float(uptime).is_integer() else 0.0
    return f"{UPTIME_PREFIX}{sent - uptime - rounding:.3f} and {received - uptime:.3f}"


def restarted(before: str | None, after: str | None) -> bool:
    """Whether two identities (see `Home.identity`) name two different server processes.

    Identities are compared as strings, except uptime-derived ones: those name a restart only
    when the later server surely started after the earlier one did.
    """
    if before is None or after is None:
        return False
    first, then = _started(before), _started(after)
    if first is not None and then is not None:
        return then[0] > first[1]
    return before != after


def _started(identity: str) -> tuple[float, float] | None:
    low, sep, high = identity.removeprefix(UPTIME_PREFIX).partition(" and ")
    if not identity.startswith(UPTIME_PREFIX) or not sep:
        return None
    try:
        return float(low), float(high)
    except ValueError:
        return None


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
