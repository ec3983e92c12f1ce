"""The scan's scheduling rules (engine.warm_round, engine.lookahead), as pure functions."""

from __future__ import annotations

from pinbot.engine import lookahead, warm_round


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


def test_lookahead_starts_at_two_and_grows_one_per_two_answers_up_to_the_cap() -> None:
    assert [lookahead(depth, cap=7) for depth in range(0, 14)] == [
        2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 7, 7
    ]  # fmt: skip


def test_lookahead_never_exceeds_a_small_cap_nor_drops_to_zero() -> None:
    assert lookahead(0, cap=1) == 1
    assert lookahead(100, cap=2) == 2
