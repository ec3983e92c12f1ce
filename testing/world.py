"""Start the stand-in servers as real processes, and find what is left running afterwards.

Every process started here (and everything it starts) inherits `HARNESS_RUN=<id>`, so a test can
list leftovers by that tag instead of guessing by name.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pinbot.demo import agent_server as demo_server
from pinbot.net import free_port, wait_for_http

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout: holds `pinbot` and `testing`


def harness_env(**extra: str) -> dict[str, str]:
    """The environment for harness processes: importable `pinbot` and `testing`, plus `extra`."""
    path = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT))
    env.update(extra)
    return env


def server_command(version: str = "harness") -> str:
    """A `--server-command` that runs the stand-in agent server with the test agent (its
    faults from HARNESS_AGENT_MODE), reporting `version`."""
    return demo_server.command(version, module="testing.agent_server", home=REPO_ROOT)


def acp_command(name: str = "custom") -> str:
    """An `--acp-command` that runs the test ACP agent, its sessions kept under {workdir}."""
    return (
        f"{shlex.quote(sys.executable)} -m testing.acp_agent --name {name} "
        "--store {workdir}/../custom-acp-store"
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the servers take their children down), then make sure of the whole group."""
    if proc.poll() is None:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    _kill_group(proc.pid)
    proc.wait()


@dataclass
class AppServer:
    url: str
    keys: list[str]
    proc: subprocess.Popen[bytes]

    @property
    def key(self) -> str:
        return self.keys[0]

    def sandboxes(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/harness/sandboxes", timeout=5) as response:
            return list(json.loads(response.read()))


@contextmanager
def app_server(
    root: Path, mode: str = "native", accounts: int = 1, **env: str
) -> Iterator[AppServer]:
    """The stand-in app server; `accounts` API keys, one account (and settings) each."""
    port = free_port()
    keys = [f"app-key-{uuid.uuid4().hex}" for _ in range(accounts)]
    command = [sys.executable, "-m", "testing.app_server", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--root", str(root)],
        env=harness_env(HARNESS_APP_KEY=",".join(keys), HARNESS_APP_MODE=mode, **env),
        start_new_session=True,
    )
    server = AppServer(f"http://127.0.0.1:{port}", keys, proc)
    try:
        wait_for_http(f"{server.url}/harness/sandboxes", proc)
        yield server
    finally:
        stop(proc)


@contextmanager
def agent_server(workdir: Path, port: int, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A stand-in agent server started outside pinbot (for --agent-server-url)."""
    proc = start_agent_server(workdir, port, env)
    try:
        yield proc
    finally:
        stop(proc)
        # a --recycle-command may have replaced it: stop whatever runs there now
        _kill_group(int((workdir / "server.pid").read_text()))


def _kill_group(pid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie (where nothing reaps orphans, they linger)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def start_agent_server(workdir: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "testing.agent_server", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--workdir", str(workdir)], env=harness_env(**env), start_new_session=True
    )
    (workdir / "server.pid").write_text(str(proc.pid))
    wait_for_http(f"http://127.0.0.1:{port}/health", proc)
    return proc


def tagged_processes(tag: str, ignore: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """`pid cmdline` of every live process whose environment carries HARNESS_RUN=`tag`."""
    found = []
    needle = f"HARNESS_RUN={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in ignore | {os.getpid()}:
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if state != "Z":
            found.append(f"{entry.name} {cmdline}")
    return found


def restart_main() -> None:
    """`python -m testing.world WORKDIR PORT`: a --recycle-command for a stand-in."""
    workdir, port = Path(sys.argv[1]), int(sys.argv[2])
    pid = int((workdir / "server.pid").read_text())
    _kill_group(pid)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.02)
    start_agent_server(workdir, port, {})


if __name__ == "__main__":
    restart_main()
