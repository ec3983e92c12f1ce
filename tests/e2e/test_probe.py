"""`pinbot probe` end to end against the stand-in servers, with real ACP agent processes.

Every test tags the processes it causes (HARNESS_RUN) and checks afterwards that none is left,
and that the app server has no sandbox left.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pinbot.net import free_port
from testing import world
from testing.cli import pinbot

AGENTS = "claude-code,codex"


@pytest.fixture(autouse=True)
def run_tag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    tag = uuid.uuid4().hex
    monkeypatch.setenv("HARNESS_RUN", tag)
    monkeypatch.setenv("PYTHONPATH", world.harness_env()["PYTHONPATH"])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # pinbot's work dirs land here
    yield tag
    assert_nothing_running(tag)


def assert_nothing_running(tag: str) -> None:
    deadline = time.monotonic() + 3  # SIGKILLed children may take a moment to vanish
    while (left := world.tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == []


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err
        self.data: dict[str, Any] = json.loads(out) if out.startswith("{") else {}

    def agent(self, name: str) -> dict[str, Any]:
        return next(a for a in self.data["agents"] if a["agent"] == name)


@pytest.fixture
def probe(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*argv: str, verbose: bool = False) -> Run:
        return Run(*pinbot(*(["-v"] if verbose else []), "--json", "probe", *argv))

    return run


@pytest.fixture
def own_keys(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Give each agent its own app account, so the probe runs them concurrently."""

    def use(app: world.AppServer) -> None:
        monkeypatch.setenv("PINBOT_APP_API_KEY", app.keys[0])
        monkeypatch.setenv("PINBOT_APP_API_KEY_CLAUDE_CODE", app.keys[0])
        monkeypatch.setenv("PINBOT_APP_API_KEY_CODEX", app.keys[1])

    return use


@pytest.mark.parametrize(
    ("mode", "recycle", "verdict", "code"),
    [
        ("native", "pause", "native", 0),
        ("bootstrap", "restart", "bootstrap", 1),
        ("lost", "pause", "lost", 1),
        ("crash", "restart", "error", 3),
    ],
)
def test_app_probe_gives_the_verdict_of_each_mode_for_both_agents(
    tmp_path: Path, probe: Any, own_keys: Any, mode: str, recycle: str, verdict: str, code: int
) -> None:
    with world.app_server(tmp_path / "app", mode, accounts=2) as app:
        own_keys(app)
        run = probe("--app-url", app.url, "--recycle", recycle, "--timeout", "20")
        assert app.sandboxes() == []
    assert (run.code, run.data["verdict"]) == (code, verdict), run.err
    for name in ("claude-code", "codex"):
        agent = run.agent(name)
        assert agent["verdict"] == verdict
        assert agent["acp_session_id_before"].startswith(name)
        same = agent["acp_session_id_after"] == agent["acp_session_id_before"]
        assert same == (mode == "native")
        assert agent["marker_found"] == (mode == "bootstrap")
        assert agent["codeword_recalled"] == (mode in ("native", "bootstrap"))
    if mode == "crash":
        assert run.agent("codex")["step"] == "recall"
        assert "exited" in run.agent("codex")["error"]
    assert run.data["build_git_sha"] == "0123456789abcdef0123456789abcdef01234567"


def test_app_probe_reports_a_sandbox_stuck_in_starting_within_the_timeout(
    tmp_path: Path, probe: Any, own_keys: Any
) -> None:
    with world.app_server(tmp_path / "app", "stuck", accounts=2) as app:
        own_keys(app)
        started = time.monotonic()
        run = probe("--app-url", app.url, "--recycle", "pause", "--timeout", "8")
        assert time.monotonic() - started < 30
        assert app.sandboxes() == []
    assert run.code == 3
    for name in ("claude-code", "codex"):
        assert run.agent(name)["step"] == "recycle"
        assert "still STARTING" in run.agent(name)["error"]


