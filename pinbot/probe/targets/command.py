"""`--server-command CMD` (and `--from-server-command`): an agent server pinbot runs as a
process group in a fresh working directory, recycled by killing the group and starting the next
side's command on the same directory."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

from pinbot import cleanup
from pinbot.probe.targets.agent_server import OwnServer
from pinbot.probe.targets.base import Mask, substitute
from pinbot.probe.waiting import Progress, StepFailed

# `openhands-agent-server==1.58.2` (pip, uvx) or `openhands-agent-server@1.58.2` (uvx) in a
# server command: the version its package name says.
_PACKAGE_VERSION = re.compile(r"agent-server(?:==|@)([0-9][A-Za-z0-9.+_-]{0,63})")


def package_version(command: str) -> str | None:
    found = _PACKAGE_VERSION.search(command)
    return found.group(1) if found else None


def process_identity(pid: int) -> str:
    """A process's pid and start time (clock ticks after boot, from /proc): unique per process.

    Without /proc the pid alone: pinbot started the process, so a new pid is a new process.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return f"pid {pid}"
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return f"pid {pid} started {fields[19]}"


class CommandServer(OwnServer):
    """`--server-command` (and `--from-server-command`): CMD in a fresh working directory;
    recycled by killing its group and starting the next side's command on the same directory."""

    def __init__(
        self,
        templates: dict[str, str],
        side: str,
        timeout: float,
        progress: Progress,
        mask: Mask,
    ) -> None:
        super().__init__(side, timeout, progress, mask)
        self.templates = templates
        self.workdir = cleanup.temp_dir("pinbot-probe-")  # removed even if pinbot is interrupted
        self.working_dir = str(self.workdir / "workspace")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "server.log"
        self.failed = False  # keep the log: it holds the server's and its agents' stderr

    def failure_detail(self) -> str:
        """Where the server's log is kept, and how it ends (its agents' stderr is in it)."""
        self.failed = True
        return f"; the server's log {self.log} ends:\n{_tail(self.log)}"

    def _launch(self) -> None:
        template = self.templates[self.side]
        command = substitute(template, port=str(self.port), workdir=str(self.workdir))
        env = dict(os.environ, OH_SESSION_API_KEYS_0=self.key)
        with open(self.log, "ab") as log:
            try:
                self.proc = subprocess.Popen(
                    command,
                    cwd=self.workdir,
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            except OSError as exc:
                raise StepFailed(f"--server-command could not start: {exc}") from None
        cleanup.track_process(self.proc.pid)  # killed by the next run if pinbot is killed

    def _launched(self) -> bool:
        return self.proc is not None

    def _exited(self) -> str | None:
        if self.proc is None or self.proc.poll() is None:
            return None
        return f"the server command exited with {self.proc.returncode}"

    def named(self, side: str) -> str | None:
        return package_version(self.templates[side])

    def _halt(self) -> None:
        """Stop the whole process group: the ACP agents are the server's children."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        _kill_group_leftovers(self.proc.pid)
        self.proc = None

    def stop(self, keep: bool) -> None:
        self._halt()
        kept_log = self.failed and not cleanup.STOP.is_set()  # an interrupt keeps nothing
        if kept_log or keep:
            cleanup.untrack(self.workdir)  # the user's to look at, not a run's leftover
            if kept_log:
                self.progress(f"kept the server's log for a look: {self.log}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def identity(self) -> str | None:
        return process_identity(self.proc.pid) if self.proc is not None else None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_bytes()[-8000:].decode(errors="replace")
    except OSError:
        return "(no log was written)"
    return "\n".join(f"  | {line}" for line in text.splitlines()[-lines:]) or "  | (empty)"


def _kill_group_leftovers(pgid: int) -> None:
    """Children that ignored SIGTERM still belong to the group: make sure they are gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
