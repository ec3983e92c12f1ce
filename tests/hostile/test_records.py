"""Run records are pinbot's alone: records planted in the cache's `runs/` (as anything running as
the user, a lock tool's build backend say, could write them) name a directory outside the
temporary root, one reached through `..` or a symlink, an unrelated process (carrying the run's
id or not), PID 1, a pid reused since; the cache directory is a symlink, or `runs/` is writable
by others or a symlink. The next real `pinbot --version` acts on none of it: it warns and leaves
it alone. What a real run killed with SIGKILL left is still removed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

AREA = "run records"
ATTACK = (
    "records planted in the cache naming a directory outside the temporary root, via `..` or "
    "a symlink, an unrelated process (with the run's id in its environment or not), PID 1, "
    "a reused pid; a cache directory that is a symlink, a `runs/` writable by others"
)
ANSWER = (
    "acts only on `pinbot-*` directories of the user's under the temporary root and on "
    "processes re-identified by start time and the run's id; warns and leaves the rest; keeps "
    "no records in a directory that is not private"
)
EXIT = "0 (`pinbot --version`, with a warning)"


@pytest.fixture
def home(tmp_path: Path) -> dict[str, Path]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me\n")
    return {"cache": tmp_path / "cache", "temp": temp, "victim": victim}


STARTED: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _stop_what_we_started() -> Iterator[None]:
    yield
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    STARTED.clear()


def sleeper(env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    STARTED.append(subprocess.Popen(["sleep", "600"], env={**os.environ, **(env or {})}))
    time.sleep(0.1)  # exec'd: its environment is the one given
    return STARTED[-1]


def start_time(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


def plant(home: dict[str, Path], run_id: str | None = None, name: str | None = None,
          **fields: object) -> Path:  # fmt: skip
    """A record of a dead run (its pid is no process) with `fields` over the defaults."""
    run_id = run_id or uuid.uuid4().hex
    runs = home["cache"] / "runs"
    runs.mkdir(parents=True, exist_ok=True, mode=0o700)
    record = {"id": run_id, "pid": 4_000_000, "started": "1", "dirs": [], "containers": [],
              "processes": [], **fields}  # fmt: skip
    path = runs / (name or f"{run_id}.json")
    path.write_text(json.dumps(record))
    return path


def next_pinbot(home: dict[str, Path]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PINBOT_CACHE_DIR": str(home["cache"]), "TMPDIR": str(home["temp"])}
    return subprocess.run(
        [sys.executable, "-m", "pinbot", "--version"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def alive(proc: subprocess.Popen[bytes]) -> bool:
    return proc.poll() is None


@pytest.mark.parametrize(
    "where",
    [
        lambda h: str(h["victim"]),
        lambda h: f"{h['temp']}/pinbot-x/../../victim",
        lambda h: f"{h['temp']}/../victim",
        lambda h: "/",
        lambda h: "relative/pinbot-x",
    ],
    ids=["outside", "dot-dot", "temp-dot-dot", "root", "relative"],
)
def test_a_record_naming_a_directory_outside_the_temporary_root_is_left_alone(
    home: dict[str, Path], where: object
) -> None:
    named = where(home)  # type: ignore[operator]
    plant(home, dirs=[named])

    done = next_pinbot(home)

    assert done.returncode == 0, done.stderr
    assert (home["victim"] / "precious").read_text() == "keep me\n"
    assert "which is no pinbot-* directory of the user's" in done.stderr


def test_a_symlink_named_like_pinbots_directory_is_not_followed(home: dict[str, Path]) -> None:
    link = home["temp"] / "pinbot-probe-link"
    link.symlink_to(home["victim"])
    plant(home, dirs=[str(link), str(link / "precious")])

    done = next_pinbot(home)

    assert done.returncode == 0, done.stderr
    assert (home["victim"] / "precious").exists() and link.is_symlink()
    assert "left alone" in done.stderr


def test_pinbots_own_directory_in_the_temporary_root_is_still_removed(
    home: dict[str, Path],
) -> None:
    made = home["temp"] / "pinbot-cut-abc"
    (made / "clone").mkdir(parents=True)
    plant(home, dirs=[str(made)])

    done = next_pinbot(home)

    assert done.returncode == 0, done.stderr
    assert not made.exists() and "warning" not in done.stderr
    assert list((home["cache"] / "runs").iterdir()) == []


def test_a_record_naming_an_unrelated_process_kills_nothing(home: dict[str, Path]) -> None:
    run_id = uuid.uuid4().hex
    plain = sleeper()
    tagged = sleeper({"PINBOT_RUN": run_id})  # carries the id, yet pinbot never started it
    named = [{"pid": p.pid, "started": start_time(p.pid)} for p in (plain,)]
    named += [{"pid": 1, "started": start_time(1)}, {"pid": tagged.pid, "started": "1"}]
    plant(home, run_id, processes=named)

    done = next_pinbot(home)

    assert done.returncode == 0, done.stderr
    assert alive(plain) and alive(tagged)
    assert f"names process {plain.pid}" in done.stderr and "which is not this run's" in done.stderr
    assert "names process 1, which is not the one pinbot started" in done.stderr


def test_a_record_whose_own_pid_is_init_or_invalid_is_ignored(home: dict[str, Path]) -> None:
    made = home["temp"] / "pinbot-gate-x"
    made.mkdir()
    plant(home, pid=1, started=start_time(1), dirs=[str(made)])
    plant(home, pid="1; rm -rf /", dirs=[str(made)])
    plant(home, name="not-a-run-id.json", dirs=[str(made)])
    other = plant(home, dirs=[str(made)])
    other.rename(other.with_name(uuid.uuid4().hex + ".json"))  # its id is not its name

    done = next_pinbot(home)

    assert done.returncode == 0, done.stderr
    assert made.exists()
    assert done.stderr.count("is no run record pinbot wrote; ignored") == 3
    assert "is not a run record pinbot writes" in done.stderr


def test_a_record_that_is_a_symlink_is_ignored(home: dict[str, Path], tmp_path: Path) -> None:
    made = home["temp"] / "pinbot-gate-x"
    made.mkdir()
    elsewhere = plant(home, dirs=[str(made)])
    outside = tmp_path / "outside.json"
    elsewhere.rename(outside)
    (home["cache"] / "runs" / elsewhere.name).symlink_to(outside)

    done = next_pinbot(home)

    assert done.returncode == 0, done.stderr
    assert made.exists() and outside.exists()
    assert "is not a run record pinbot writes" in done.stderr


@pytest.mark.parametrize("how", ["cache-symlink", "runs-symlink", "runs-world-writable",
                                 "cache-world-writable"])  # fmt: skip
def test_a_cache_directory_that_is_not_private_keeps_no_records(
    home: dict[str, Path], tmp_path: Path, how: str
) -> None:
    made = home["temp"] / "pinbot-cut-x"
    made.mkdir()
    real = tmp_path / "real-cache"
    real.mkdir()
    planted = {"cache": real, "temp": home["temp"], "victim": home["victim"]}
    plant(planted, dirs=[str(made)])
    runs = home["cache"] / "runs"
    if how == "cache-symlink":
        home["cache"].symlink_to(real)
    else:
        home["cache"].mkdir()
        if how == "runs-symlink":
            runs.symlink_to(real / "runs")
        else:
            (real / "runs").rename(runs)
            (runs if how == "runs-world-writable" else home["cache"]).chmod(0o777)

    done = next_pinbot(home)

    assert done.returncode == 0, done.stderr
    assert made.exists()
    assert "pinbot keeps no run records" in done.stderr
    assert "make it a directory of your own, mode 700" in done.stderr


def test_the_cache_and_runs_are_made_private(home: dict[str, Path]) -> None:
    cache = home["cache"] / "deep" / "er"
    home["cache"] = cache

    done = subprocess.run(
        [sys.executable, "-m", "pinbot", "probe", "--target", "agent-server",
         "--server-command", "false {port}", "--agents", "codex", "--timeout", "20"],
        env={**os.environ, "PINBOT_CACHE_DIR": str(cache), "TMPDIR": str(home["temp"])},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 3, done.stderr  # the server exits at once
    for made in (cache.parent, cache, cache / "runs"):
        assert made.stat().st_mode & 0o777 == 0o700


# An agent server that never answers: a process, a child in its group, and one that left it.
SERVER = "sh -c 'setsid sleep 600 & sleep 600 & exec sleep 600' {port}"


def test_after_a_sigkill_the_next_pinbot_still_removes_what_the_run_made(
    home: dict[str, Path],
) -> None:
    tag = uuid.uuid4().hex
    env = {**os.environ, "PINBOT_CACHE_DIR": str(home["cache"]), "TMPDIR": str(home["temp"]),
           "HOSTILE_TAG": tag}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "pinbot", "probe", "--target", "agent-server", "--server-command",
         SERVER, "--agents", "codex", "--timeout", "300"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    STARTED.append(proc)  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    while len(sleeps(tag)) < 3 or not list(home["temp"].glob("pinbot-probe-*")):
        assert time.monotonic() < deadline, "the probe's server did not start"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(sleeps(tag)) == 3

    done = next_pinbot(home)

    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 5
    while sleeps(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sleeps(tag) == [] and list(home["temp"].glob("pinbot-*")) == []
    assert "warning" not in done.stderr


def sleeps(tag: str) -> list[int]:
    """The `sleep 600` processes carrying HOSTILE_TAG=`tag` (not zombies)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if f"HOSTILE_TAG={tag}".encode() in environ and state != "Z" and b"sleep" in cmdline:
            found.append(int(entry.name))
    return found
