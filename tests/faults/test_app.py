"""App-server faults during `pinbot probe --target app`: the stand-in app server, real ACP agents.

Faults come from the app server's own modes or from a FaultProxy in front of it. Every run must
leave no sandbox on the app server and no process of this test alive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testing import world
from testing.cli import pinbot
from testing.matrix import Fault, Row, Run, check
from testing.proxy import FaultProxy, Rule

AREA = "app server"
START = r"^/api/v1/app-conversations$"
POLL = r"^/api/v1/app-conversations/start-tasks"


def fault(name: str, code: int, says: str, outcome: str, **options: Any) -> Fault:
    return Fault(AREA, name, code, says, outcome, options)


FAULTS = [
    fault(
        "the API key is refused (401)",
        3, "set PINBOT_APP_API_KEY",
        "stops before starting anything: says to set PINBOT_APP_API_KEY",
        wrong_key=True,
    ),
    fault(
        "503 on starting a conversation",
        3, "check its logs, then re-run",
        "verdict error at the start step, says to check the server's logs",
        rule={"method": "POST", "path": START, "status": 503,
              "body": b'{"detail": "Service Unavailable"}'},
    ),
    fault(
        "the start task never finishes",
        3, "(--timeout)",
        "verdict error after --timeout, nothing left on the server",
        mode="start-stuck", timeout="2",
    ),
    fault(
        "the connection drops mid-poll, once",
        0, '"verdict": "native"',
        "retries the poll and proves native resume",
        rule={"method": "GET", "path": POLL, "drop": True, "times": 1},
    ),
    fault(
        "the connection drops on every poll, past the retries",
        3, "check the URL and that the server is running",
        "verdict error after its retries; the sandbox it cannot see is found and deleted",
        rule={"method": "GET", "path": POLL, "drop": True, "times": 4},
    ),
]  # fmt: skip


def probe(capsys: pytest.CaptureFixture[str], url: str, timeout: str) -> Run:
    code, out, err = pinbot(
        *["--json", "probe", "--app-url", url, "--agents", "codex", "--timeout", timeout]
    )
    return Run(code, out, err)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_app_fault(
    fault: Fault, row: Row, capsys, tag: str, temp: Path, tmp_path: Path, monkeypatch
) -> None:
    options = fault.options
    with world.app_server(tmp_path / "app", options.get("mode", "native")) as app:
        monkeypatch.setenv(
            "PINBOT_APP_API_KEY", "wrong-key" if options.get("wrong_key") else app.key
        )
        with FaultProxy(app.url.removeprefix("http://")) as proxy:
            rule = proxy.add(Rule(**options["rule"])) if "rule" in options else None
            run = probe(capsys, f"http://{proxy.address}", options.get("timeout", "20"))
        left = app.sandboxes()

    row.state = "no sandbox left on the app server" if not left else f"sandboxes left: {left}"
    row.data_lost = False  # a probe writes nothing that outlives it but sandboxes (checked)
    check(fault, row, run, tag, temp)
    assert left == []
    assert rule is None or rule.hits > 0
    if run.out.startswith("{"):
        assert json.loads(run.out)["verdict"] == ("native" if fault.exit_code == 0 else "error")
