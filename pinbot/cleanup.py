"""Nothing pinbot starts outlives it: processes, temporary directories, open connections.

Every run gets an id, put into the environment (`PINBOT_RUN`) so that every process it starts,
and every process those start, carries it, even one that left pinbot's process group (an agent
server in a session of its own, a daemonised helper). The run writes a record under the cache
directory (`runs/<id>.json`: its pid and start time, the temporary directories it made). When
the run ends, however it ends, the processes carrying its id are killed and the directories
removed. A run killed outright (SIGKILL: a CI cancel's last word) cannot do that, so the next
pinbot to start does it for every recorded run whose process is gone.

A record is trusted for nothing it says. The records live in a private directory (`runs/`:
made 0700 by pinbot, owned by the user, no symlink; otherwise pinbot warns and keeps no records),
each a regular file of the user's named by a run id; and a dead run's record is acted on only
for what pinbot can tell it made: `pinbot-*` directories of the user's directly under the
temporary root, processes re-identified by pid, start time and the run's id in their
environment (and their descendants that carry it), containers carrying pinbot's label.
Anything else a record names is left alone, with a warning.

Ctrl-C and SIGTERM go through `interrupt()`: stop every worker at once (STOP is set, every
open connection is shut down, every process of the run is killed), so the main thread's
KeyboardInterrupt is not held up by a worker waiting on a server or a turn.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RUN_ENV = "PINBOT_RUN"
MANAGED_LABEL = "pinbot.managed"  # on every container pinbot creates (pinbot.docker)
TEMP_PREFIX = "pinbot-"  # every directory a run tracks: tempfile.mkdtemp(prefix="pinbot-…")
MAX_RECORD = 1 << 20
_RUN_ID = re.compile(r"[0-9a-f]{32}\Z")
_CONTAINER_ID = re.compile(r"[0-9a-f]{64}\Z")
_log = logging.getLogger(__name__)
STOP = threading.Event()  # set on Ctrl-C/SIGTERM: long waits in workers give up at once

_lock = threading.Lock()
_current: Run | None = None


class Run:
    """One pinbot invocation's record: its id, and the directories to remove at the end."""

    def __init__(self, records: Path | None) -> None:
        self.id = uuid.uuid4().hex
        self.records = records  # None: no private directory for them (see private_dir)
        self.path = records / f"{self.id}.json" if records else None
        self.dirs: list[str] = []
        self.containers: list[str] = []
        self.processes: list[dict[str, Any]] = []
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

    def track_process(self, pid: int) -> None:
        started = _start_time(pid)
        if started is not None:
            with _lock:
                self.processes.append({"pid": pid, "started": started, "cmdline": _cmdline(pid)})
                self._save()

    def _save(self) -> None:
        if self.path is None or (not self._saved and private_dir(self.path.parent) is None):
            self.path = None  # no private directory for records (private_dir warned)
            return
        record = {
            "id": self.id,
            "pid": os.getpid(),
            "started": _start_time(os.getpid()),
            "dirs": self.dirs,
            "containers": self.containers,
            "processes": self.processes,
        }
        with contextlib.suppress(OSError):  # an unwritable cache costs only the next-run reap
            tmp = self.path.with_suffix(".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(record))
            os.replace(tmp, self.path)
            self._saved = True

    def finish(self) -> None:
        """Kill what still carries this run's id, remove its directories, drop its record."""
        kill_tagged(self.id)
        remove_containers(list(self.containers))
        for directory in list(self.dirs):
            shutil.rmtree(directory, ignore_errors=True)
        if self._saved and self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()


def begin(records: Path) -> Run:
    """Start this process's run: reap dead runs' leftovers, tag the environment."""
    global _current
    private: Path | None = records  # made private at the run's first record (Run._save)
    if os.path.lexists(records):
        private = private_dir(records)
        if private is not None:
            reap(private)
    STOP.clear()
    if (httpclient := sys.modules.get("pinbot.httpclient")) is not None:
        httpclient.reset()  # not imported otherwise: requests costs start-up time
    run = Run(private)
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


def temp_dir(prefix: str, parent: Path | None = None) -> Path:
    """A new private directory (0700) the run removes at its end, tracked before it exists: a
    Ctrl-C between making a directory and tracking it (`mkdtemp`, then `track`) would leave it."""
    base = Path(parent or tempfile.gettempdir())
    for _ in range(100):
        path = base / f"{prefix}{_temp_name()}"
        track(path)
        try:
            path.mkdir(mode=0o700)
            return path
        except FileExistsError:  # someone else's: never ours to remove
            untrack(path)
    raise FileExistsError(f"no free name for a {prefix}* directory in {base}")


def _temp_name() -> str:
    return uuid.uuid4().hex[:12]


def untrack(directory: str | Path) -> None:
    """Keep `directory` after all (the user asked for it)."""
    if _current is not None:
        _current.untrack(directory)


def track_process(pid: int) -> None:
    """Kill this process (and what it started) when the next run finds this one dead: it is
    re-identified by its start time and this run's id in its environment."""
    if _current is not None:
        _current.track_process(pid)


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
                container = client.containers.get(container_id)
                if container.labels.get(MANAGED_LABEL) == "1":  # pinbot's, nobody else's
                    container.remove(force=True)


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
    """Leftovers of runs whose process died without cleaning up (killed, the machine lost):
    only what `Leftovers` can tell pinbot made; the rest of a record is left alone, with a
    warning."""
    try:
        entries = sorted(records.glob("*.json"))
    except OSError:
        return
    for entry in entries:
        record = _read_record(entry)
        if record is None or _alive(record.pid, record.started):
            continue
        for warning in record.refused:
            warn(f"run record {entry.name} {warning}; left alone")
        _kill_processes(record)
        remove_containers(record.containers)
        for directory in record.dirs:
            shutil.rmtree(directory, ignore_errors=True)
        with contextlib.suppress(OSError):
            entry.unlink()


@dataclass
class Leftovers:
    """What a dead run's record names that pinbot may remove, and what it refused."""

    run_id: str
    pid: int
    started: str
    dirs: list[str]
    containers: list[str]
    processes: list[tuple[int, str]]
    refused: list[str]


def _read_record(entry: Path) -> Leftovers | None:
    """The record in `entry`, checked; None (with a warning) when it is not one of ours (a
    file of the user's that is no record is removed: the directory is pinbot's)."""
    problem = _entry_problem(entry)
    if problem is None:
        try:
            return _leftovers(entry.stem, json.loads(entry.read_bytes()))
        except (OSError, ValueError, RecursionError, KeyError, TypeError):
            problem = "is no run record pinbot wrote"
            with contextlib.suppress(OSError):
                entry.unlink()
    warn(f"{entry} {problem}; ignored")
    return None


def _entry_problem(entry: Path) -> str | None:
    try:
        info = entry.lstat()
    except OSError:
        return "cannot be read"
    if not _RUN_ID.match(entry.stem) or not stat.S_ISREG(info.st_mode):
        return "is not a run record pinbot writes (a regular file named by a run id)"
    if info.st_uid != os.geteuid() or info.st_mode & 0o022 or info.st_size > MAX_RECORD:
        return "is not the user's own private file"
    return None


def _leftovers(run_id: str, data: dict[str, Any]) -> Leftovers:
    pid, started = data["pid"], data["started"]
    if not isinstance(pid, int) or pid <= 1 or not isinstance(started, str) or data["id"] != run_id:
        raise ValueError("no pinbot run")
    refused: list[str] = []
    dirs = [d for d in _strings(data.get("dirs")) if _own_dir(d, refused)]
    containers = [c for c in _strings(data.get("containers")) if _own_container(c, refused)]
    processes = [p for p in _pairs(data.get("processes")) if _own_process(p, run_id, refused)]
    return Leftovers(run_id, pid, started, dirs, containers, processes, refused)


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _pairs(value: object) -> list[tuple[int, str]]:
    entries = value if isinstance(value, list) else []
    return [
        (e["pid"], e["started"])
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("pid"), int)
        and isinstance(e.get("started"), str)
    ]


