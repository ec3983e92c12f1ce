"""Rollback holds from a branch's history (pure: the history is data, newest first)."""

from __future__ import annotations

from pinbot.holds import Hold, Logged, Pin, find, held, mark, reverted
from pinbot.model import Candidate, Evidence

IMAGE = "ghcr.io/openhands/agent-server"
DIGEST_41 = "sha256:" + "4" * 64
DIGEST_42 = "sha256:" + "2" * 64


def sha(n: int) -> str:
    return f"{n:040x}"


def pin(n: int, tag: str, digest: str) -> Logged:
    return Logged(sha(n), f"Pin agent-server {tag}\n", f"{IMAGE}:{tag}", digest)


def revert(n: int, target: int, word: str = "Revert") -> Logged:
    return Logged(sha(n), f'{word} "..."\n\nThis reverts commit {sha(target)}.\n')


def nothing(_: str) -> Logged | None:
    return None


def history(*oldest_first: Logged) -> list[Logged]:
    return list(reversed(oldest_first))


def test_a_reverted_pin_holds_its_image_and_digest() -> None:
    found = find(history(pin(1, "1.41.0-python", DIGEST_41), revert(2, 1)), nothing, "main")

    assert found == [Hold(Pin(f"{IMAGE}:1.41.0-python", DIGEST_41), sha(1), sha(2), "main")]
    assert found[0].describe() == (
        f"1.41.0-python is held: its pin {sha(1)[:12]} was reverted by {sha(2)[:12]} on main"
    )


def test_a_later_pin_of_another_tag_does_not_lift_the_hold() -> None:
    commits = history(
        pin(1, "1.41.0-python", DIGEST_41), revert(2, 1), pin(3, "1.42.0-python", DIGEST_42)
    )

    assert [h.pin.tag for h in find(commits, nothing, "main")] == ["1.41.0-python"]


def test_reverting_the_revert_or_pinning_that_image_again_lifts_the_hold() -> None:
    reapplied = history(pin(1, "1.41.0-python", DIGEST_41), revert(2, 1), revert(3, 2, "Reapply"))
    repinned = history(
        pin(1, "1.41.0-python", DIGEST_41), revert(2, 1), pin(3, "1.41.0-python", DIGEST_41)
    )

    assert find(reapplied, nothing, "main") == []
    assert find(repinned, nothing, "main") == []


def test_a_revert_of_a_human_commit_holds_nothing() -> None:
    human = Logged(sha(1), "Bump the frontend\n")

    assert find(history(human, revert(2, 1)), nothing, "main") == []


def test_a_pin_older_than_the_history_read_is_looked_up() -> None:
    old = pin(1, "1.41.0-python", DIGEST_41)

    def lookup(commit: str) -> Logged | None:
        return old if commit == sha(1) else None

    found = find(history(revert(2, 1)), lookup, "release/1.0")

    assert [(h.pin.tag, h.revert_commit, h.branch) for h in found] == [
        ("1.41.0-python", sha(2), "release/1.0")
    ]


def test_a_hold_matches_its_tag_or_its_digest_in_the_same_repository_only() -> None:
    hold = Hold(Pin(f"{IMAGE}:1.41.0-python", DIGEST_41), sha(1), sha(2), "main")

    assert held([hold], IMAGE, "1.41.0-python", None) is hold
    assert held([hold], IMAGE, "1.41.0-java", DIGEST_41) is hold  # the same image, retagged
    assert held([hold], IMAGE, "1.42.0-python", DIGEST_42) is None
    assert held([hold], "ghcr.io/other/agent-server", "1.41.0-python", DIGEST_41) is None


def test_a_held_candidate_says_held_and_why_first() -> None:
    hold = Hold(Pin(f"{IMAGE}:1.41.0-python", DIGEST_41), sha(1), sha(2), "main")
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


def test_the_reverted_commit_is_read_from_gits_own_revert_line() -> None:
    assert reverted(f'Revert "x"\n\nThis reverts commit {sha(7)}.\n') == sha(7)
    assert reverted("This reverts nothing\n") is None
