"""Agent and app servers that lie: the real `pinbot probe` against servers of our own on
loopback (testing.hostile_agent) that put escapes and workflow commands in ids, error texts and
answers, send huge or trickled bodies, malformed JSON or documents of the wrong shape, or claim
restarts that did not happen. Every run ends in exit 1 or 3 (never 4, never a verdict the server
did not earn), within its time bound, with nothing forged on stdout, stderr, `$GITHUB_OUTPUT`,
the step summary or the report."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.cli import Run, pinbot
from testing.hostile import Answer, trickle
from testing.hostile_agent import LyingAgentServer

AREA = "agent and app servers"
ATTACK = (
    "escapes, newlines, workflow commands and `../` in session, conversation, task and sandbox "
    "ids; escapes in error texts, answers and build shas; 20 MB and trickled bodies; "
    "malformed, deep or wrongly shaped JSON and sandbox listings; a recycle that restarts "
    "nothing, a server that always claims a fresh start"
)
ANSWER = (
    "the probe's verdict is error (or lost), saying what the server did; ids and shas that are "
    "none are refused, text is escaped on every channel; each request ends within its deadline"
)
EXIT = "3 (1: lost)"

HOSTILE = "\x1b[2J\x1b]0;pwned\x07::error::forged%0A\n::stop-commands::pwned\r\n<script>x</script>"
# What must never appear raw where a runner or a terminal reads it.
FORGED = re.compile(
    r"\x1b|\x07|\r|^\s*::(?:error::forged|stop-commands|add-mask::(?!hostile-app-key$))",
    re.MULTILINE,
)


@pytest.fixture
def server() -> Iterator[LyingAgentServer]:
    with LyingAgentServer() as made:
        yield made


@pytest.fixture(autouse=True)
def in_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under GitHub Actions (outputs, summary, annotations), with quick HTTP bounds: a request
    may take 4 s (4x http_timeout)."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    (tmp_path / "pinbot.toml").write_text("http_timeout = 1.0\n")


def probe(server: LyingAgentServer, tmp_path: Path, recycle: str | None = None) -> Run:
    return pinbot(
        "probe", "--target", "agent-server", "--agent-server-url", server.url,
        "--recycle-command", recycle or server.restart_command(), "--agents", "claude-code",
        "--timeout", "15", "--report", str(tmp_path / "report.json"),
    )  # fmt: skip


def outputs(path: Path) -> dict[str, str]:
    """`$GITHUB_OUTPUT` as the runner reads it (`name=value` and `name<<DELIMITER` blocks)."""
    lines, found = path.read_text().splitlines() if path.exists() else [], {}
    while lines:
        line = lines.pop(0)
        name, sep, delimiter = line.partition("<<")
        if sep:
            end = lines.index(delimiter)
            found[name], lines = "\n".join(lines[:end]), lines[end + 1 :]
        else:
            key, _, value = line.partition("=")
            found[key] = value
    return found


def assert_nothing_forged(done: Run, tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    summary = path.read_text() if path.exists() else ""
    for channel, text in (("stdout", done.out), ("stderr", done.err), ("summary", summary)):
        assert not FORGED.search(text), f"{channel} carries {FORGED.search(text)!r}:\n{text}"
    assert "<script>" not in summary  # HTML is read there
    given = outputs(tmp_path / "github-output")
    assert set(given) <= {"verdict", "report"}  # nothing forged a third output
    assert given.get("verdict", "error") in ("error", "lost")
    assert json.loads(given.get("report", "{}")).get("verdict", "error") in ("error", "lost")
    report = tmp_path / "report.json"
    if report.exists():
        assert json.loads(report.read_text())["verdict"] in ("error", "lost")
        assert not FORGED.search(report.read_text())


def test_a_session_id_that_is_no_id_is_an_error(server: LyingAgentServer, tmp_path: Path) -> None:
    server.session_id = "sess" + HOSTILE

    done = probe(server, tmp_path)

    assert done.code == 3, done.text
    assert "reports a agent_state.acp_session_id that is no id: 'sess\\x1b[2J" in done.text
    assert_nothing_forged(done, tmp_path)


def test_a_conversation_id_that_is_no_id_is_an_error(
    server: LyingAgentServer, tmp_path: Path
) -> None:
    server.conversation_id = "../../server_info?" + HOSTILE

    done = probe(server, tmp_path)

    assert done.code == 3, done.text
    assert "reports a conversation id that is no id" in done.text
    assert_nothing_forged(done, tmp_path)


def test_an_answer_and_a_build_sha_that_lie_are_escaped_and_earn_nothing(
    server: LyingAgentServer, tmp_path: Path
) -> None:
    server.reply = HOSTILE
    server.build_git_sha = SHA_FORGED = "::error::forged\n" + "a" * 40

    done = probe(server, tmp_path)

    assert done.code == 1, done.text  # restarted, but the codeword did not come back: lost
    assert server.restarts == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["agents"][0]["verdict"] == "lost"
    assert report["agents"][0]["build_git_sha"] is None  # not a sha: not shown anywhere
    assert SHA_FORGED not in done.text
    assert "x1b[2J" in done.out  # the answer is shown, escaped
    assert_nothing_forged(done, tmp_path)


@pytest.mark.parametrize("path", ["/api/conversations$", "/server_info$"])
def test_an_error_text_with_escapes_is_shown_escaped(
    server: LyingAgentServer, tmp_path: Path, path: str
) -> None:
    detail = json.dumps({"detail": HOSTILE}).encode()
    server.on("*", path, lambda _: Answer(500, {"Content-Type": "application/json"}, detail))

    done = probe(server, tmp_path)

    assert done.code == 3, done.text
    assert "with HTTP 500" in done.text
    assert_nothing_forged(done, tmp_path)


def test_a_huge_body_is_cut_off_at_the_cap(server: LyingAgentServer, tmp_path: Path) -> None:
    chunk = b" " * (1 << 20)
    server.on("GET", "/server_info", lambda _: Answer(200, {}, iter([b"{"] + [chunk] * 20)))

    done = probe(server, tmp_path)

    assert done.code == 3, done.text
    assert (
        f"the agent server at {server.url} sent more than 16 MiB for GET /server_info; pinbot "
        "stops reading at 16 MiB"
    ) in done.text
    assert_nothing_forged(done, tmp_path)


@pytest.mark.parametrize("path", ["/server_info$", "/events/search"])
def test_a_body_sent_a_byte_at_a_time_ends_within_the_deadline(
    server: LyingAgentServer, tmp_path: Path, path: str
) -> None:
    body = json.dumps({"uptime": 1.5, "items": [], "pad": "x" * 100}).encode()
    server.on("GET", path, lambda _: Answer(200, {}, trickle(body), pause=0.3))
    started = time.monotonic()

    done = probe(server, tmp_path)

    assert done.code == 3, done.text
    assert f"did not finish answering GET {'/server_info' if 'info' in path else ''}" in done.text
    assert "within 4 s (it answers too slowly or not at all)" in done.text
    assert time.monotonic() - started < 20
    assert_nothing_forged(done, tmp_path)


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/server_info$", b'{"uptime": ', "something that is not JSON"),
        ("/server_info$", b"[" * 100_000 + b"]" * 100_000, "not JSON (or nests too deep)"),
        ("/server_info$", b'["uptime", 5]', "not a JSON object"),
        ("/api/conversations$", b'"6c1f"', "not a JSON object"),
        ("/api/conversations/[0-9a-f]+$", b'{"agent_state": "idle"}', "'agent_state' is not an"),
        ("/api/conversations/[0-9a-f]+$", b'{"execution_status": 7}', "'execution_status' is not"),
        ("/events/search", b'{"items": ["finish"]}', "'items' that are not a list of objects"),
        ("/events/search", b'{"items": [{"action": "x"}]}', "'action' is not an object"),
        ("/events/search", b'{"items": [], "next_page_id": 5}', "'next_page_id' that is not"),
    ],
)
def test_malformed_or_misshapen_json_is_an_error_naming_it(
    server: LyingAgentServer, tmp_path: Path, path: str, body: bytes, says: str
) -> None:
    server.on("*", path, lambda _: Answer(200, {"Content-Type": "application/json"}, body))

    done = probe(server, tmp_path)

    assert done.code == 3, done.text
    assert says in done.text
    assert_nothing_forged(done, tmp_path)


def test_a_recycle_that_restarts_nothing_proves_nothing(
    server: LyingAgentServer, tmp_path: Path
) -> None:
    done = probe(server, tmp_path, recycle="true")  # the command says it worked

    assert done.code == 3, done.text
    assert "the recycle restarted nothing; this proves nothing" in done.text
    assert json.loads((tmp_path / "report.json").read_text())["agents"][0]["restarted"] is False


@pytest.mark.parametrize("uptime", [0.25, 3])  # every /server_info: "I just started"
def test_a_server_that_always_claims_a_fresh_start_proves_no_restart(
    server: LyingAgentServer, tmp_path: Path, uptime: float
) -> None:
    server.uptime = uptime

    done = probe(server, tmp_path, recycle="true")

    assert done.code == 3, done.text
    assert "identity changed with no recycle" in done.text
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "error"


def app_probe(server: LyingAgentServer, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("PINBOT_APP_API_KEY", "hostile-app-key")
    return pinbot("probe", "--target", "app", "--app-url", server.url, "--agents",
                  "claude-code", "--timeout", "15")  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (Answer(400, {}, json.dumps({"detail": HOSTILE}).encode()), "with HTTP 400"),
        (Answer(200, {}, b'{"agent":'), "something that is not JSON"),
        (Answer(200, {}, b'[{"agent": "x"}]'), "not a JSON object"),
        (Answer(200, {}, trickle(b'{"agent": "claude-code", "x": 1}'), pause=0.3), "within 4 s"),
    ],
)
def test_an_app_server_that_lies_is_an_error(
    server: LyingAgentServer, tmp_path: Path, answer: Answer, says: str, monkeypatch: Any
) -> None:
    server.on("GET", "/api/v1/settings", lambda _: answer)

    done = app_probe(server, monkeypatch)

    assert done.code == 3, done.text
    assert says in done.text
    assert_nothing_forged(done, tmp_path)


def json_answer(data: object) -> Answer:
    return Answer(200, {"Content-Type": "application/json"}, json.dumps(data).encode())


def app_world(server: LyingAgentServer, start: object, task: object, sandbox: object) -> None:
    """An app server whose start answer, start task and sandbox listing are as given (its
    conversation and sandbox deletes answer 404, and are recorded)."""
    server.on("POST", "^/api/v1/settings$", lambda _: json_answer({}))
    server.on("POST", "^/api/v1/app-conversations$", lambda _: json_answer(start))
    server.on("GET", "^/api/v1/app-conversations/start-tasks", lambda _: json_answer(task))
    server.on("GET", "^/api/v1/sandboxes", lambda _: json_answer(sandbox))


READY = {"status": "READY", "sandbox_id": "sb1", "app_conversation_id": "c0ffee"}
RUNNING = [{"id": "sb1", "status": "RUNNING", "exposed_urls": []}]


@pytest.mark.parametrize(
    ("start", "task", "sandbox", "says"),
    [
        ({"created_at": 5}, [READY], RUNNING, "a start task id that is no id: None"),
        ({"id": "t1"}, [{**READY, "sandbox_id": "../x" + HOSTILE}], RUNNING,
         "a sandbox id that is no id: '../x\\x1b[2J"),
        ({"id": "t1"}, [{**READY, "app_conversation_id": "../../sandboxes/sb2"}], RUNNING,
         "a conversation id that is no id: '../../sandboxes/sb2'"),
        ({"id": "t1"}, {"status": "READY"}, RUNNING, "with not a list of JSON objects"),
        ({"id": "t1"}, [READY], [{**RUNNING[0], "exposed_urls": "http://x"}],
         "sandbox sb1 exposes no AGENT_SERVER url"),
        ({"id": "t1"}, [READY], [{**RUNNING[0], "exposed_urls": [{"name": "AGENT_SERVER",
                                                                  "url": "file:///etc"}]}],
         "sandbox sb1 exposes no AGENT_SERVER url"),
    ],
)  # fmt: skip
def test_an_app_server_whose_ids_and_listings_lie_is_an_error(
    server: LyingAgentServer, tmp_path: Path, start: object, task: object, sandbox: object,
    says: str, monkeypatch: Any,
) -> None:  # fmt: skip
    app_world(server, start, task, sandbox)

    done = app_probe(server, monkeypatch)

    assert done.code == 3, done.text
    assert says in done.text
    deletes = [seen.path for seen in server.seen if seen.method == "DELETE"]
    assert not any(".." in path or "\x1b" in path for path in deletes), deletes
    assert_nothing_forged(done, tmp_path)
