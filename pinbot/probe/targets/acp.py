"""The legs of `--target acp`: each recycle is a new life of the agent (`acp_stdio.live`).

The first life plants a codeword in a new session on the first side; each later life runs the
side a batch of legs moves to, reopens those legs' sessions and asks for the codeword, then
plants the conversations born there (a rollback's second conversation, born on the candidate).
A life is a new process by construction; it counts as a restart only if its pid differs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pinbot.probe.legs import NEITHER, Leg, LegPlan, next_batch
from pinbot.probe.run import PLANT, RECALL, AgentReport, new_codeword
from pinbot.probe.targets.acp_stdio import AgentFailed, Ask, Life, Turn, live
from pinbot.probe.verdict import marker_in, recalled
from pinbot.probe.waiting import Progress


@dataclass
class Rig:
    """Where and how the agent runs: one command per side, one working directory."""

    commands: dict[str, list[str]]
    cwd: Path
    env: dict[str, str]
    log: Path
    timeout: float
    progress: Progress


@dataclass
class Talk:
    codeword: str
    legs: list[Leg]
    session: str | None = None


@dataclass
class Run:
    rig: Rig
    plans: Sequence[LegPlan]
    report: AgentReport
    talks: dict[int, Talk] = field(default_factory=dict)
    last: Life | None = None


def probe_acp(agent: str, rig: Rig, plans: Sequence[LegPlan]) -> AgentReport:
    report = AgentReport(agent)
    report.legs = [Leg(p.source, p.target) for p in plans]
    run = Run(rig, plans, report)
    started = time.monotonic()
    try:
        _lives(run)
    except AgentFailed as exc:
        rig.progress(f"{agent}: {exc}")
        for leg in report.legs:
            if leg.error is not None and leg.step is None:
                leg.step, leg.error = "agent", f"{exc}{_tail(rig.log)}"
    report.seconds = round(time.monotonic() - started, 1)
    report.settle()
    return report


def _lives(run: Run) -> None:
    side = run.plans[0].source
    run.rig.progress(f"{run.report.agent}: starting the agent ({side}) and planting a codeword")
    run.last = _life(run, side, [], _born(run, side, set()))
    done, born = 0, set(run.talks)
    while done < len(run.plans):
        batch = next_batch(run.plans[done:])
        target = batch[0].target
        run.rig.progress(f"{run.report.agent}: restarting the agent ({target}), asking")
        moving = list(range(done, done + len(batch)))
        run.last = _life(run, target, moving, _born(run, target, born, done + len(batch)))
        done += len(batch)
        born |= set(run.talks)


def _born(run: Run, side: str, born: set[int], after: int = 0) -> list[int]:
    """The conversations whose first leg (from `after` on) starts on `side`, not yet planted."""
    first: dict[int, int] = {}
    for index, plan in enumerate(run.plans):
        first.setdefault(plan.conversation, index)
    return [
        c
        for c, index in first.items()
        if c not in born and index >= after and run.plans[index].source == side
    ]


def _life(run: Run, side: str, moving: list[int], planting: list[int]) -> Life:
    asks = [Ask(RECALL, run.talks[run.plans[i].conversation].session) for i in moving]
    for conversation in planting:
        legs = [
            run.report.legs[i] for i, p in enumerate(run.plans) if p.conversation == conversation
        ]
        run.talks[conversation] = Talk(new_codeword(), legs)
        asks.append(Ask(PLANT.format(codeword=run.talks[conversation].codeword)))
    life = live(
        run.rig.commands[side], run.rig.cwd, run.rig.env, run.rig.log, asks, run.rig.timeout
    )
    for index, turn in zip(moving, life.turns, strict=False):
        _judge_turn(run, life, index, turn)
    for conversation, turn in zip(planting, life.turns[len(moving) :], strict=False):
        run.talks[conversation].session = turn.session_id
        for leg in run.talks[conversation].legs:
            leg.conversation_id = turn.session_id
    return life


def _judge_turn(run: Run, life: Life, index: int, turn: Turn) -> None:
    leg, talk = run.report.legs[index], run.talks[run.plans[index].conversation]
    before = run.last
    leg.restarted = before is not None and before.pid != life.pid
    leg.server_version_before = before.version if before else None
    leg.server_version_after = life.version
    leg.acp_session_id_before, leg.acp_session_id_after = talk.session, turn.session_id
    leg.reopened_with = life.can_reopen or NEITHER
    leg.marker_found = turn.marker_found or marker_in([{"reply": turn.reply}])
    leg.codeword_recalled = recalled(turn.reply, talk.codeword)
    refused = f"{turn.reopen_error}; " if turn.reopen_error else ""
    leg.detail = f"{refused}codeword {talk.codeword}; the agent answered: {turn.reply[:200]!r}"
    leg.step = leg.error = None
    talk.session = turn.session_id


def _tail(log: Path, lines: int = 8) -> str:
    try:
        text = log.read_bytes()[-4000:].decode(errors="replace")
    except OSError:
        return ""
    kept = [f"  | {line}" for line in text.splitlines()[-lines:]]
    return f"; the agent's stderr ({log}) ends:\n" + "\n".join(kept) if kept else ""
