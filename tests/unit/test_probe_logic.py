"""The probe's pure parts: verdicts, the turn-completion rule, paging, and bad usage."""

from __future__ import annotations

import os
from typing import Any

import pytest

from pinbot.commands.probe import Plan, parse_agents, report_json
from pinbot.errors import UsageError
from pinbot.probe.http import ApiError, follow_pages
from pinbot.probe.run import AgentReport
from pinbot.probe.targets.base import agent_settings, substitute
from pinbot.probe.targets.command import process_identity
from pinbot.probe.verdict import (
    MARKER,
    judge,
    marker_in,
    outcomes,
    recalled,
    restarted,
    turn_over,
    turn_result,
    uptime_identity,
    worst,
)
from pinbot.report.probe import render_markdown, render_text
from testing.cli import pinbot

FINISH = {"kind": "ActionEvent", "tool_name": "finish", "action": {"message": "The codeword is x"}}
ERROR = {"kind": "ConversationErrorEvent", "code": "AcpError", "detail": "agent exited"}
USER = {"kind": "MessageEvent", "llm_message": {"content": [{"type": "text", "text": "hi"}]}}


@pytest.mark.parametrize(
    ("before", "after", "marker", "recall", "error", "verdict"),
    [
        ("s1", "s1", False, True, None, "native"),
        ("s1", "s2", False, True, None, "bootstrap"),
        ("s1", "s1", True, True, None, "bootstrap"),
        ("s1", "s2", True, False, None, "lost"),
        ("s1", "s1", False, False, None, "lost"),
        ("s1", "s1", False, True, "recall: HTTP 409", "error"),
    ],
)
def test_judge_names_the_worst_thing_seen(
    before: str, after: str, marker: bool, recall: bool, error: str | None, verdict: str
) -> None:
    assert judge(before, after, marker, recall, error, restarted=True) == verdict


@pytest.mark.parametrize(("marker", "recall"), [(False, True), (True, True), (False, False)])
def test_no_verdict_about_resume_without_a_restart(marker: bool, recall: bool) -> None:
    assert judge("s1", "s1", marker, recall, None, restarted=False) == "error"


def test_a_new_pid_or_start_time_is_a_restart_and_the_same_one_is_not() -> None:
    assert restarted("pid 7 started 100", "pid 9 started 180")
    assert restarted("pid 7 started 100", "pid 7 started 180")  # a reused pid
    assert not restarted("pid 7 started 100", "pid 7 started 100")


def test_an_identity_that_cannot_be_read_proves_no_restart() -> None:
    assert not restarted(None, "pid 7 started 100")
    assert not restarted("pid 7 started 100", None)
    assert not restarted(None, None)


def test_uptime_that_kept_counting_is_no_restart_even_across_a_rounding_second() -> None:
    # One server that started at 960.5 reports whole seconds: read at 1000.9 it says 40, read
    # at 1030.1 it says 69 -- the naive starts, 960.9 and 961.1, differ.
    before = uptime_identity({"uptime": 40}, 1000.9, 1000.9)
    after = uptime_identity({"uptime": 69}, 1030.1, 1030.1)
    assert not restarted(before, after)


def test_a_slow_answer_does_not_look_like_a_restart() -> None:
    before = uptime_identity({"uptime": 40.25}, 1000.0, 1000.1)
    after = uptime_identity({"uptime": 60.0}, 1015.0, 1020.5)  # 5 s in flight
    assert not restarted(before, after)


def test_uptime_that_started_again_is_a_restart() -> None:
    before = uptime_identity({"uptime": 40}, 1000.0, 1000.1)
    after = uptime_identity({"uptime": 2}, 1015.0, 1015.1)  # the new server started near 1013
    assert restarted(before, after)


def test_a_fractional_uptime_proves_a_restart_a_second_apart() -> None:
    before = uptime_identity({"uptime": 1.2}, 1000.0, 1000.01)
    after = uptime_identity({"uptime": 0.4}, 1000.6, 1000.61)
    assert restarted(before, after)


@pytest.mark.parametrize("info", [{}, {"uptime": "long"}, {"uptime": True}])
def test_a_server_info_without_a_numeric_uptime_gives_no_identity(info: dict[str, Any]) -> None:
    assert uptime_identity(info, 1000.0, 1000.0) is None


def test_worst_orders_error_over_lost_over_bootstrap_over_native() -> None:
    assert worst(["native", "bootstrap"]) == "bootstrap"
    assert worst(["bootstrap", "lost", "native"]) == "lost"
    assert worst(["lost", "error"]) == "error"
    assert worst(["native", "native"]) == "native"
    assert worst([]) == "error"


def conversation(
    status: str, prompted: str | None = "m2", last: str | None = "m2"
) -> dict[str, Any]:
    state = {"acp_session_id": "s", "acp_last_prompt_user_message_id": prompted}
    return {"execution_status": status, "agent_state": state, "last_user_message_id": last}


def test_a_terminal_status_alone_does_not_end_the_turn() -> None:
    # the status can still show the previous turn: no new finish action yet
    assert not turn_over(conversation("finished"), outcomes_before=1, outcomes_now=1)


def test_a_new_outcome_under_a_running_status_does_not_end_the_turn() -> None:
    assert not turn_over(conversation("running"), outcomes_before=1, outcomes_now=2)


