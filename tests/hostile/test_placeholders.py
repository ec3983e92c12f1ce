"""Text from a server never reaches a shell: the real `pinbot probe --target app --recycle
command` against an app server of our own (testing.hostile_agent) that reports its sandbox's
agent-server URL with shell metacharacters, userinfo or a query, while the recycle command is
`sh -c '… {agent_server_url}'`. The URL is refused (exit 3, naming the app server) before any
request or command uses it; and placeholders go into the argv after it is split, so a value
carrying quotes and spaces (here a temporary directory's name) stays one word."""

from __future__ import annotations

import json
import re
import shlex
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.cli import Run, pinbot
from testing.hostile import Answer
from testing.hostile_agent import LyingAgentServer

AREA = "server values"
ATTACK = (
    "an app server reports its agent-server URL as `http://x;touch${IFS}F;x@127.0.0.1:P` "
    "(and with backquotes, `$(…)`, pipes, newlines, spaces, quotes, userinfo, IPv6 userinfo, a "
    "query) while the recycle command is `sh -c '… {agent_server_url}'`; a placeholder value "
    "carrying quotes and spaces"
)
ANSWER = (
    "refuses the URL before any request or command uses it, naming the app server; "
    "placeholders are filled into the argv after it is split, one word each"
)
EXIT = "3"

READY = {"status": "READY", "sandbox_id": "sb1", "app_conversation_id": "c0ffee"}


@pytest.fixture
def server() -> Iterator[LyingAgentServer]:
    with LyingAgentServer() as made:
        yield made


def json_answer(data: object) -> Answer:
    return Answer(200, {"Content-Type": "application/json"}, json.dumps(data).encode())


def app_reporting(server: LyingAgentServer, url: str) -> None:
    """An app server whose one sandbox runs, its agent server at `url`."""
    sandbox = [{"id": "sb1", "status": "RUNNING",
                "exposed_urls": [{"name": "AGENT_SERVER", "url": url}]}]  # fmt: skip
    server.on("POST", "^/api/v1/settings$", lambda _: json_answer({}))
    server.on("POST", "^/api/v1/app-conversations$", lambda _: json_answer({"id": "t1"}))
    server.on("GET", "^/api/v1/app-conversations/start-tasks", lambda _: json_answer([READY]))
    server.on("GET", "^/api/v1/sandboxes", lambda _: json_answer(sandbox))


def app_probe(server: LyingAgentServer, recycle: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("PINBOT_APP_API_KEY", "hostile-app-key")
    return pinbot(
        "probe", "--target", "app", "--app-url", server.url, "--agents", "claude-code",
        "--recycle", "command", "--recycle-command", recycle, "--timeout", "15",
    )  # fmt: skip


@pytest.mark.parametrize(
    "url",
    [
        "http://x;touch${IFS}{F};x@127.0.0.1:{P}",
        "http://x`touch${IFS}{F}`@127.0.0.1:{P}",
        "http://127.0.0.1:{P}/$(touch${IFS}{F})",
        "http://127.0.0.1:{P}/a|touch${IFS}{F}",
        "http://127.0.0.1:{P}/a&&touch${IFS}{F}",
        "http://127.0.0.1:{P}/a\ntouch {F}",
        "http://127.0.0.1:{P}/a touch {F}",
        "http://127.0.0.1:{P}/'; touch {F}; '",
        'http://127.0.0.1:{P}/"; touch {F}; "',
        "http://127.0.0.1:{P}/a>{F}",
        "http://user:secret@127.0.0.1:{P}",
        "http://u@[::1]:{P}",
        "http://[::1]:{P}/;touch${IFS}{F}",
        "http://127.0.0.1:{P}/?next=$(touch${IFS}{F})",
        "http://127.0.0.1:{P}#;touch${IFS}{F}",
        "http://127.0.0.1:99999",
    ],
    ids=lambda url: re.sub(r"[^A-Za-z0-9]+", "-", url.split("{P}")[-1])[:24] or url[:24],
)
def test_an_agent_server_url_that_could_run_a_command_is_refused(
    server: LyingAgentServer, tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    planted, ran = tmp_path / "F", tmp_path / "recycled"
    port = server.address.rsplit(":", 1)[1]
    app_reporting(server, url.replace("{F}", str(planted)).replace("{P}", port))
    recycle = f"sh -c 'touch {ran}; curl -s {{agent_server_url}}/health'"

    done = app_probe(server, recycle, monkeypatch)

    assert done.code == 3, done.text
    assert f"the app server at {server.url} reports an agent-server URL" in done.text
    assert "which is no plain http(s) URL" in done.text
    assert not planted.exists() and not ran.exists()


# A recycle command that records the argv it was given, then restarts the agent server.
RECORD = (
    "import json, sys, urllib.request\n"
    "open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))\n"
    "urllib.request.urlopen(sys.argv[-1] + '/_restart', data=b'')\n"
)


def test_a_placeholder_value_with_quotes_and_spaces_stays_one_word(
    server: LyingAgentServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd = tmp_path / "a b'c\" $(touch x);d"  # where pinbot makes its working directory
    odd.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(odd))
    given = tmp_path / "argv.json"
    recycle = shlex.join([sys.executable, "-c", RECORD, str(given)])
    recycle += " {workdir} --port={port} {nothing} " + server.url

    done = pinbot(
        "probe", "--target", "agent-server", "--agent-server-url", server.url,
        "--recycle-command", recycle, "--agents", "claude-code", "--timeout", "15",
    )  # fmt: skip

    assert done.code == 0, done.text
    workdir, port, untouched, url = json.loads(given.read_text())
    assert Path(workdir).parent == odd and Path(workdir).name.startswith("pinbot-probe-")
    assert port == "--port=" + server.address.rsplit(":", 1)[1]
    assert untouched == "{nothing}" and url == server.url
    assert not (odd / "x").exists() and not Path("x").exists()
