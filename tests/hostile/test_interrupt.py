"""Interrupts and cancels: `python -m pinbot` as a process of its own, stopped by Ctrl-C (SIGINT
to its process group), a CI cancel (SIGTERM to pinbot) or SIGKILL, while a two-agent probe
waits on the agent server they share, which never comes up (with a child that left the process group
with setsid) or while a registry read hangs. Every process it started must be gone and every
temporary directory removed: at once for SIGINT/SIGTERM (exit 130), by the next pinbot to start
after a SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing import world
from testing.cutworld import IMAGE
from testing.hostile import Answer, Liar
from testing.images import build_agent_image, push_image
from testing.services import missing_service

AREA = "interrupts"
ATTACK = (
    "Ctrl-C and SIGTERM during a two-agent probe whose servers never come up (one child "
    "escaped with `setsid`); SIGKILL of pinbot; Ctrl-C while a worker's read hangs"
)
ANSWER = (
    "stops at once, kills every process of the run, removes its directories; after a SIGKILL "
    "the next pinbot does it"
)
EXIT = "130"

# An agent server that never answers /health: a process, a child in its group, and a child
# that escaped the group (setsid), all of them sleeping long past any test.
SERVER = "sh -c 'setsid sleep 600 & sleep 600 & exec sleep 600' {port}"


@pytest.fixture
def tag(monkeypatch: pytest.MonkeyPatch) -> str:
    value = uuid.uuid4().hex
    monkeypatch.setenv("HARNESS_RUN", value)  # inherited by pinbot and all it starts
    return value


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    return directory


@pytest.fixture(autouse=True)
def _stop_what_we_started() -> Iterator[None]:
    """A failing test must not leave its pinbot running."""
    yield
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    STARTED.clear()


STARTED: list[subprocess.Popen[str]] = []


def start(*argv: str) -> subprocess.Popen[str]:
    STARTED.append(_popen(*argv))
    return STARTED[-1]


def _popen(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pinbot", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives a command
    )


def probe() -> subprocess.Popen[str]:
    return start(
        "probe", "--target", "agent-server", "--server-command", SERVER,
        "--agents", "claude-code,codex", "--timeout", "300",
    )  # fmt: skip


def wait_for(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def leftovers(tag: str, temp: Path) -> tuple[list[str], list[str]]:
    deadline = time.monotonic() + 3
    while (left := world.tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left, sorted(p.name for p in temp.glob("pinbot-*"))


def servers_up(tag: str, temp: Path) -> bool:
    """The agent server both agents share started (three sleeps) and its directory exists."""
    sleeps = [p for p in world.tagged_processes(tag) if " sleep 600" in f" {p.split(' ', 1)[1]}"]
    return len(sleeps) >= 3 and len(list(temp.glob("pinbot-probe-*"))) == 1


@pytest.mark.parametrize(
    ("signum", "to_group"), [(signal.SIGINT, True), (signal.SIGTERM, False)], ids=["ctrl-c", "term"]
)
def test_a_probe_interrupted_stops_everything_at_once(
    signum: int, to_group: bool, tag: str, temp: Path
) -> None:
    proc = probe()
    wait_for(lambda: servers_up(tag, temp), 60)

    sent = time.monotonic()
    if to_group:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 5
    assert "re-run the same command" in err
    assert leftovers(tag, temp) == ([], [])


def test_after_a_sigkill_the_next_pinbot_removes_what_the_dead_one_left(
    tag: str, temp: Path
) -> None:
    proc = probe()
    wait_for(lambda: servers_up(tag, temp), 60)
    proc.kill()
    proc.wait(timeout=10)
    left, dirs = leftovers(tag, temp)
    assert len(left) >= 3 and len(dirs) == 1  # what a CI cancel's SIGKILL leaves behind

    done = subprocess.run(
        [sys.executable, "-m", "pinbot", "--version"], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert leftovers(tag, temp) == ([], [])


def test_ctrl_c_during_a_stuck_read_returns_at_once(images: Any, tag: str, temp: Path) -> None:
    # The manifests are read by the scan's worker threads: the main thread waits on them.
    with Liar(images.registry) as server:
        server.on("GET", "/manifests/", lambda _: (time.sleep(600), Answer())[1])
        proc = start("scan", "--image", IMAGE, "--registry-url", server.address,
                     "--sdk", str(images.world.sdk))  # fmt: skip
        wait_for(lambda: any("/manifests/" in s.path for s in server.seen), 30)
        time.sleep(0.5)

        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 3


@pytest.fixture(scope="module")
def never_healthy_image(registry: str, docker_client: Any) -> Iterator[str]:
    """A stand-in image whose agent server never answers: its container just sleeps."""
    if shutil.which("busybox") is None:
        missing_service("busybox (Debian package busybox-static), for the test image")
    name = f"{registry}/hostile/agent-server:never-healthy"
    image_id = build_agent_image(docker_client, name, build_sha=None, routes=False, healthy=False)
    push_image(docker_client, name)
    yield name
    docker_client.images.remove(image_id, force=True)


def test_after_a_sigkill_the_next_pinbot_removes_the_dead_ones_containers(
    never_healthy_image: str, docker_client: Any, tag: str, temp: Path
) -> None:
    runs = Path(os.environ["PINBOT_CACHE_DIR"]) / "runs"

    def recorded() -> list[str]:
        found = [json.loads(p.read_text()) for p in runs.glob("*.json")] if runs.is_dir() else []
        return [c for record in found for c in record.get("containers", [])]

    proc = start("probe", "--target", "agent-server", "--image", never_healthy_image,
                 "--agents", "codex", "--timeout", "300")  # fmt: skip
    wait_for(lambda: recorded(), 120)
    (container,) = recorded()
    proc.kill()
    proc.wait(timeout=10)
    assert docker_client.containers.get(container).status in ("created", "running")

    done = subprocess.run(
        [sys.executable, "-m", "pinbot", "--version"], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert container not in [c.id for c in docker_client.containers.list(all=True)]
    assert recorded() == []
