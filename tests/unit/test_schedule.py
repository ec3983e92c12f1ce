"""The scan's scheduling rules (engine.WarmRound, engine.Schedule and its look-ahead), as pure
functions."""

from __future__ import annotations

from pinbot.engine import Schedule, WarmRound, lookahead, opening


def warm_round(expected: list[str | None], stop_at_pass: bool) -> list[int]:
    """The ranks the warm round takes, the cache's predictions given newest first."""
    round_ = WarmRound(stop_at_pass)
    return [rank for rank, verdict in enumerate(expected) if round_.takes(verdict)]


def test_warm_round_takes_every_predicted_candidate_down_to_the_predicted_answer() -> None:
    expected = ["fail", "fail", "pass", "fail", "pass"]

    assert warm_round(expected, stop_at_pass=True) == [0, 1, 2]


def test_warm_round_skips_what_the_cache_cannot_predict_and_goes_on_past_it() -> None:
    # A release newer than the last scan is examined cold; the cached ones are still confirmed.
    expected = [None, "fail", None, "fail", "pass", "fail"]

    assert warm_round(expected, stop_at_pass=True) == [1, 3, 4]


def test_warm_round_takes_every_predicted_candidate_when_examining_all() -> None:
    expected = ["fail", "pass", None, "pass"]

    assert warm_round(expected, stop_at_pass=False) == [0, 1, 3]


def test_warm_round_is_empty_on_a_cold_cache() -> None:
    assert warm_round([None, None, None], stop_at_pass=True) == []


def test_lookahead_opens_at_its_first_width_and_grows_three_per_two_answers_up_to_the_cap() -> None:
    assert [lookahead(answered, cap=7) for answered in range(0, 6)] == [2, 3, 5, 6, 7, 7]
    assert [lookahead(answered, cap=7, first=7) for answered in range(0, 3)] == [7, 7, 7]


def test_lookahead_never_exceeds_a_small_cap_nor_drops_to_zero() -> None:
    assert lookahead(0, cap=1) == 1
    assert lookahead(100, cap=2) == 2
    assert lookahead(0, cap=7, first=0) == 1


def test_a_cold_cache_opens_two_wide_for_the_answer_may_be_the_newest() -> None:
    assert opening([None] * 60, stop_at_pass=True, cap=7) == 2


def test_a_cold_cache_opens_every_candidate_when_they_fit_in_one_round() -> None:
    assert opening([None] * 7, stop_at_pass=True, cap=7) == 7
    assert opening([None] * 3, stop_at_pass=True, cap=7) == 3


def test_releases_newer_than_the_cached_answer_all_start_at_once() -> None:
    # The last scan found nothing among the cached ones: the new releases above them are all
    # needed unless one of them is the answer.
    assert opening([None] * 5 + ["fail"] * 55, stop_at_pass=True, cap=7) == 5
    assert opening([None] * 20 + ["fail"] * 40, stop_at_pass=True, cap=7) == 7
    # Below a predicted pass nothing is needed until it is confirmed.
    assert opening([None, "pass", None, None, None], stop_at_pass=True, cap=7) == 1


def test_schedule_starts_the_warm_round_and_the_cold_opening_together() -> None:
    schedule = Schedule([None, "fail", None, "fail", "pass", None], stop_at_pass=True, cap=7)

    assert schedule.start(0) == [0, 1, 2, 3, 4]  # nothing past the predicted pass
    schedule.read(0)
    assert schedule.start(1) == []
    assert schedule.start(5) == [5]  # the predicted pass failed (its tag moved): go on


def test_schedule_goes_on_below_a_predicted_pass_that_failed() -> None:
    # The predicted answer's tag moved and its new image fails: the next stretch goes at once.
    schedule = Schedule(["pass", "fail", "fail", None], stop_at_pass=True, cap=7)

    assert schedule.start(0) == [0]
    schedule.read(0)
    assert schedule.start(1) == [1, 2, 3]


def test_schedule_grows_the_cold_window_as_candidates_are_answered() -> None:
    schedule = Schedule([None] * 20, stop_at_pass=True, cap=7)
    started = []
    for index in range(4):
        started.append(schedule.start(index))
        schedule.read(index)

    assert started == [[0, 1], [2, 3], [4, 5, 6], [7, 8]]
