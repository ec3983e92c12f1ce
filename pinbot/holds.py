"""Rollback holds: an image a human rolled back is not proposed again.

When the OpenHands branch carries a revert of a pinbot pin commit (git's "This reverts commit
<sha>." naming a commit with a `Pinbot-Image` trailer), the image that commit pinned is held, by
tag and by digest: scan marks it `held`, `cut --latest` (and so pin-watch) passes over it, and
`cut --tag` refuses it without `--allow-held`. What lifts a hold is a human undoing the rollback:
a revert of the revert ("Reapply ..."), or a later pin of that same image (made with
`--allow-held`). A later pin of another tag does not.

Pure: the history comes in as data (pinbot/git.py reads it, bounded, trailers parsed by git).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pinbot.model import DIGEST_RE, Candidate, Evidence

NAME = "hold"
REVERTS = re.compile(r"^This reverts commit ([0-9a-f]{40})\b", re.MULTILINE)


@dataclass(frozen=True)
class Logged:
    """A commit of the branch's history: its message, and the image and digest its
    `Pinbot-Image` / `Pinbot-Digest` trailers name (None for a commit pinbot did not make)."""

    sha: str
    message: str
    image: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class Pin:
    ref: str  # `repo:tag`, as the Pinbot-Image trailer names it
    digest: str | None

    @property
    def image(self) -> str:
        return self.ref.rpartition(":")[0]

    @property
    def tag(self) -> str:
        return self.ref.rpartition(":")[2]


@dataclass(frozen=True)
class Hold:
    pin: Pin
    pin_commit: str
    revert_commit: str
    branch: str

    def matches(self, image: str, tag: str, digest: str | None) -> bool:
        """The same image repository, and the held tag or the held digest."""
        if self.pin.image != image:
            return False
        return tag == self.pin.tag or (digest is not None and digest == self.pin.digest)

    def describe(self) -> str:
        return (
            f"{self.pin.tag} is held: its pin {self.pin_commit[:12]} was reverted by "
            f"{self.revert_commit[:12]} on {self.branch}"
        )

    def to_json(self) -> dict[str, str | None]:
        return {
            "image": self.pin.ref,
            "digest": self.pin.digest,
            "pin_commit": self.pin_commit,
            "revert_commit": self.revert_commit,
            "branch": self.branch,
        }


def pin_of(commit: Logged) -> Pin | None:
    """The image a pinbot pin commit pinned; None for any other commit."""
    ref = commit.image or ""
    if ":" not in ref.rpartition("/")[2]:
        return None
    digest = commit.digest
    return Pin(ref, digest if digest and DIGEST_RE.match(digest) else None)


def reverted(message: str) -> str | None:
    """The commit a `git revert` message says it reverts (the last such line: git appends)."""
    found = REVERTS.findall(message)
    return found[-1] if found else None


def find(
    history: Sequence[Logged], lookup: Callable[[str], Logged | None], branch: str
) -> list[Hold]:
    """The holds in force at the tip. `history` is newest first (parents after children);
    `lookup` reads a reverted commit older than the history read."""
    pins: dict[str, Pin] = {}
    holds: dict[str, Hold] = {}  # revert commit -> the hold it made
    for commit in reversed(history):
        pin = pin_of(commit)
        if pin is not None:
            pins[commit.sha] = pin
            _lift(holds, pin)  # pinned again on purpose: the rollback is undone
        target = reverted(commit.message)
        if target is None:
            continue
        if target in holds:
            del holds[target]  # the revert itself was reverted: the rollback is undone
            continue
        pinned = pins.get(target) or _looked_up(lookup, target)
        if pinned is not None:
            holds[commit.sha] = Hold(pinned, target, commit.sha, branch)
    return list(holds.values())


def _lift(holds: dict[str, Hold], pin: Pin) -> None:
    for key in [key for key, hold in holds.items() if hold.pin == pin]:
        del holds[key]


def _looked_up(lookup: Callable[[str], Logged | None], sha: str) -> Pin | None:
    commit = lookup(sha)
    return pin_of(commit) if commit else None


def held(holds: Iterable[Hold], image: str, tag: str, digest: str | None) -> Hold | None:
    return next((h for h in holds if h.matches(image, tag, digest)), None)


def mark(candidate: Candidate, hold: Hold) -> Candidate:
    """`candidate` as scan shows a held image: verdict `held`, the hold's line first."""
    line = Evidence(NAME, "fail", hold.describe())
    return Candidate(
        tag=candidate.tag,
        version=candidate.version,
        digest=candidate.digest,
        build_sha=candidate.build_sha,
        created=candidate.created,
        verdict="held",
        evidence=(line, *candidate.evidence),
    )
