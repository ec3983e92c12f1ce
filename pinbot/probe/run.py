"""One probe: plant a codeword in each agent's conversation, recycle, ask for it back, judge.

No verdict without a proven recycle: the agent server's identity (`Stage.identity`) is read
before and after each recycle; when it did not change, the recycle restarted nothing (a pause
that only froze processes, a command that did nothing) and the leg is `error`, never `native`.

Agents that share a server (a `Group`) are planted together, recycled once and asked together:
recycling a shared server per agent would move the second agent from the candidate to the
candidate. Each leg of `pinbot.probe.legs` is one recycle of the group's stage; each agent gets
its own codeword per conversation. Groups run concurrently only when the command says nothing
they share can be disturbed (`pinbot.commands.probe`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from pinbot import cleanup
from pinbot.errors import ExternalError
from pinbot.model import SHA_RE
from pinbot.probe.legs import CANDIDATE, Leg, LegPlan, next_batch, server_version
from pinbot.probe.targets.base import Home, checked_id
from pinbot.probe.verdict import (
    NO_RESTART,
    TERMINAL,
    UNKNOWN_RESTART,
    UNSTEADY,
    UPTIME_PREFIX,
    Turn,
    marker_in,
    outcomes,
    recalled,
    restarted,
    turn_over,
    turn_result,
    worst,
)
from pinbot.probe.waiting import Progress, StepFailed, wait_until

PLANT = (
    "Please remember this for later: the codeword is {codeword}. "
    "Do not repeat it now; just confirm that you will remember it."
)
RECALL = (
    "What is the codeword I gave you earlier in this conversation? Answer with the codeword only."
)


class Stage(Protocol):
    """What a group's recycle restarts: an agent server (or an app sandbox's)."""

    def recycle(self, side: str) -> None: ...

    def identity(self) -> str | None: ...

    def server_info(self) -> dict[str, Any]: ...

    def named(self, side: str) -> str | None:
        """The version the side's package or image name says, when it says one."""
        ...


@dataclass
class Group:
    """Agents whose conversations live on one stage. `born` makes the home of a second
    conversation of the same agent on the same stage (rollback: born on the candidate)."""

    stage: Stage
    homes: list[Home]
    born: Callable[[Home], Home] | None = None


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
    server_version_before: str | None = None
    server_version_after: str | None = None
    legs: list[Leg] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k != "legs"}
        return {**data, "legs": [leg.to_json() for leg in self.legs]}

    def settle(self) -> None:
        """The agent's verdict is its worst leg; its headline fields are its first leg's, and
        its error the first leg's that failed."""
        for leg in self.legs:
            leg.judge()
        self.verdict = worst(leg.verdict for leg in self.legs)
        first = self.legs[0]
        for name in (
            "conversation_id",
            "acp_session_id_before",
            "acp_session_id_after",
            "marker_found",
            "codeword_recalled",
            "restarted",
            "server_version_before",
            "server_version_after",
            "detail",
        ):
            setattr(self, name, getattr(first, name))
        failed = next((leg for leg in self.legs if leg.error), None)
        self.step, self.error = (failed.step, failed.error) if failed else (None, None)


@dataclass
class Conversation:
    """One planted conversation of one agent, and the legs it makes."""

    home: Home
    codeword: str
    legs: list[Leg]
    session: str | None = None
    failed: str | None = None  # why it cannot go on (its legs keep their errors)


def new_codeword() -> str:
    return f"pinbot-{secrets.token_hex(5)}"


def probe_all(
    groups: Sequence[Group],
    plans: Sequence[LegPlan],
    timeout: float,
    progress: Progress,
    concurrent: bool,
) -> list[AgentReport]:
    def one(group: Group) -> list[AgentReport]:
        return Probe(group, plans, timeout, progress).run()

    if concurrent and len(groups) > 1:
        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            return [r for reports in pool.map(one, groups) for r in reports]
    return [r for group in groups for r in one(group)]


