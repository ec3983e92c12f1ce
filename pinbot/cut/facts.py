"""What `cut` reads before it decides anything: the request, the image, every branch's pins."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pinbot import commits, pyindex
from pinbot.context import Context
from pinbot.errors import NegativeVerdict, UsageError
from pinbot.git.clone import Clone
from pinbot.model import Candidate, validate_branch
from pinbot.pins import Target, profiles
from pinbot.pins.kinds import SiteSpec
from pinbot.pins.state import PinState, read_state

HEAD_PREFIX = "pinbot/"


@dataclass(frozen=True)
class Request:
    """The validated command line: nothing below reads `args`."""

    tag: str | None
    openhands: str
    branches: tuple[str, ...]
    deploy: str | None
    deploy_base: str
    require_commits: tuple[str, ...]
    require_prs: tuple[int, ...]
    push: bool
    open_prs: bool
    dry_run: bool
    force: bool
    author: tuple[str, str]
    allow_held: bool = False
    probe: dict[str, Any] | None = None  # a `pinbot probe --json` report of the candidate

    @property
    def branch(self) -> str:
        """The first branch: the one carrying the backend change, which the deploy names."""
        return self.branches[0]


@dataclass(frozen=True)
class Pick:
    """The image being pinned: the name written into files and what the checks found."""

    image: str
    candidate: Candidate
    forced: bool
    capability: str
    variant: str
    held: str = ""  # the hold --allow-held lifted for this image, described ("": none)
    declared: str | None = None  # a build's version, as its SDK declares it at its commit

    @property
    def tag(self) -> str:
        return self.candidate.tag

    @property
    def ref(self) -> str:
        return f"{self.image}:{self.tag}"

    @property
    def digest(self) -> str | None:
        return self.candidate.digest

    @property
    def target(self) -> Target:
        commit = self.candidate.build_sha
        return Target(self.image, self.tag, self.variant, commit, self.declared)


@dataclass(frozen=True)
class Pending:
    """The `pinbot/…` head branch an earlier run pushed: its tip and the pins there. pinbot
    builds on it only once it is shown to be exactly what pinbot makes from `parent`."""

    head: str
    tip: str
    state: PinState
    files: Mapping[str, bytes]
    lacks: tuple[str, ...]
    parent: str | None  # the tip's one parent, when that is on the branch; else None
    who: str  # the tip commit, its author and subject, escaped (what a refusal names)


@dataclass(frozen=True)
class BranchFacts:
    """One OpenHands branch as it is: its tip, its pins and the files that hold them, and the
    head branch its pin commit goes to (with what an earlier run left there)."""

    branch: str
    tip: str
    state: PinState
    files: Mapping[str, bytes]
    lacks: tuple[str, ...] = field(default=())  # required backend commits not in the tip
    head: str = ""  # the pinbot/… branch for the pin commit, once the tag is known
    pending: Pending | None = None
    replaces: str = ""  # a head tip that is not pinbot's, replaced ([cut] own_head_branches)


def read_branch(
    clone: Clone,
    branch: str,
    specs: Sequence[SiteSpec],
    settings_image: str,
    variant: str,
    required: Sequence[str],
) -> BranchFacts:
    tip = clone.fetch(branch).get(branch)
    if tip is None:
        raise UsageError(
            f"--openhands-branch {branch!r} does not exist in {clone.url}: check the name"
        )
    return read_at(clone, branch, tip, specs, settings_image, variant, required)


def read_at(
    clone: Clone,
    branch: str,
    tip: str,
    specs: Sequence[SiteSpec],
    settings_image: str,
    variant: str,
    required: Sequence[str],
) -> BranchFacts:
    """`branch` as it was at commit `tip`."""
    where = f" at {commits.short(tip)} of {branch} in {clone.url}"
    specs = profiles.with_tree_locks(
        specs, clone.lock_files(tip), lambda path: clone.read(tip, path)
    )
    state = read_state(specs, lambda path: clone.read(tip, path), settings_image, variant, where)
    files = {s.spec.file: _need(clone.read(tip, s.spec.file)) for s in state.present}
    lacks = tuple(sha for sha in required if not clone.contains(tip, sha))
    return BranchFacts(branch, tip, state, files, lacks)


def head_branch(branch: str, tag: str) -> str:
    """The branch a release line's pin commit is pushed to (a PR from it goes into `branch`)."""
    return validate_branch(
        f"{HEAD_PREFIX}{branch}/agent-server-{tag}", f"the head branch for {branch}"
    )


def read_pending(
    clone: Clone,
    facts: BranchFacts,
    tag: str,
    specs: Sequence[SiteSpec],
    settings_image: str,
    variant: str,
    required: Sequence[str],
) -> BranchFacts:
    """`facts` with its head branch, and what an earlier run pushed there (if it did)."""
    head = head_branch(facts.branch, tag)
    tip = clone.fetch(head).get(head)
    if tip is None or clone.contains(facts.tip, tip):
        # none, or merged into the branch already (a new commit there fast-forwards it)
        return replace(facts, head=head)
    at = read_at(clone, head, tip, specs, settings_image, variant, required)  # its pins there
    parents = clone.parents(tip)
    on_branch = len(parents) == 1 and clone.contains(facts.tip, parents[0])
    parent = parents[0] if on_branch else None
    pending = Pending(head, tip, at.state, at.files, at.lacks, parent, clone.describe(tip))
    return replace(facts, head=head, pending=pending)


def _need(data: bytes | None) -> bytes:
    assert data is not None  # read_state found the site in it
    return data


def check_published(ctx: Context, pick: Pick, branches: Sequence[BranchFacts]) -> list[str]:
    """Refuse (exit 1) a version whose packages the index lacks; returns the packages checked.

    Only sites that hold a package version need this; a build tag is refused later, by the
    sites themselves (exit 2), because no version of it is ever published."""
    packages = sorted(
        {f.label.split("==")[0] for b in branches for f in b.state.values if f.holds == "version"}
    )
    version = pick.target.version
    if not packages or version is None:
        return []
    index = ctx.settings.pin.index_url
    ctx.out.progress(f"checking that {', '.join(packages)} {version} are published on {index}")
    missing = pyindex.unpublished(index, packages, version, ctx.settings.http_timeout)
    if missing:
        names = ", ".join(f"{name}=={version}" for name in missing)
        raise NegativeVerdict(
            f"{names} not published on {index}: {pick.ref} is not pinned until its packages "
            "are (the lock could not resolve them); re-run once they are, or pick another tag"
        )
    return packages
