"""Nothing pinbot starts outlives it: processes, temporary directories, open connections.

Every run gets an id, put into the environment (`PINBOT_RUN`) so that every process it starts,
and every process those start, carries it, even one that left pinbot's process group (an agent
server in a session of its own, a daemonised helper). The run writes a record under the cache
directory (`runs/<id>.json`: its pid and start time, the temporary directories it made). When
the run ends, however it ends, the processes carrying its id are killed and the directories
removed. A run killed outright (SIGKILL: a CI cancel's last word) cannot do that, so the next
pinbot to start does it for every recorded run whose process is gone.

Ctrl-C and SIGTERM go through `interrupt()`: stop every worker at once (STOP is set, every
open connection is shut down, every process of the run is killed), so the main thread's
KeyboardInterrupt is not held up by a worker waiting on a server or a turn.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

RUN_ENV = "PINBOT_RUN"
STOP = threading.Event()  # set on Ctrl-C/SIGTERM: long waits in workers give up at once

_lock = threading.Lock()
_current: Run | None = None


class Run:
    """One pinbot invocation's record: its id, and the directories to remove at the end."""

    def __init__(self, records: Path) -> None:
        self.id = uuid.uuid4().hex
        self.records = records
        self.path = records / f"{self.id}.json"
        self.dirs: list[str] = []
        self.containers: list[str] = []
        self.outer: Run | None = None  # a run this one is nested in (the demo runs commands)
        self._saved = False

    def track(self, directory: str | Path) -> None:
        with _lock:
            self.dirs.append(str(directory))
            self._save()

    def untrack(self, directory: str | Path) -> None:
        with _lock:
            if str(directory) in self.dirs:
                self.dirs.remove(str(directory))
                self._save()

    def track_container(self, container_id: str) -> None:
        with _lock:
            self.containers.append(container_id)
            self._save()

    def untrack_container(self, container_id: str) -> None:
        with _lock:
            if container_id in self.containers:
                self.containers.remove(container_id)
                self._save()

    def _save(self) -> None:
        record = {
            "pid": os.getpid(),
            "started": _start_time(os.getpid()),
            "dirs": self.dirs,
            "containers": self.containers,
        }
        with contextlib.suppress(OSError):  # an unwritable cache costs only the next-run reap
            self.records.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, self.path)
            self._saved = True

    def finish(self) -> None:
        """Kill what still carries this run's id, remove its directories, drop its record."""
        kill_tagged(self.id)
        remove_containers(list(self.containers))
        for directory in list(self.dirs):
            shutil.rmtree(directory, ignore_errors=True)
        if self._saved:
            with contextlib.suppress(OSError):
                self.path.unlink()


def begin(records: Path) -> Run:
    """Start this process's run: reap dead runs' leftovers, tag the environment."""
    global _current
    reap(records)
    STOP.clear()
    if (httpclient := sys.modules.get("pinbot.httpclient")) is not None:
        httpclient.reset()  # not imported otherwise: requests costs start-up time
    run = Run(records)
    run.outer = _current
    os.environ[RUN_ENV] = run.id
    _current = run
    return run


def end(run: Run, previous: str | None) -> None:
    global _current
    try:
        run.finish()
    finally:
        _current = run.outer
        if previous is None:
            os.environ.pop(RUN_ENV, None)
        else:
            os.environ[RUN_ENV] = previous


def track(directory: str | Path) -> None:
    """Remove `directory` when the run ends, or when the next run finds this one dead."""
    if _current is not None:
        _current.track(directory)


def untrack(directory: str | Path) -> None:
    """Keep `directory` after all (the user asked for it)."""
    if _current is not None:
        _current.untrack(directory)


def track_container(container_id: str) -> None:
    """Remove this container when the run ends, or when the next run finds this one dead."""
    if _current is not None:
        _current.track_container(container_id)


def untrack_container(container_id: str) -> None:
    if _current is not None:
        _current.untrack_container(container_id)


def remove_containers(ids: list[str]) -> None:
    """Force-remove containers a run left (docker is imported only when there are some)."""
    if not ids:
        return
    with contextlib.suppress(Exception):  # no engine, or gone already: nothing more to do
        import docker

        client = docker.from_env(timeout=20)
        for container_id in ids:
            with contextlib.suppress(Exception):
                client.containers.get(container_id).remove(force=True)


def untagged_environment() -> dict[str, str]:
    """The environment for a command whose processes are not this run's (a recycle command
    that restarts someone else's server): they must survive the run's end."""
    env = dict(os.environ)
    env.pop(RUN_ENV, None)
    return env


def interrupt() -> None:
    """Ctrl-C or SIGTERM: stop every worker now (see the module's docstring)."""
    STOP.set()
    if (httpclient := sys.modules.get("pinbot.httpclient")) is not None:
        httpclient.abort_all()  # no connection was ever opened otherwise
    if _current is not None:
        kill_tagged(_current.id)
        remove_containers(list(_current.containers))


def reap(records: Path) -> None:
    """Leftovers of runs whose process died without cleaning up (killed, the machine lost)."""
    try:
        entries = list(records.glob("*.json"))
    except OSError:
        return
    for entry in entries:
        try:
            record = json.loads(entry.read_text(encoding="utf-8"))
            pid, started = int(record["pid"]), record.get("started")
            dirs = [str(d) for d in record.get("dirs", [])]
            containers = [str(c) for c in record.get("containers", [])]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(pid, started):
            continue
        kill_tagged(entry.stem)
        remove_containers(containers)
        for directory in dirs:
            shutil.rmtree(directory, ignore_errors=True)
        with contextlib.suppress(OSError):
            entry.unlink()


def kill_tagged(run_id: str) -> list[int]:
    """SIGKILL every process whose environment carries this run's id (Linux: /proc), a few
    rounds, so that children started meanwhile go too. Returns the pids killed."""
    killed: list[int] = []
    for _ in range(5):
        found = tagged(run_id)
        if not found:
            break
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        killed += found
        time.sleep(0.02)
    return killed


def tagged(run_id: str) -> list[int]:
    needle = f"{RUN_ENV}={run_id}".encode()
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for name in entries:
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:
            continue
        if needle in environ.split(b"\0") and not _zombie(int(name)):
            found.append(int(name))
    return found


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started is None or _start_time(pid) == started