class Probe:
    """One group's probe: its conversations, its recycles, its agents' reports."""

    def __init__(
        self, group: Group, plans: Sequence[LegPlan], timeout: float, progress: Progress
    ) -> None:
        self.group = group
        self.plans = plans
        self.timeout = timeout
        self.progress = progress
        self.reports = {home.agent: AgentReport(home.agent) for home in group.homes}
        self.talks: dict[tuple[str, int], Conversation] = {}
        self.homes: list[Home] = []

    def run(self) -> list[AgentReport]:
        started = time.monotonic()
        for report in self.reports.values():
            report.legs = [Leg(p.source, p.target) for p in self.plans]
        try:
            self._each_new(0, self.group.homes, self.plans[0].source)
            self._moves()
        finally:
            for home in self.homes:
                _close(home, self.progress)
        for report in self.reports.values():
            report.seconds = round(time.monotonic() - started, 1)
            report.settle()
        return list(self.reports.values())

    def _moves(self) -> None:
        """Each recycle moves the stage to the next side; the legs that end there are asked.
        A conversation first met in a batch is born on the batch's side before it moves."""
        done, born = 0, {self.plans[0].conversation}
        while done < len(self.plans) and self._alive():
            batch = next_batch(self.plans[done:])
            for plan in batch:
                if plan.conversation not in born:
                    born.add(plan.conversation)
                    self._born(plan.conversation, plan.source)
            if not self._recycle(done, batch):
                return
            self._ask(done, batch)
            done += len(batch)

    def _alive(self) -> bool:
        """Whether any conversation can still be asked (else recycling proves nothing)."""
        return any(talk.failed is None for talk in self.talks.values())

    def _born(self, conversation: int, side: str) -> None:
        if self.group.born is None:
            raise RuntimeError("a second conversation needs Group.born")
        homes = [self.group.born(home) for home in self.group.homes]
        self._each_new(conversation, homes, side)

    def _each_new(self, conversation: int, homes: Sequence[Home], side: str) -> None:
        legs = [i for i, p in enumerate(self.plans) if p.conversation == conversation]
        for home in homes:
            self.homes.append(home)
            mine = [self.reports[home.agent].legs[i] for i in legs]
            self.talks[(home.agent, conversation)] = Conversation(home, new_codeword(), mine)
        talks = [self.talks[(home.agent, conversation)] for home in homes]
        _each(talks, lambda talk: self._plant(talk, side))

    def _plant(self, talk: Conversation, side: str) -> None:
        home = talk.home
        step = f"start on the {side}" if side != CANDIDATE else "start"
        try:
            self.progress(f"{home.agent}: starting a conversation and planting a codeword")
            ident = home.start(PLANT.format(codeword=talk.codeword))
            for leg in talk.legs:
                leg.conversation_id = ident
            step = "plant"
            _expect_reply(wait_turn(home, 0, self.timeout, self.progress), "the first turn")
            talk.session = session_id(home)
        except (StepFailed, ExternalError) as exc:
            self._fail(talk, step, exc)

    def _fail(self, talk: Conversation, step: str, exc: Exception) -> None:
        talk.failed = str(exc) + _failure_detail(talk.home)
        self.progress(f"{talk.home.agent}: {step} failed: {exc}")
        for leg in talk.legs:
            if leg.error is not None:
                leg.step, leg.error = step, talk.failed

    def _recycle(self, first: int, batch: Sequence[LegPlan]) -> bool:
        """Recycle the stage onto the batch's side; False (every leg left failed) if it did not
        restart."""
        stage, target = self.group.stage, batch[0].target
        legs = [r.legs[first + i] for r in self.reports.values() for i in range(len(batch))]
        try:
            version = server_version(stage.server_info(), stage.named(batch[0].source))
            before = _steady_identity(stage)
            self.progress(f"recycling onto the {target} ({_agents(self.reports)})")
            stage.recycle(target)
            after = stage.identity()
            moved = restarted(before, after)
            info = stage.server_info()
        except (StepFailed, ExternalError) as exc:
            self._fail_legs(legs, "recycle", str(exc))
            return False
        now = server_version(info, stage.named(target))
        self._note_build(target, info)
        for leg in legs:
            leg.restarted = moved
            leg.server_version_before, leg.server_version_after = version, now
        if not moved:
            known = before is not None and after is not None
            self._fail_legs(legs, "recycle", NO_RESTART if known else UNKNOWN_RESTART)
        return moved

    def _fail_legs(self, legs: Sequence[Leg], step: str, error: str) -> None:
        self.progress(f"{_agents(self.reports)}: {step} failed: {error}")
        for leg in legs:
            leg.step, leg.error = step, error

    def _note_build(self, side: str, info: dict[str, Any]) -> None:
        """The candidate's build, read from the server that runs after the recycle."""
        if side == CANDIDATE:
            for report in self.reports.values():
                report.build_git_sha = build_sha(info)

    def _ask(self, first: int, batch: Sequence[LegPlan]) -> None:
        jobs = []
        for report in self.reports.values():
            for i, plan in enumerate(batch):
                talk = self.talks.get((report.agent, plan.conversation))
                if talk is not None and talk.failed is None:
                    jobs.append((talk, report.legs[first + i]))
        _each(jobs, lambda job: self._recall(*job))

    def _recall(self, talk: Conversation, leg: Leg) -> None:
        home = talk.home
        leg.acp_session_id_before = talk.session
        try:
            self.progress(f"{home.agent}: asking for the codeword")
            api = home.server()
            before = outcomes(api.events(str(home.conversation_id)))
            home.send(RECALL)
            turn = wait_turn(home, before, self.timeout, self.progress)
            reply = _expect_reply(turn, "the turn after the recycle")
            talk.session = leg.acp_session_id_after = session_id(home)
            leg.marker_found = marker_in(home.events())
        except (StepFailed, ExternalError) as exc:
            self._fail(talk, "recall", exc)
            return
        leg.codeword_recalled = recalled(reply, talk.codeword)
        leg.detail = f"codeword {talk.codeword}; the agent answered: {reply[:200]!r}"
        leg.step = leg.error = None


def _each(items: Sequence[Any], work: Callable[[Any], None]) -> None:
    """Turns of different conversations run side by side; a failure is recorded by `work`."""
    if len(items) <= 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        list(pool.map(work, items))


def _agents(reports: dict[str, AgentReport]) -> str:
    return ", ".join(reports)


def _failure_detail(home: Home) -> str:
    """The server's log (path and tail: the agents' stderr), when the home's server keeps one."""
    detail: Callable[[], str] | None = getattr(home, "failure_detail", None)
    return detail() if detail is not None else ""


def _close(home: Home, progress: Progress) -> None:
    try:
        home.close()
    except Exception as exc:  # cleanup must never hide the verdict; say what is left behind
        progress(f"{home.agent}: cleanup failed, check for leftovers: {exc}")


# An identity from a server's uptime is read twice, this far apart, before it is trusted: one
# that changes by itself (a server that always says it just started) would make any recycle
# look like a restart. Over a second, so whole-second uptimes are caught too.
STEADY_GAP = 1.2


def _steady_identity(stage: Stage) -> str | None:
    first = stage.identity()
    if first is None or not first.startswith(UPTIME_PREFIX):
        return first  # a process or container identity: pinbot reads it, the server does not
    if cleanup.STOP.wait(STEADY_GAP):
        raise StepFailed("reading the agent server's identity: interrupted")
    then = stage.identity()
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
