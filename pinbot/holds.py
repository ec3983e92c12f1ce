"""Rollback holds: an image a branch rolled back is not proposed again.

Read from content only: the pin files' own history on the branch (every first-parent commit
that changed one of them, however long the branch is), with what the pin sites say after each.
The rule:

- the branch's pin *moved back* when its sites went from image P to an older image Y: a lower
  release version when both are releases, else (a build tag) an image the branch had pinned
  before P. That move holds P, by repository and tag: scan marks it `held`, `cut --latest` (and
  so pin-watch) passes over it, `cut --tag` refuses it without `--allow-held`;
- a hold lifts only when the sites name P again (a "Reapply", or a pin made with
  `--allow-held`); a later move to another image does not;
- only the branch's own line counts (first parents): what a merged side branch did on the
  way is not what the branch ever pinned, only what its merge changed. Moves pushed straight
  onto the branch count whoever made them: a move back is a human's negative verdict however
  it got there, and holding too much errs on the safe side (`--allow-held` says so out loud).

Commit messages, authors and `Pinbot-*` trailers prove nothing here: a README commit quoting
"This reverts commit …", or copied trailers, changes no pin site and so holds and lifts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from pinbot.errors import UsageError
from pinbot.model import Candidate, Evidence
from pinbot.pins.kinds import SiteSpec
from pinbot.pins.state import read_state
from pinbot.versions import classify

NAME = "hold"


class Touched(Protocol):
    """A first-parent commit that changed a pin file, and each pin file's blob after it
    (pinbot.git.history.Touched)."""

    @property
    def commit(self) -> str: ...
    @property
    def blobs(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class Pinned:
    """What the branch's pin sites named after `commit`."""

    commit: str
    image: str
    tag: str

    @property
    def ref(self) -> str:
        return f"{self.image}:{self.tag}"


@dataclass(frozen=True)
class Hold:
    image: str
    tag: str
    pin_commit: str  # the commit that moved the sites to the held image
    revert_commit: str  # the commit that moved them back
    back_to: str  # the tag they moved back to
    branch: str

    def matches(self, image: str, tag: str, digest: str | None = None) -> bool:
        """The same image repository and tag (a hold is read from files, which name tags)."""
        return self.image == image and self.tag == tag

    def describe(self) -> str:
        return (
            f"{self.tag} is held: {self.branch} moved its pin to it in {self.pin_commit[:12]} "
            f"and back to {self.back_to} in {self.revert_commit[:12]}"
        )

    def to_json(self) -> dict[str, str | None]:
        return {
            "image": f"{self.image}:{self.tag}",
            "digest": None,
            "pin_commit": self.pin_commit,
            "revert_commit": self.revert_commit,
            "back_to": self.back_to,
            "branch": self.branch,
        }


def find(history: Iterable[Pinned], branch: str, variant: str) -> list[Hold]:
    """The holds in force after `history` (what the sites named, oldest first)."""
    holds: dict[str, Hold] = {}
    seen: set[str] = set()
    since: dict[str, str] = {}  # ref -> the commit that last moved the sites to it
    previous: Pinned | None = None
    for now in history:
        if previous is not None and now.ref == previous.ref:
            continue
        holds.pop(now.ref, None)  # named again: the rollback is undone
        if previous is not None and _older(now, previous, seen, variant):
            holds[previous.ref] = _hold(previous, since[previous.ref], now, branch)
        if previous is not None:
            seen.add(previous.ref)
        since[now.ref], previous = now.commit, now
    return list(holds.values())


def _hold(held: Pinned, pinned_in: str, back: Pinned, branch: str) -> Hold:
    return Hold(held.image, held.tag, pinned_in, back.commit, back.tag, branch)


def _older(new: Pinned, old: Pinned, seen: set[str], variant: str) -> bool:
    """Whether moving from `old` to `new` is a move back (see the module's docstring)."""
    if new.image == old.image:
        a, b = classify(new.tag, variant), classify(old.tag, variant)
        if a.kind == b.kind == "release" and a.version is not None and b.version is not None:
            return a.version < b.version
    return new.ref in seen


# --- what the sites said along the history (pure: the blobs come through `read`) ---------------


def pins_along(
    history: Sequence[Touched],
    specs: Sequence[SiteSpec],
    read: Callable[[str], bytes | None],
    image: str,
    variant: str,
) -> Iterator[Pinned]:
    """What the sites named after each commit of `history`; a commit whose sites cannot be
    read (none there, a required one missing, a file no reader takes) says nothing. Locks are
    read only where no other site is (they are large, and say what the pins say); each set of
    blobs is read once."""
    plain = [s for s in specs if not s.is_lock]
    locks = [s for s in specs if s.is_lock]
    said: dict[tuple[str, ...], tuple[str, str] | None] = {}
    for touched in history:
        found = _said(touched.blobs, plain, read, image, variant, said)
        if found is None and locks:
            found = _said(touched.blobs, locks, read, image, variant, said)
        if found is not None:
            yield Pinned(touched.commit, *found)


def plain_blobs(history: Sequence[Touched], specs: Sequence[SiteSpec]) -> list[str]:
    """Every blob `pins_along` will surely read: those of the sites that are not locks."""
    files = {s.file for s in specs if not s.is_lock}
    found = {blob for t in history for path, blob in t.blobs.items() if path in files}
    return sorted(found)


def _said(
    blobs: Mapping[str, str],
    specs: Sequence[SiteSpec],
    read: Callable[[str], bytes | None],
    image: str,
    variant: str,
    memo: dict[tuple[str, ...], tuple[str, str] | None],
) -> tuple[str, str] | None:
    """(repository, tag) the sites name at these blobs, None when they cannot be read; each
    set of blobs is read once (`memo`)."""
    key = tuple(f"{s.file}={blobs.get(s.file, '')}" for s in specs)
    if key in memo:
        return memo[key]

    def file(path: str) -> bytes | None:
        blob = blobs.get(path)
        return read(blob) if blob is not None else None

    try:
        state = read_state(specs, file, image, variant)
        memo[key] = state.repository, state.tag
    except (UsageError, ValueError, RecursionError):  # an old commit's file: data, not input
        memo[key] = None
    return memo[key]


# --- using them ---------------------------------------------------------------------------------


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