@pytest.mark.parametrize("status", ["finished", "error", "stuck"])
def test_a_terminal_status_with_a_new_outcome_ends_the_turn(status: str) -> None:
    assert turn_over(conversation(status), outcomes_before=1, outcomes_now=2)


def test_a_finish_for_an_older_prompt_does_not_end_the_turn() -> None:
    assert not turn_over(conversation("finished", prompted="m1", last="m2"), 1, 2)
    assert turn_over(conversation("finished", prompted=None, last="m2"), 1, 2)


def test_turn_result_takes_the_newest_outcome_after_the_count_before() -> None:
    events = [USER, FINISH, USER, ERROR]
    assert outcomes(events) == 2
    assert turn_result(events[:2], 0).reply == "The codeword is x"
    assert turn_result(events, 1).error == "agent exited"
    assert (
        turn_result(events, 2).error == "the turn ended without a finish action or an error event"
    )


def test_the_marker_is_found_anywhere_in_an_event() -> None:
    bootstrap = {
        "kind": "MessageEvent",
        "llm_message": {"content": [{"text": f"{MARKER}\nUser: x"}]},
    }
    assert marker_in([USER, bootstrap])
    assert not marker_in([USER, FINISH])


def test_recall_needs_the_codeword_in_the_reply() -> None:
    assert recalled("The codeword is PINBOT-ab12.", "pinbot-ab12")
    assert not recalled("I do not know any codeword.", "pinbot-ab12")
    assert not recalled(None, "pinbot-ab12")


def test_paging_follows_next_page_id_to_the_end() -> None:
    pages = {None: (["a"], "2"), "2": (["b"], "3"), "3": (["c"], None)}
    items = follow_pages(lambda p: {"items": pages[p][0], "next_page_id": pages[p][1]})
    assert list(items) == ["a", "b", "c"]


def test_paging_stops_when_the_server_repeats_a_page_id() -> None:
    with pytest.raises(ApiError, match="repeated page id"):
        list(follow_pages(lambda p: {"items": [p], "next_page_id": "same"}))


def test_agents_are_validated() -> None:
    assert parse_agents(None, ["claude-code", "codex"]) == ["claude-code", "codex"]
    assert parse_agents("codex", []) == ["codex"]
    for bad in ("", "Codex", "codex,codex", "codex;rm"):
        with pytest.raises(UsageError):
            parse_agents(bad, [])


def test_commands_get_port_and_workdir_substituted_and_nothing_else() -> None:
    assert substitute(
        "srv --port {port} --dir '{workdir}/x y' {other}", port="8001", workdir="/w"
    ) == [
        "srv",
        "--port",
        "8001",
        "--dir",
        "/w/x y",
        "{other}",
    ]


def test_a_custom_acp_command_selects_the_custom_server() -> None:
    assert agent_settings("codex", None) == {"agent_kind": "acp", "acp_server": "codex"}
    custom = agent_settings("codex", ["agent", "--x"])
    assert custom["acp_server"] == "custom" and custom["acp_command"] == ["agent", "--x"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["probe"], "--app-url"),
        (["probe", "--target", "agent-server"], "got none"),
        (
            [
                "probe",
                "--target",
                "agent-server",
                "--image",
                "localhost:5000/a/b:1",
                "--server-command",
                "x",
            ],
            "got --image, --server-command",
        ),
        (
            ["probe", "--target", "agent-server", "--agent-server-url", "http://x"],
            "--recycle-command",
        ),
        (
            ["probe", "--app-url", "http://127.0.0.1:1", "--server-command", "x"],
            "--target agent-server",
        ),
        (["probe", "--app-url", "http://127.0.0.1:1", "--timeout", "0"], "--timeout"),
        (["probe", "--app-url", "http://127.0.0.1:1", "--recycle", "command"], "--recycle-command"),
        (
            ["probe", "--app-url", "http://127.0.0.1:1", "--recycle-command", "x {sandbox_id}"],
            "--recycle command",
        ),
        (["probe", "--app-url", "http://127.0.0.1:1", "--app-auth", "cookie"], "--app-auth"),
        (["probe", "--app-url", "http://127.0.0.1:1"], "PINBOT_APP_API_KEY"),
    ],
)
def test_bad_usage_exits_2_before_touching_the_network(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = pinbot(*argv)
    assert code == 2
    assert says in err


def test_reports_carry_the_build_and_show_the_error_step() -> None:
    good = AgentReport(
        "codex", "native", "c1", "s1", "s1", codeword_recalled=True, restarted=True, seconds=3.0
    )
    good.detail = "codeword x"
    bad = AgentReport("claude-code", step="recall", error="HTTP 410", build_git_sha="a" * 40)
    good.build_git_sha = "a" * 40
    data = report_json(Plan("app", ["codex", "claude-code"], 5), [good, bad], "error")
    assert data["build_git_sha"] == "a" * 40
    assert data["agents"][0]["acp_session_id_after"] == "s1"
    assert [a["restarted"] for a in data["agents"]] == [True, False]
    assert "recall: HTTP 410" in render_text(data)
    assert "### pinbot probe: error" in render_markdown(data)
    assert "| codex | native |" in render_markdown(data)


def test_a_process_identity_is_stable_and_names_pid_and_start_time() -> None:
    mine = process_identity(os.getpid())
    assert mine == process_identity(os.getpid())
    assert mine.startswith(f"pid {os.getpid()} started ")
    assert restarted(mine, process_identity(os.getppid()))
