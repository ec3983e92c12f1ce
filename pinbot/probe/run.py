"""One probe per agent: plant a codeword, recycle, ask for it back, judge.

No verdict without a proven recycle: the agent server's identity (`Home.identity`) is read
before and after the recycle; when it did not change, the recycle restarted nothing (a pause that
only froze processes, a command that did nothing) and the verdict is `error`, never `native`.

Agents run concurrently only when nothing they share can be disturbed (the command decides:
see `pinbot.commands.probe.concurrent`); each agent gets its own codeword.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from pinbot import cleanup
from pinbot.errors import ExternalError
from pinbot.model import SHA_RE
from pinbot.probe.targets import Home, checked_id
from pinbot.probe.verdict import (
    NO_RESTART,
    TERMINAL,
    UNKNOWN_RESTART,
    UNSTEADY,
    UPTIME_PREFIX,
    Turn,
    judge,
    marker_in,
    outcomes,
    recalled,
    restarted,
    turn_over,
    turn_result,
)
from pinbot.probe.waiting import Progress, StepFailed, wait_until

PLANT = (
    "Please remember this for later: the codeword is {codeword}. "
    "Do not repeat it now; just confirm that you will remember it."
)
RECALL = (
    "What is the codeword I gave you earlier in this conversation? Answer with the codeword only."
)


@dataclass
class AgentReport:
    agent: str
    verdict: str = "error"
    conversation_id: str | None = None
    acp_session_id_before: str | None = None
    acp_session_id_after: str | None = None
    marker_found: bool = False
    codeword_recalled: bool = False
    restarted: bool = False
    seconds: float = 0.0
    step: str | None = None
    error: str | None = None
    detail: str | None = None
    build_git_sha: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def new_codeword() -> str:
    return f"pinbot-{secrets.token_hex(5)}"


def probe_all(
    homes: Sequence[Home], timeout: float, progress: Progress, concurrent: bool
) -> list[AgentReport]:
    def one(home: Home) -> AgentReport:
        return probe_agent(home, new_codeword(), timeout, progress)

    if concurrent and len(homes) > 1:
        with ThreadPoolExecutor(max_workers=len(homes)) as pool:
            return list(pool.map(one, homes))
    return [one(home) for home in homes]


def probe_agent(home: Home, codeword: str, timeout: float, progress: Progress) -> AgentReport:
    report = AgentReport(agent=home.agent)
    started = time.monotonic()
    try:
        _steps(home, codeword, timeout, progress, report)
    except (StepFailed, ExternalError) as exc:
        report.error = str(exc) + _failure_detail(home)
        progress(f"{home.agent}: {report.step} failed: {exc}")
    finally:
        report.seconds = round(time.monotonic() - started, 1)
        _close(home, progress)
    report.verdict = judge(
        report.acp_session_id_before,
        report.acp_session_id_after,
        report.marker_found,
        report.codeword_recalled,
        report.error,
        report.restarted,
    )
    return report


def _failure_detail(home: Home) -> str:
    """The server's log (path and tail: the agents' stderr), when the home's server keeps one."""
    detail: Callable[[], str] | None = getattr(home, "failure_detail", None)
    return detail() if detail is not None else ""


def _close(home: Home, progress: Progress) -> None:
    try:
        home.close()
    except Exception as exc:  # cleanup must never hide the verdict; say what is left behind
        progress(f"{home.agent}: cleanup failed, check for leftovers: {exc}")


def _steps(
    home: Home, codeword: str, timeout: float, progress: Progress, report: AgentReport
) -> None:
    agent = home.agent
    report.step = "start"
    progress(f"{agent}: starting a conversation and planting a codeword")
    report.conversation_id = home.start(PLANT.format(codeword=codeword))
    report.step = "plant"
    _expect_reply(wait_turn(home, 0, timeout, progress), "the first turn")
    report.acp_session_id_before = session_id(home)
    report.build_git_sha = build_sha(home.server().server_info())
    report.step = "recycle"
    progress(f"{agent}: recycling ({getattr(home, 'recycle_how', 'recycle')})")
    _recycle(home, report)
    report.step = "recall"
    progress(f"{agent}: asking for the codeword")
    before = outcomes(home.server().events(report.conversation_id))
    home.send(RECALL)
    reply = _expect_reply(wait_turn(home, before, timeout, progress), "the turn after the recycle")
    report.acp_session_id_after = session_id(home)
    report.step = "inspect"
    report.marker_found = marker_in(home.events())
    report.codeword_recalled = recalled(reply, codeword)
    report.detail = f"codeword {codeword}; the agent answered: {reply[:200]!r}"
    report.step = None


def _recycle(home: Home, report: AgentReport) -> None:
    """Recycle, and prove that the agent server really restarted (or stop here)."""
    before = _steady_identity(home)
    home.recycle()
    after = home.identity()
    report.restarted = restarted(before, after)
    if not report.restarted:
        raise StepFailed(
            NO_RESTART if before is not None and after is not None else UNKNOWN_RESTART
        )


# An identity from a server's uptime is read twice, this far apart, before it is trusted: one
# that changes by itself (a server that always says it just started) would make any recycle
# look like a restart. Over a second, so whole-second uptimes are caught too.
STEADY_GAP = 1.2


def _steady_identity(home: Home) -> str | None:
    first = home.identity()
    if first is None or not first.startswith(UPTIME_PREFIX):
        return first  # a process or container identity: pinbot reads it, the server does not
    if cleanup.STOP.wait(STEADY_GAP):
        raise StepFailed("reading the agent server's identity: interrupted")
    then = home.identity()
    if restarted(first, then):
        raise StepFailed(UNSTEADY)
    return then


def _expect_reply(turn: Turn, which: str) -> str:
    if turn.reply is None:
        raise StepFailed(f"{which} ended in an error: {turn.error}")
    return turn.reply


def session_id(home: Home) -> str:
    conversation = home.server().conversation(str(home.conversation_id))
    found = (conversation.get("agent_state") or {}).get("acp_session_id")
    if not found:
        raise StepFailed("the agent server reports no agent_state.acp_session_id")
    return checked_id(found, "agent_state.acp_session_id")


def build_sha(info: dict[str, Any]) -> str | None:
    """The build the server says it is: a 40-hex sha, or nothing (not whatever it sent)."""
    found = info.get("build_git_sha")
    return found.lower() if isinstance(found, str) and SHA_RE.match(found.lower()) else None


def wait_turn(home: Home, before: int, timeout: float, progress: Progress) -> Turn:
    """Wait until the turn is over (the rule in docs/guides/probe.md) and return how it ended."""
    api = home.server()
    ident = str(home.conversation_id)

    def check() -> Turn | None:
        conversation = api.conversation(ident)
        if conversation.get("execution_status") not in TERMINAL:
            return None  # cheap poll: page through events only once the status says done
        events = api.events(ident)
        if not turn_over(conversation, before, outcomes(events)):
            return None
        return turn_result(events, before)

    return wait_until(f"{home.agent}: waiting for the agent to answer", check, timeout, progress)
