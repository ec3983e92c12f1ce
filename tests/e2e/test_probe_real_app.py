"""`pinbot probe --target app` against the released OpenHands app server (openhands-ai 1.11.0).

Minutes long, so they run under CI=true, `scripts/dev test` and with PINBOT_REAL_SERVERS=1.
One server for the module, locked with SESSION_API_KEY, with process sandboxes, in a network
namespace with loopback only (`testing/openhands_app.py`); the ACP agent is the test kit's small
one (`--acp-command`), keeping its sessions in the sandbox's directory. pinbot runs in-process,
inside the same namespace. After every probe no sandbox and no process of the server's is left.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from testing import openhands_app
from testing.cli import pinbot
from testing.netns import LoopbackOnly, NamespaceError
from testing.openhands_app import RealAppServer
from testing.services import missing_service

pytestmark = pytest.mark.timeout(900)

STORE = "acp-store"  # relative: the ACP agent runs in the sandbox's directory
ACP = f"{sys.executable} -m pinbot.demo.acp_agent --name codex --store {STORE}"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealAppServer]:
    if not (os.environ.get("CI") or os.environ.get("PINBOT_REAL_SERVERS")):
        pytest.skip(
            "the released app server takes minutes: set PINBOT_REAL_SERVERS=1 to run it "
            "(CI=true and scripts/dev test do)"
        )
    why = openhands_app.installed()
    if why:
        missing_service(why)
    try:
        ns = LoopbackOnly()
    except NamespaceError as exc:
        missing_service(f"a loopback-only network namespace ({exc})")
    server = RealAppServer(tmp_path_factory.mktemp("openhands-app"), ns)
    try:
        server.start()  # a server that is installed but does not start fails the tests
        yield server
    finally:
        server.stop()
        ns.close()


@pytest.fixture
def probe(app: RealAppServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PINBOT_APP_API_KEY", app.key)

    def run(*argv: str, auth: str = "session-key") -> tuple[int, dict[str, Any], str]:
        started = time.monotonic()
        with app.ns.entered():
            code, out, err = pinbot(
                *("--json", "probe", "--app-url", app.url, "--app-auth", auth),
                *("--agents", "codex", "--acp-command", ACP, "--timeout", "240", *argv),
            )
        print(f"probe {' '.join(argv)}: exit {code} in {time.monotonic() - started:.0f}s")
        data = json.loads(out) if out.startswith("{") else {}
        return code, data, err

    yield run
    assert app.sandboxes() == []
    assert_no_process_left(app)


def assert_no_process_left(app: RealAppServer) -> None:
    deadline = time.monotonic() + 10  # a terminated agent server takes a moment to exit
    while (left := app.processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == []


def kill_command(app: RealAppServer, *extra: str) -> str:
    script = Path(openhands_app.KILLER)
    return f"{sys.executable} {script} {app.sandboxes_dir}/{{sandbox_id}} {' '.join(extra)}"


def settings_status(app: RealAppServer) -> int:
    with app.ns.entered():
        return requests.get(
            f"{app.url}/api/v1/settings", headers={"X-Session-API-Key": app.key}, timeout=30
        ).status_code


def test_a_fresh_server_is_probed_and_a_command_that_restarts_the_sandbox_is_native(
    app: RealAppServer, probe: Any
) -> None:
    assert settings_status(app) == 404  # fresh: nothing saved yet
    code, data, err = probe("--recycle", "command", "--recycle-command", kill_command(app))
    assert (code, data["verdict"]) == (0, "native"), err
    codex = data["agents"][0]
    assert codex["restarted"] is True
    assert codex["acp_session_id_after"] == codex["acp_session_id_before"]
    assert codex["codeword_recalled"] and not codex["marker_found"]
    assert settings_status(app) == 200


def test_a_command_recycle_that_wipes_the_agents_store_is_lost(
    app: RealAppServer, probe: Any
) -> None:
    command = kill_command(app, "--wipe", STORE)
    code, data, err = probe("--recycle", "command", "--recycle-command", command)
    assert (code, data["verdict"]) == (1, "lost"), err
    codex = data["agents"][0]
    assert codex["restarted"] is True
    assert codex["acp_session_id_after"] != codex["acp_session_id_before"]
    assert not codex["codeword_recalled"]


def test_pause_on_a_process_sandbox_restarts_nothing_so_it_proves_nothing(
    app: RealAppServer, probe: Any
) -> None:
    code, data, err = probe("--recycle", "pause")
    assert code != 0 and data["verdict"] == "error", err
    codex = data["agents"][0]
    assert codex["restarted"] is False
    assert codex["error"] == "the recycle restarted nothing; this proves nothing"


def test_restart_deletes_the_sandbox_with_its_directory_so_the_context_is_lost(
    app: RealAppServer, probe: Any
) -> None:
    code, data, err = probe("--recycle", "restart")
    assert (code, data["verdict"]) == (1, "lost"), err
    codex = data["agents"][0]
    assert codex["restarted"] is True
    assert not codex["codeword_recalled"]


def test_a_bearer_key_on_a_server_locked_with_session_api_key_says_how_to_send_it(
    app: RealAppServer, probe: Any
) -> None:
    code, _, err = probe("--recycle", "restart", auth="bearer")
    assert code == 3
    assert "HTTP 401" in err and "--app-auth session-key" in err
    assert app.key not in err


def test_the_probes_stayed_under_the_servers_rate_limit(app: RealAppServer) -> None:
    """Runs last: the probes above made hundreds of requests, and none was refused with 429."""
    log = app.log.read_text(errors="replace")
    assert log.count('"GET /api/v1/') > 100
    assert '" 429' not in log
