"""Progress: live on a terminal, plain lines in CI, with --json or NO_COLOR; tables fit."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from pinbot import report
from pinbot.probe.waiting import wait_until
from pinbot.report import Output, Status, table, wants_live


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("json_mode", "environ", "live"),
    [
        (False, {}, True),
        (True, {}, False),
        (False, {"CI": "true"}, False),
        (False, {"CI": "false"}, True),
        (False, {"GITHUB_ACTIONS": "true"}, False),
        (False, {"NO_COLOR": "1"}, False),
        (False, {"TERM": "dumb"}, False),
    ],
)
def test_live_progress_only_for_a_person_at_a_terminal(
    json_mode: bool, environ: dict[str, str], live: bool
) -> None:
    assert wants_live(Terminal(), json_mode, environ) is live
    assert wants_live(io.StringIO(), json_mode, environ) is False  # a pipe or a file


def live_output(monkeypatch: pytest.MonkeyPatch, columns: int = 40) -> tuple[Output, Terminal]:
    for name in ("CI", "GITHUB_ACTIONS", "NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", str(columns))
    err = Terminal()
    out = Output(stdout=io.StringIO(), stderr=err)
    out.configure(json_mode=False, verbose=0)
    return out, err


def test_a_terminal_sees_one_status_line_redrawn_under_the_permanent_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = live_output(monkeypatch)

    out.status("scan", "examined 1 of 40 candidates: 1.43.1-python fail")
    out.status("scan", "examined 2 of 40 candidates: 1.43.0-python fail")
    out.progress("a permanent line")
    out.result({}, "the result")

    text = err.getvalue()
    frames = text.split("\r\x1b[K")
    assert frames[0] == "pinbot: examined 1 of 40 candidates: 1…"  # 39 columns: fits 40
    assert all(len(line) <= 39 for f in frames for line in f.splitlines())
    # the permanent line where the status was, the status redrawn under it
    assert frames[2] == "pinbot: a permanent line\npinbot: examined 2 of 40 candidates: 1…"
    assert frames[-1] == ""  # the result took the status line down


def test_concurrent_waits_share_the_line_and_leave_it_when_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = live_output(monkeypatch, columns=200)

    out.progress(Status("claude-code: waiting (3s of 300s)", "claude-code"))
    out.progress(Status("codex: waiting (3s of 300s)", "codex"))
    out.progress(Status("claude-code: done after 4s", "claude-code", done=True))

    frames = err.getvalue().split("\r\x1b[K")
    assert "pinbot: claude-code: waiting (3s of 300s) | pinbot: codex: waiting" in frames[-2]
    assert frames[-1] == "pinbot: codex: waiting (3s of 300s)"


def test_without_a_terminal_a_long_wait_is_a_plain_line_now_and_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = io.StringIO()
    out = Output(stdout=io.StringIO(), stderr=err)
    out.configure(json_mode=False, verbose=0)

    out.status("scan", "examined 1 of 3 candidates")  # a quick run says nothing more
    assert err.getvalue() == ""
    monkeypatch.setattr(report, "PLAIN_EVERY", 0.0)
    out.status("scan", "examined 2 of 3 candidates")
    out.status("scan", "", done=True)

    assert err.getvalue() == "pinbot: examined 2 of 3 candidates\n"


def test_a_wait_reports_each_second_and_says_when_it_is_over() -> None:
    seen: list[str] = []
    ticks = iter(range(30))

    def check() -> str | None:
        return "answered" if next(ticks) >= 12 else None

    assert wait_until("codex: waiting for the agent", check, 60, seen.append) == "answered"

    assert seen, "a wait of over a second says so"
    assert all(isinstance(s, Status) and s.key == "codex: waiting for the agent" for s in seen)
    assert seen[0].startswith("codex: waiting for the agent (1s of 60s)")
    assert seen[-1].done and not any(s.done for s in seen[:-1])


def test_a_table_gives_way_in_its_last_column_to_fit_the_width() -> None:
    rows = [("1.43.1-python", "fail", "source: the route file is absent at abcdef0123")]

    narrow = table(("TAG", "VERDICT", "WHY"), rows, width=40).splitlines()
    wide = table(("TAG", "VERDICT", "WHY"), rows, width=0).splitlines()

    assert all(len(line) <= 40 for line in narrow)
    assert narrow[1].endswith("…") and narrow[1].startswith("1.43.1-python  fail     source: ")
    assert wide[1].endswith("abcdef0123")  # no limit: all of it


def test_a_json_run_never_loads_the_live_progress_module() -> None:
    code = (
        "import sys, io\n"
        "from pinbot.report import Output\n"
        "class T(io.StringIO):\n    isatty = lambda self: True\n"
        "out = Output(stdout=io.StringIO(), stderr=T())\n"
        "out.configure(json_mode=True, verbose=0)\n"
        "out.status('scan', 'x'); out.result({'a': 1}, 'a')\n"
        "print(json.dumps('pinbot.live' in sys.modules))\n"
    ).replace("import sys, io", "import sys, io, json")
    env = {"PATH": "/usr/bin:/bin", "TERM": "xterm"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) is False