def test_a_refused_api_key_exits_3_with_advice_and_never_prints_the_key(
    tmp_path: Path, probe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-key-" + uuid.uuid4().hex
    monkeypatch.setenv("PINBOT_APP_API_KEY", wrong)
    with world.app_server(tmp_path / "app") as app:
        run = probe("--app-url", app.url)
    assert run.code == 3
    assert "401" in run.err and "PINBOT_APP_API_KEY" in run.err
    assert wrong not in run.out + run.err


def test_an_app_url_that_does_not_answer_exits_3(
    probe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINBOT_APP_API_KEY", "some-key")
    url = f"http://127.0.0.1:{free_port()}"
    run = probe("--app-url", url, "--timeout", "5")
    assert run.code == 3
    assert f"the app server at {url}/api/v1 does not answer" in run.err


def test_a_start_task_that_ends_in_error_is_an_error_verdict(
    tmp_path: Path, probe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world.app_server(tmp_path / "app", "start-error") as app:
        monkeypatch.setenv("PINBOT_APP_API_KEY", app.key)
        run = probe("--app-url", app.url, "--timeout", "5")
        assert app.sandboxes() == []
    assert (run.code, run.data["verdict"]) == (3, "error")
    for name in ("claude-code", "codex"):
        assert run.agent(name)["step"] == "start"
        assert "ended in ERROR: sandbox failed to start" in run.agent(name)["error"]


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("send-409", "not running"),
        ("send-410", "archived"),
        ("send-404", "no sandbox for the conversation"),
        ("send-503", "in error"),
    ],
)
def test_send_message_refusals_are_error_verdicts_at_the_recall_step(
    tmp_path: Path, probe: Any, monkeypatch: pytest.MonkeyPatch, mode: str, says: str
) -> None:
    with world.app_server(tmp_path / "app", mode) as app:
        monkeypatch.setenv("PINBOT_APP_API_KEY", app.key)
        run = probe("--app-url", app.url, "--agents", "codex", "--timeout", "20")
        assert app.sandboxes() == []
    assert run.code == 3
    codex = run.agent("codex")
    assert codex["step"] == "recall"
    assert f"HTTP {mode[-3:]}" in codex["error"] and says in codex["error"]
    # a 409 (paused or starting) is answered by resuming the sandbox and sending once more
    assert ("resuming it" in run.err) == (mode == "send-409")


def test_the_marker_on_page_three_is_found_and_the_keys_and_codeword_stay_out_of_logs(
    tmp_path: Path, probe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world.app_server(tmp_path / "app", "bootstrap", HARNESS_PAGE_SIZE="1") as app:
        monkeypatch.setenv("PINBOT_APP_API_KEY", app.key)
        run = probe(
            "--app-url",
            app.url,
            "--agents",
            "claude-code",
            "--timeout",
            "20",
            "--keep",
            verbose=True,
        )
        agent = run.agent("claude-code")
        pages = event_pages(app, agent["conversation_id"])
        session_keys = [s["session_api_key"] for s in app.sandboxes()]
        requests.delete(
            f"{app.url}/api/v1/app-conversations/{agent['conversation_id']}",
            headers={"Authorization": f"Bearer {app.key}"},
            timeout=10,
        )
        assert app.sandboxes() == []
    assert [("<<RESUMED CONVERSATION>>" in json.dumps(p)) for p in pages[:3]] == [
        False,
        False,
        True,
    ]
    assert (run.code, agent["verdict"], agent["marker_found"]) == (1, "bootstrap", True)
    codeword = agent["detail"].split()[1].rstrip(";")
    assert codeword.startswith("pinbot-")
    assert codeword not in run.err
    for secret in [app.key, *session_keys]:
        assert secret and secret not in run.out + run.err


def event_pages(app: world.AppServer, conversation_id: str) -> list[list[dict[str, Any]]]:
    url = f"{app.url}/api/v1/conversation/{conversation_id}/events/search"
    headers = {"Authorization": f"Bearer {app.key}"}
    pages, page_id = [], None
    while True:
        params = {"limit": 100, **({"page_id": page_id} if page_id else {})}
        found = requests.get(url, params=params, headers=headers, timeout=10).json()
        pages.append(found["items"])
        page_id = found["next_page_id"]
        if not page_id:
            return pages


@pytest.mark.parametrize(
    ("agent_mode", "agents", "verdict", "code"),
    [("remember", AGENTS, "native", 0), ("forget", "codex", "lost", 1)],
)
def test_server_command_probe_restarts_the_server_and_reports_its_build(
    tmp_path: Path,
    probe: Any,
    monkeypatch: pytest.MonkeyPatch,
    agent_mode: str,
    agents: str,
    verdict: str,
    code: int,
) -> None:
    monkeypatch.setenv("HARNESS_AGENT_MODE", agent_mode)
    report = tmp_path / "probe.json"
    run = probe(
        "--target", "agent-server", "--server-command", world.server_command(),
        "--agents", agents, "--timeout", "20", "--report", str(report),
    )  # fmt: skip
    assert (run.code, run.data["verdict"]) == (code, verdict), run.err
    assert json.loads(report.read_text()) == run.data
    assert run.data["build_git_sha"] == "0123456789abcdef0123456789abcdef01234567"
    for name in agents.split(","):
        agent = run.agent(name)
        assert agent["codeword_recalled"] == (verdict == "native")
        assert (agent["acp_session_id_after"] == agent["acp_session_id_before"]) == (
            verdict == "native"
        )
    assert not list(tmp_path.glob("pinbot-probe-*")), "the fresh work dirs are removed"


def test_an_agent_that_never_answers_is_bounded_by_the_timeout(
    probe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_AGENT_MODE", "silent")
    started = time.monotonic()
    run = probe(
        "--target", "agent-server", "--server-command", world.server_command(),
        "--agents", "codex", "--timeout", "2",
    )  # fmt: skip
    assert time.monotonic() - started < 15
    assert run.code == 3
    assert run.agent("codex")["step"] == "plant"
    assert "waiting for the agent to answer: still waiting after 2s" in run.agent("codex")["error"]


def test_agent_server_url_with_recycle_command_kills_the_agent_and_resumes_natively(
    tmp_path: Path, probe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "session-key-" + uuid.uuid4().hex
    monkeypatch.setenv("PINBOT_SESSION_API_KEY", key)
    workdir = tmp_path / "server"
    workdir.mkdir()
    port = free_port()
    monkeypatch.setenv("OH_SESSION_API_KEYS_0", key)  # the restarted server needs it too
    recycle = f"{sys.executable} -m testing.world {workdir} {{port}}"
    with world.agent_server(workdir, port, OH_SESSION_API_KEYS_0=key):
        run = probe(
            "--target", "agent-server", "--agent-server-url", f"http://127.0.0.1:{port}",
            "--recycle-command", recycle, "--acp-command", world.acp_command("custom"),
            "--agents", "codex", "--timeout", "20",
        )  # fmt: skip
    assert (run.code, run.data["verdict"]) == (0, "native"), run.err
    assert key not in run.out + run.err
    (pids_file,) = tmp_path.glob("custom-acp-store/pids")
    pids = pids_file.read_text().split()
    assert len(set(pids)) == 2, "the agent ran once before and once after the recycle"
    deadline = time.monotonic() + 5  # SIGKILL is asynchronous: give the kernel a moment
    while any(world.alive(int(pid)) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(world.alive(int(pid)) for pid in pids)


def test_agent_server_url_that_does_not_answer_exits_3(probe: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = probe("--target", "agent-server", "--agent-server-url", url, "--recycle-command", "true")
    assert run.code == 3
    assert "does not answer" in run.err


def test_a_recycle_that_restarts_nothing_is_an_error_and_never_native(
    tmp_path: Path, probe: Any
) -> None:
    workdir = tmp_path / "server"
    workdir.mkdir()
    port = free_port()
    with world.agent_server(workdir, port):
        run = probe(
            "--target", "agent-server", "--agent-server-url", f"http://127.0.0.1:{port}",
            "--recycle-command", "true", "--acp-command", world.acp_command("custom"),
            "--agents", "codex", "--timeout", "20",
        )  # fmt: skip
    assert (run.code, run.data["verdict"]) == (3, "error"), run.err
    codex = run.agent("codex")
    assert codex["restarted"] is False
    assert codex["step"] == "recycle"
    assert codex["error"] == "the recycle restarted nothing; this proves nothing"
