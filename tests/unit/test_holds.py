"""Rollback holds from what a branch's pin sites said along its history (pure: oldest first)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pinbot.holds import Hold, Pinned, find, held, mark, pins_along
from pinbot.model import Candidate, Evidence
from pinbot.pins.kinds import SiteSpec

IMAGE = "ghcr.io/openhands/agent-server"
DIGEST_41 = "sha256:" + "4" * 64


def sha(n: int) -> str:
    return f"{n:040x}"


def states(*tags: str, image: str = IMAGE) -> list[Pinned]:
    return [Pinned(sha(n), image, tag) for n, tag in enumerate(tags, start=1)]


def held_tags(*tags: str) -> list[str]:
    return [h.tag for h in find(states(*tags), "main", "python")]


def test_a_move_back_to_an_older_release_holds_the_image_moved_away_from() -> None:
    found = find(states("1.40.0-python", "1.41.0-python", "1.40.0-python"), "main", "python")

    assert found == [Hold(IMAGE, "1.41.0-python", sha(2), sha(3), "1.40.0-python", "main")]
    assert found[0].describe() == (
        f"1.41.0-python is held: main moved its pin to it in {sha(2)[:12]} and back to "
        f"1.40.0-python in {sha(3)[:12]}"
    )


def test_moves_forward_hold_nothing() -> None:
    assert held_tags("1.40.0-python", "1.41.0-python", "1.43.0-python") == []


def test_a_move_to_an_older_release_never_pinned_before_is_a_move_back_too() -> None:
    assert held_tags("1.40.0-python", "1.43.0-python", "1.41.0-python") == ["1.43.0-python"]


def test_a_superseded_image_is_not_held_by_a_later_rollback_of_another() -> None:
    assert held_tags("1.40.0-python", "1.41.0-python", "1.42.0-python", "1.40.0-python") == [
        "1.42.0-python"
    ]


def test_naming_the_image_again_lifts_the_hold_and_another_tag_does_not() -> None:
    assert held_tags("1.40.0-python", "1.41.0-python", "1.40.0-python", "1.41.0-python") == []
    assert held_tags("1.40.0-python", "1.41.0-python", "1.40.0-python", "1.42.0-python") == [
        "1.41.0-python"
    ]


def test_a_state_that_stays_is_one_stint_and_the_pin_commit_is_where_it_began() -> None:
    found = find(
        states("1.40.0-python", "1.41.0-python", "1.41.0-python", "1.40.0-python"),
        "main",
        "python",
    )

    assert [(h.pin_commit, h.revert_commit) for h in found] == [(sha(2), sha(4))]


def test_build_tags_move_back_when_they_return_to_an_image_pinned_before() -> None:
    assert held_tags("4e2ecd8-python", "be9725b-python", "4e2ecd8-python") == ["be9725b-python"]
    assert held_tags("4e2ecd8-python", "be9725b-python", "0c1d2e3-python") == []


def test_a_hold_matches_its_tag_in_the_same_repository_only() -> None:
    hold = Hold(IMAGE, "1.41.0-python", sha(1), sha(2), "1.40.0-python", "main")

    assert held([hold], IMAGE, "1.41.0-python", None) is hold
    assert held([hold], IMAGE, "1.42.0-python", DIGEST_41) is None
    assert held([hold], "ghcr.io/other/agent-server", "1.41.0-python", DIGEST_41) is None


def test_a_held_candidate_says_held_and_why_first() -> None:
    hold = Hold(IMAGE, "1.41.0-python", sha(1), sha(2), "1.40.0-python", "main")
    candidate = Candidate(
        "1.41.0-python",
        "1.41.0",
        DIGEST_41,
        verdict="pass",
        evidence=(Evidence("source", "pass", "ok"),),
    )

    marked = mark(candidate, hold)

    assert marked.verdict == "held"
    assert marked.evidence[0] == Evidence("hold", "fail", hold.describe())
    assert marked.evidence[1:] == candidate.evidence


@dataclass(frozen=True)
class Touched:
    commit: str
    blobs: dict[str, str]


COMPOSE = SiteSpec("compose-default", "compose.yml", name="TAG", optional=True)
LOCK = SiteSpec("lock", "poetry.lock", packages=("openhands-agent-server",), optional=True)


def compose(tag: str) -> bytes:
    return f"services:\n  x:\n    image: a:${{TAG:-{tag}}}\n".encode()


def test_pins_along_reads_each_blob_once_skips_unreadable_commits_and_leaves_locks_alone() -> None:
    blobs = {"b1": compose("1.40.0-python"), "b2": compose("1.41.0-python"), "bad": b"\xff\x00"}
    asked: list[str] = []

    def read(blob: str) -> bytes | None:
        asked.append(blob)
        return blobs.get(blob)

    history = [
        Touched(sha(1), {"compose.yml": "b1", "poetry.lock": "L1"}),
        Touched(sha(2), {"compose.yml": "b2", "poetry.lock": "L2"}),
        Touched(sha(3), {"compose.yml": "bad", "poetry.lock": "L3"}),
        Touched(sha(4), {"compose.yml": "b1", "poetry.lock": "L4"}),
    ]

    pinned = list(pins_along(history, [COMPOSE, LOCK], read, IMAGE, "python"))

    assert [(p.commit, p.tag) for p in pinned] == [
        (sha(1), "1.40.0-python"),
        (sha(2), "1.41.0-python"),
        (sha(4), "1.40.0-python"),
    ]
    assert sorted(asked) == ["L3", "b1", "b2", "bad"]  # a lock only where nothing else said


# --- config ignore, beside the holds ------------------------------------------------------------


def test_ignore_patterns_match_whole_tags_as_shell_globs() -> None:
    from pinbot import ignore

    assert ignore.matching(["1.45.*"], "1.45.2-python") == "1.45.*"
    assert ignore.matching(["1.45.*"], "1.450.0-python") is None
    assert ignore.matching(["*-java", "1.4[0-3].*"], "1.42.1-python") == "1.4[0-3].*"
    assert ignore.matching([], "1.45.2-python") is None


@pytest.mark.parametrize("pattern", ["", "1.45 .*", "../x", "1.45.*;rm", "a" * 129])
def test_an_ignore_entry_that_is_no_tag_pattern_is_exit_2_naming_it(
    tmp_path: Path, pattern: str
) -> None:
    from pinbot import config
    from pinbot.errors import UsageError

    path = tmp_path / "pinbot.toml"
    path.write_text(f"ignore = [{pattern!r}]\n".replace("'", '"'))
    with pytest.raises(UsageError, match=r"ignore entry .*write a tag pattern such as '1\.45\.\*'"):
        config.load(path)