def _own_dir(directory: str, refused: list[str]) -> bool:
    """A `pinbot-*` directory of the user's, itself directly under the temporary root: no
    `..`, no symlink on the way."""
    path = Path(directory)
    root = os.path.realpath(tempfile.gettempdir())
    where = (
        path.is_absolute()
        and os.path.normpath(directory) == directory
        and path.name.startswith(TEMP_PREFIX)
        and os.path.realpath(path.parent) == root
    )
    try:
        info = path.lstat() if where else None
    except OSError:
        return False  # gone already: nothing to do
    if info is not None and stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
        return True
    refused.append(
        f"names {directory[:200]!r}, which is no pinbot-* directory of the user's in {root}"
    )
    return False


def _own_container(container_id: str, refused: list[str]) -> bool:
    if _CONTAINER_ID.match(container_id):
        return True  # remove_containers also asks for pinbot's label
    refused.append(f"names container {container_id[:80]!r}, which is no container id")
    return False


def _own_process(process: tuple[int, str], run_id: str, refused: list[str]) -> bool:
    """The process pinbot started: same pid, same start time, this run's id in its environment."""
    pid, started = process
    now = _start_time(pid)
    if now is None:
        return False  # gone already
    if pid <= 1 or pid == os.getpid() or now != started:
        refused.append(f"names process {pid}, which is not the one pinbot started")
        return False
    if f"{RUN_ENV}={run_id}".encode() not in _environ(pid):
        refused.append(f"names process {pid} ({_cmdline(pid)[:60]!r}), which is not this run's")
        return False
    return True


