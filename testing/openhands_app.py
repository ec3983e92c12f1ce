"""The released OpenHands app server (PyPI `openhands-ai`), run locally for tests.

`scripts/dev setup` installs it into a cached Python 3.12 venv (`py312_venv openhands-ai`);
`RealAppServer` starts it with process sandboxes (each sandbox is an agent-server process the app
server spawns, in a directory named after the sandbox) inside a `LoopbackOnly` network namespace:
it and everything it starts can reach 127.0.0.1 and nothing else (the released server fetches
LiteLLM's model price list from GitHub at start, for one). The launcher applies the workarounds
a local user of the released server needs (`testing/openhands_app_launch.py`).

Every process the server starts stays in its session (`start_new_session`), so `processes()`
finds them all, sandboxes and their ACP agents included, and `stop()` ends them all.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from pinbot.net import free_port
from testing.netns import LoopbackOnly

VERSION = "1.11.0"
LAUNCHER = Path(__file__).with_name("openhands_app_launch.py")
KILLER = Path(__file__).with_name("kill_sandbox.py")
START_SECONDS = 240  # the server imports for 20-60 s on a busy 2-core runner


class AppServerError(RuntimeError):
    pass


def tools_dir() -> Path:
    """Where `scripts/dev` keeps the Python 3.12 venvs (the same rule as its TOOLS_DIR)."""
    if os.environ.get("PINBOT_TOOLS_DIR"):
        return Path(os.environ["PINBOT_TOOLS_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pinbot-dev"


def venv_python() -> Path:
    return tools_dir() / "openhands-ai" / "bin" / "python"


def installed() -> str | None:
    """Why the app server cannot run here, or None when it can."""
    stamp = tools_dir() / "openhands-ai" / ".pinbot-requirements"
    if not stamp.is_file() or f"openhands-ai=={VERSION}" not in stamp.read_text():
        return f"openhands-ai {VERSION} is not installed: run scripts/dev setup"
    return None


class RealAppServer:
    def __init__(self, root: Path, ns: LoopbackOnly, session_key: str | None = None) -> None:
        self.root = root
        self.ns = ns
        self.key = session_key or secrets.token_urlsafe(16)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "app-server.log"
        self.sandboxes_dir = root / "tmp" / "openhands-sandboxes"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE")
        env = {name: os.environ[name] for name in keep if name in os.environ}
        for name in ("tmp", "home", "state"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        env.update(
            RUNTIME="process",  # sandboxes are agent-server processes next to the app server
            OH_PERSISTENCE_DIR=str(self.root / "state"),
            TMPDIR=str(self.root / "tmp"),  # the sandboxes' directories go under it
            HOME=str(self.root / "home"),
            SESSION_API_KEY=self.key,  # locked: only X-Session-API-Key is accepted
            LITELLM_LOCAL_MODEL_COST_MAP="True",  # do not fetch the price list from GitHub
            # process sandboxes inherit this environment: their agent servers post events here
            # (the server sets it only for Docker and remote sandboxes)
            OH_WEBHOOKS_0_BASE_URL=f"{self.url}/api/v1/webhooks",
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self) -> None:
        with self.ns.entered():
            self.port = free_port()
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(venv_python()), str(LAUNCHER), "--port", str(self.port)],
                    cwd=self.root,
                    env=self.environment(),
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            self._wait_up()

    def _wait_up(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise AppServerError(f"the app server exited: {self.tail()}")
            try:
                requests.get(f"{self.url}/api/v1/settings", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.5)
        raise AppServerError(f"the app server did not answer in {START_SECONDS}s: {self.tail()}")

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-1500:]
        except OSError:
            return "(no log)"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.ns.entered():
            response = requests.request(
                method,
                f"{self.url}/api/v1{path}",
                headers={"X-Session-API-Key": self.key},
                timeout=30,
                **kwargs,
            )
        response.raise_for_status()
        return response.json() if response.content else None

    def sandboxes(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/sandboxes/search", params={"limit": 100})["items"])

    def processes(self) -> list[int]:
        """Every process the server started that is still there (its session, minus itself)."""
        if self.proc is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != self.proc.pid:
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                fields = stat[stat.rindex(")") + 2 :].split()
                if int(fields[3]) == self.proc.pid and fields[0] != "Z":  # session id
                    found.append(int(entry.name))
        return found

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                if not self.processes():
                    break
            except subprocess.TimeoutExpired:
                continue
        self.proc = None

    def __enter__(self) -> RealAppServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
