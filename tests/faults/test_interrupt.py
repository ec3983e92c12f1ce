"""Interrupting `pinbot cut --push` at each phase, with SIGINT (Ctrl-C) and SIGTERM (a CI cancel).

`python -m pinbot cut` runs as a process of its own; when the line that starts a phase appears
on its stderr, the signal goes out: SIGINT to its whole process group, as a terminal sends it,
SIGTERM to pinbot alone, as `kill` or a CI runner does. Each phase is made slow (a registry
that takes its time, a remote whose pre-receive hook sleeps) so the signal lands inside it.
Then nothing may be left running or lying in the temporary directory, the remotes must be
consistent, and a re-run must complete the cut with exactly one pin commit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo.repos import Remotes
from testing import cutting
from testing.matrix import Fault, Row, Run, check
from testing.proxy import FaultProxy, Rule

AREA = "interruption"
SLOW_HOOK = "#!/bin/sh\nsleep 2\n"
PHASES = {
    # phase: (the stderr line that starts it, what is slowed down)
    "checking the tag": ("pinbot: checking", "registry"),
    "building the commits": ("pinbot: building the commits", "openhands"),
    "pushing the OpenHands pin": ("to pinbot/acp-native-resume/", "openhands"),
    "pushing the deploy branch": ("to pinbot/agent-server-", "deploy"),
}
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}


def fault(signal_name: str, phase: str) -> Fault:
    how = "to its process group (Ctrl-C)" if signal_name == "SIGINT" else "to pinbot (kill, CI)"
    return Fault(
        AREA,
        f"{signal_name} while {phase}",
        130,
        "re-run the same command",
        f"{signal_name} {how}: stops, cleans up; a re-run completes with one pin commit",
        {"signal": signal_name, "phase": phase},
    )


FAULTS = [fault(name, phase) for phase in PHASES for name in SIGNALS]


def slow_down(world: Remotes, what: str, proxy: FaultProxy) -> None:
    if what == "registry":
        proxy.add(Rule("GET", r"/manifests/", delay=1.0))
        return
    remote = world.openhands.remote if what == "openhands" else world.deploy.remote
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(SLOW_HOOK)
    hook.chmod(0o755)


def interrupt(argv: list[str], marker: str, signal_name: str) -> tuple[Run, bool]:
    """Run pinbot, send the signal when `marker` shows on stderr; (run, whether it was sent)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pinbot", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert proc.stderr is not None
    seen: list[str] = []
    sent = False
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            send(proc, signal_name)
            sent = True
            break
    out, rest = proc.communicate(timeout=30)
    return Run(proc.returncode, out, "".join(seen) + rest), sent


def send(proc: subprocess.Popen[str], signal_name: str) -> None:
    if signal_name == "SIGINT":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGTERM)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_interrupted_cut(
    fault: Fault, row: Row, capsys, images: Any, world: Remotes, tag: str, temp: Path
) -> None:
    marker, slow = PHASES[fault.options["phase"]]
    with FaultProxy(images.registry) as proxy:
        slow_down(world, slow, proxy)
        argv = cutting.argv(images, world)
        argv[argv.index("--registry-url") + 1] = proxy.address
        started = time.monotonic()
        run, sent = interrupt(argv, marker, fault.options["signal"])
        took = time.monotonic() - started
    for hook in (world.openhands.remote / "hooks", world.deploy.remote / "hooks"):
        (hook / "pre-receive").unlink(missing_ok=True)

    before = cutting.state(world)
    again = cutting.cut(capsys, cutting.argv(images, world))
    after = cutting.state(world)
    row.state = f"{before.describe()}; a re-run: {after.describe()}"
    row.data_lost = bool(before.problems or after.problems) or not after.completed
    check(fault, row, run, tag, temp)
    assert sent, run.err
    assert took < 20, "an interrupted pinbot must exit promptly"
    assert again.code == 0, again.text
    assert not row.data_lost, row.state
