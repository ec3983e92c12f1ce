"""`pinbot probe` against the real agent server running the real Claude and Codex adapters.

`openhands-agent-server` 1.58.2 runs `claude-agent-acp` 0.63.0 and `codex-acp` 1.10.0 (npm), which
talk to the deterministic fake model in `testing/`. All of it -- the fake model, the agent server,
the adapters and pinbot itself -- runs in one network namespace with loopback only (`unshare -n`),
so nothing reaches the internet. The fake model answers only from the history it is sent, and its
log shows whether the codeword was in the history sent after the recycle.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pinbot.probe.run import RECALL
from testing import world
from testing.services import missing_service
from testing.vendor_agents import REPO, Rig, missing_parts

API = {"claude-code": "anthropic", "codex": "openai"}
# Each run starts the real agent server three or four times: 10-25 s each on an idle machine, a
# minute on two busy cores. The rig interrupts pinbot at 780 s.
RIG_DEADLINE = 840
pytestmark = pytest.mark.timeout(RIG_DEADLINE + 60)
REMINDERS = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)


@pytest.fixture(autouse=True)
def real_parts() -> None:
    missing = missing_parts()
    if missing:
        missing_service(f"the real agent server and vendor adapters ({', '.join(missing)})")


def probe_in_namespace(root: Path, via: str, *extra: str, wipe: bool = False) -> dict[str, Any]:
    """Run the probe in a fresh network namespace; return pinbot's exit code and JSON report."""
    tag = uuid.uuid4().hex
    # Root gets a bare network namespace; anyone else maps themselves to root in a user namespace.
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "-n"]
    command = [*unshare, "--", sys.executable, "-m", "testing.vendor_agents", "probe"]
    command += [str(root), "--via", via, *(["--wipe"] if wipe else []), *extra]
    env = dict(os.environ, HARNESS_RUN=tag, PYTHONPATH=str(REPO))
    rig = subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True)
    try:
        assert rig.wait(timeout=RIG_DEADLINE) == 0
    finally:
        interrupt(rig)  # a test stopped early (its timeout, ^C) leaves nothing behind either
        assert_nothing_running(tag)
    result = json.loads((root / "result.json").read_text())
    result["data"] = json.loads(result["stdout"]) if result["stdout"].startswith("{") else {}
    return result


def interrupt(rig: subprocess.Popen[bytes]) -> None:
    """^C the rig's process group (pinbot and the rig clean up after themselves), then kill it."""
    if rig.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(rig.pid, signal.SIGINT)
    try:
        rig.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(rig.pid, signal.SIGKILL)
        rig.wait()


def assert_nothing_running(tag: str) -> None:
    deadline = time.monotonic() + 5
    while (left := world.tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for line in left:  # fail, but leave nothing behind for the next test
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)
    assert left == []


def codeword(agent: dict[str, Any]) -> str:
    return str(agent["detail"]).split()[1].rstrip(";")


def recall_histories(rig: Rig, api: str) -> list[list[list[str]]]:
    """The histories the agent sent with the recall question (the turn after the recycle).

    Side requests that quote the question (Codex titles a conversation from its first message
    in each process) do not start with it and are left out.
    """
    asked = []
    for request in rig.model_requests():
        users = [text for role, text in request.get("history") or [] if role == "user"]
        if request.get("api") == api and users and asks(users[-1]):
            asked.append(request["history"])
    return asked


def asks(text: str) -> bool:
    return REMINDERS.sub("", text).strip().startswith(RECALL)


def each_agent(
    tmp_path: Path, result: dict[str, Any]
) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """Each vendor agent's report, with the recall questions it put to the fake model."""
    rig = Rig(tmp_path)
    for name, api in API.items():
        agent = next(a for a in result["data"]["agents"] if a["agent"] == name)
        asked = recall_histories(rig, api)
        assert asked, f"{name} never asked the fake model the recall question"
        yield agent, asked


def test_both_vendor_agents_resume_natively_after_the_real_server_restarts(
    tmp_path: Path,
) -> None:
    result = probe_in_namespace(tmp_path, "server-command")
    assert (result["code"], result["data"].get("verdict")) == (0, "native"), result["stderr"]
    for agent, asked in each_agent(tmp_path, result):
        assert agent["verdict"] == "native"
        assert agent["restarted"] is True
        assert agent["acp_session_id_after"] == agent["acp_session_id_before"]
        assert all(codeword(agent) in json.dumps(history) for history in asked)


def test_both_vendor_agents_lose_their_context_when_the_recycle_wipes_their_stores(
    tmp_path: Path,
) -> None:
    result = probe_in_namespace(tmp_path, "url", wipe=True)
    assert (result["code"], result["data"].get("verdict")) == (1, "lost"), result["stderr"]
    for agent, asked in each_agent(tmp_path, result):
        assert agent["verdict"] == "lost"
        assert agent["restarted"] is True
        assert agent["acp_session_id_after"] != agent["acp_session_id_before"]
        assert not any(codeword(agent) in json.dumps(history) for history in asked)
