"""The legs of a probe and their verdicts (pure)."""

from __future__ import annotations

from pinbot.probe.legs import (
    CANDIDATE,
    FROM,
    UNKNOWN_VERSION,
    Leg,
    LegPlan,
    leg_plans,
    server_version,
)
from pinbot.report.probe import leg_rows, move


def good(source: str, target: str, before: str | None, after: str | None) -> Leg:
    leg = Leg(source, target, restarted=True, codeword_recalled=True, error=None)
    leg.acp_session_id_before = leg.acp_session_id_after = "s1"
    leg.server_version_before, leg.server_version_after = before, after
    return leg


def test_a_probe_without_a_from_side_is_one_leg_onto_the_candidate() -> None:
    assert leg_plans(False, False) == [LegPlan(0, CANDIDATE, CANDIDATE)]


def test_a_rollback_is_the_upgrade_then_both_conversations_back() -> None:
    assert leg_plans(True, True) == [
        LegPlan(0, FROM, CANDIDATE),
        LegPlan(0, CANDIDATE, FROM),
        LegPlan(1, CANDIDATE, FROM),
    ]


def test_a_move_that_changed_the_version_is_native() -> None:
    leg = good(FROM, CANDIDATE, "1.50.1", "1.58.2")
    leg.judge()
    assert (leg.verdict, leg.error) == ("native", None)


def test_a_move_that_changed_no_version_or_cannot_tell_is_an_error() -> None:
    same, unknown = good(FROM, CANDIDATE, "1.58.2", "1.58.2"), good(FROM, CANDIDATE, None, "1")
    same.judge()
    unknown.judge()
    assert same.verdict == unknown.verdict == "error"
    assert same.error is not None and "the upgrade changed nothing" in same.error
    assert unknown.error == UNKNOWN_VERSION


def test_a_recycle_onto_the_same_side_needs_no_new_version() -> None:
    leg = good(CANDIDATE, CANDIDATE, "1.58.2", "1.58.2")
    leg.judge()
    assert leg.verdict == "native"


def test_a_leg_that_restarted_nothing_is_never_native() -> None:
    leg = good(FROM, CANDIDATE, "1.50.1", "1.58.2")
    leg.restarted = False
    leg.judge()
    assert leg.verdict == "error"


def test_a_leg_never_reached_is_an_error() -> None:
    leg = Leg(CANDIDATE, FROM)
    leg.judge()
    assert leg.verdict == "error"
    assert leg.to_json()["from"] == CANDIDATE


def test_a_server_version_is_what_it_reports_else_what_its_name_says() -> None:
    assert server_version({"version": "1.58.2"}, "1.0") == "1.58.2"
    assert server_version({"version": "unknown"}, "1.0") == "1.0"
    assert server_version({"version": "1.5\n::error::x"}) is None
    assert server_version({}) is None


def test_the_leg_table_names_each_move_with_its_versions() -> None:
    leg = good(FROM, CANDIDATE, "1.43.1", "1.58.2")
    leg.judge()
    data = {"agents": [{"agent": "codex", "legs": [leg.to_json()]}]}
    assert leg_rows(data) == [
        ["codex", 1, "from 1.43.1", "candidate 1.58.2", "native", "yes", "yes", "yes"]
    ]
    assert move(leg.to_json()) == "from 1.43.1 → candidate 1.58.2"