def _kill_processes(record: Leftovers) -> None:
    """SIGKILL each re-identified process and every descendant carrying the run's id."""
    recorded = {pid for pid, _ in record.processes}
    doomed = set(recorded)
    for pid in tagged(record.run_id):
        if recorded.intersection(_ancestors(pid)):
            doomed.add(pid)
    for pid in doomed - {os.getpid(), *_ancestors(os.getpid())}:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _ancestors(pid: int) -> list[int]:
    found: list[int] = []
    while pid > 1 and len(found) < 256:
        pid = _parent(pid)
        found.append(pid)
    return found


def private_dir(records: Path) -> Path | None:
    """`records` (the cache's `runs/`) if it is private: what is missing of it made here 0700,
    no symlink, the user's, writable by nobody else (the cache directory too). Else None, with
    a warning: no record is read or written."""
    try:
        made = _make_missing(records)
        checked = dict.fromkeys([*made, records.parent, records])
        problem = next(filter(None, map(_dir_problem, checked)), None)
    except OSError as exc:
        problem = f"cannot be made ({exc.strerror})"
    if problem is not None:
        warn(
            f"the run records' directory {records} {problem}: pinbot keeps no run records (what "
            "a killed run leaves is not removed); make it a directory of your own, mode 700"
        )
        return None
    with contextlib.suppress(OSError):
        os.chmod(records, 0o700)  # an older pinbot's runs/ (0755): nobody else reads it
    return records


def _make_missing(path: Path) -> list[Path]:
    """Make the missing directories of `path`, each 0700; returns them, outermost first."""
    missing: list[Path] = []
    while not os.path.lexists(path) and path != path.parent:
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another pinbot made it: checked after
            os.mkdir(directory, 0o700)
    return list(reversed(missing))


def _dir_problem(path: Path) -> str | None:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return f"is, or lies in, a symlink ({path})"
    if not stat.S_ISDIR(info.st_mode):
        return f"is no directory ({path})"
    if info.st_uid != os.geteuid():
        return f"is not the user's own ({path} belongs to uid {info.st_uid})"
    if info.st_mode & 0o022:
        return f"is writable by others ({path}: mode {stat.S_IMODE(info.st_mode):o})"
    return None


class _Stderr(logging.Handler):
    """sys.stderr as it is when the warning is written (tests redirect it per command)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # as logging does: a warning never breaks a run
            self.handleError(record)


_handler = _Stderr()
_handler.setFormatter(logging.Formatter("pinbot: warning: %(message)s"))
_log.addHandler(_handler)
_log.propagate = False


def warn(text: str) -> None:
    """A warning on stderr, one line, whether or not logging is set up yet."""
    _log.warning("%s", text.replace("\n", " ").replace("\r", " "))


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


def _environ(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return fh.read(1 << 20).split(b"\0")
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read(4096).replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


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


def _alive(pid: int, started: str) -> bool:
    """The run's own process is still there: the same pid, started at the same time."""
    return _start_time(pid) == started
