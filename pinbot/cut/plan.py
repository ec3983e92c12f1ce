"""The plan: every file edit, the lock commands, the commit messages and the PRs, as data.

Pure: built from the facts, printed by `--dry-run`, carried out by `apply`. Nothing here runs a
tool or writes anywhere.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pinbot import commits, output
from pinbot.commits import trailers
from pinbot.config import Settings
from pinbot.cut.facts import BranchFacts, Pending, Pick
from pinbot.errors import NegativeVerdict
from pinbot.pins import kinds, lock
from pinbot.pins.state import PinState
from pinbot.pins.text import Change

DEPLOY_PREFIX = "pinbot/agent-server-"
OPENHANDS_SHA_TRAILER = "Pinbot-OpenHands-Sha"
IMAGE_KINDS = (
    "python-constant",
    "compose-default",
    "yaml",
)  # sites that name the image, not a package


@dataclass(frozen=True)
class FileEdit:
    path: str
    before: bytes
    after: bytes
    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        old = self.before.decode("utf-8", "replace").splitlines()
        new = self.after.decode("utf-8", "replace").splitlines()
        lines = difflib.unified_diff(old, new, f"a/{self.path}", f"b/{self.path}", n=1, lineterm="")
        return "\n".join(lines)


@dataclass(frozen=True)
class LockStep:
    """Regenerate `file` with `argv`, run in its directory beside the edited pyproject.toml."""

    file: str
    argv: tuple[str, ...]
    packages: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class BranchPlan:
    """What one OpenHands branch gets: edits and lock runs on `parent`, in one commit pushed to
    `head` (a PR from it into `branch`). `parent` is the branch's tip, or the head's when an
    earlier run pushed it; `landed`: the branch itself pins the image, nothing to do."""

    branch: str
    parent: str
    edits: tuple[FileEdit, ...] = ()
    locks: tuple[LockStep, ...] = ()
    message: str | None = None
    note: str = ""
    head: str = ""
    landed: bool = False
    replaces: str = ""  # the head's tip this commit replaces (--force-with-lease), "": none

    @property
    def changed(self) -> bool:
        return bool(self.edits or self.locks)

    @property
    def paths(self) -> list[str]:
        return [e.path for e in self.edits] + [step.file for step in self.locks]


@dataclass(frozen=True)
class Plan:
    pick: Pick
    url: str
    branches: tuple[BranchPlan, ...]
    deploy_base: str | None  # None: no deploy repository was given

    @property
    def first(self) -> BranchPlan:
        return self.branches[0]

    @property
    def deploy_branch(self) -> str:
        return DEPLOY_PREFIX + self.pick.tag


def plan_branch(facts: BranchFacts, pick: Pick, settings: Settings, url: str) -> BranchPlan:
    """Every present site of the branch moved to the pick, and its locks regenerated, in a
    commit for its head branch: on the branch's tip, or on the head's tip when an earlier run
    pushed it (so a re-run makes no second commit). Nothing when the branch already pins it."""
    pending = facts.pending
    if not _moves(facts.state, facts.files, pick):
        _need_backend(facts.branch, facts.tip, facts.lacks, url)
        note = f"{facts.branch} already pins {pick.ref}"
        return BranchPlan(facts.branch, facts.tip, note=note, head=facts.head, landed=True)
    if pending is None:
        _need_backend(facts.branch, facts.tip, facts.lacks, url)
        return _on(facts, facts, pick, settings)
    hint = f" (or delete {pending.head}, made by an earlier run, to rebuild on {facts.branch})"
    _need_backend(pending.head, pending.tip, pending.lacks, url, hint)
    return _on(facts, pending, pick, settings)


def _on(
    facts: BranchFacts, at: BranchFacts | Pending, pick: Pick, settings: Settings
) -> BranchPlan:
    """The plan on `at`: the branch itself, or the head branch an earlier run pushed."""
    edits = tuple(e for e in _edits(at.state, at.files, pick) if e.changed)
    locks = tuple(_locks(at.state, pick, _pins_moved(at.state, edits)))
    if not edits and not locks:
        note = f"{facts.head} already pins {pick.ref}"
        return BranchPlan(facts.branch, at.tip, note=note, head=facts.head)
    paths = [e.path for e in edits] + [step.file for step in locks]
    message = openhands_message(pick, facts.branch, paths, settings)
    where = facts.head if at is facts.pending else facts.branch
    note = f"on top of {where}" + (
        f", replacing {commits.short(facts.replaces)}" if facts.replaces else ""
    )
    return BranchPlan(
        facts.branch, at.tip, edits, locks, message, note, facts.head, replaces=facts.replaces
    )


def _moves(state: PinState, files: Mapping[str, bytes], pick: Pick) -> bool:
    """Whether these sites do not pin the pick yet (a site to edit, or a stale lock)."""
    edits = [e for e in _edits(state, files, pick) if e.changed]
    return bool(edits) or bool(_locks(state, pick, _pins_moved(state, edits)))


def _need_backend(name: str, tip: str, lacks: Sequence[str], url: str, hint: str = "") -> None:
    if lacks:
        names = ", ".join(commits.short(sha) for sha in lacks)
        raise NegativeVerdict(
            f"{name} ({commits.short(tip)}) in {url} does not contain the backend "
            f"commit(s) {names}: the pin must land on the branch that carries the backend change, "
            "so that one commit holds both; pass that branch as --openhands-branch (or merge the "
            f"commits into it) and re-run{hint}"
        )


def _edits(state: PinState, files: Mapping[str, bytes], pick: Pick) -> list[FileEdit]:
    """One edit per file; sites sharing a file are applied one after the other."""
    target = pick.target
    edits: dict[str, FileEdit] = {}
    for site in state.edit_sites:
        path = site.spec.file
        before = edits[path].after if path in edits else files[path]
        after, changes = kinds.rewrite(site.spec, before, target)
        earlier = edits[path].changes if path in edits else ()
        edits[path] = FileEdit(path, files[path], after, (*earlier, *changes))
    return list(edits.values())


def _pins_moved(state: PinState, edits: Sequence[FileEdit]) -> bool:
    """Whether a package pin moves (a lock follows package pins, not the image constant)."""
    files = {s.spec.file for s in state.edit_sites if s.spec.kind not in IMAGE_KINDS}
    return any(e.changed for e in edits if e.path in files)


def _locks(state: PinState, pick: Pick, moved: bool) -> list[LockStep]:
    """A lock is regenerated when the package pins move, or when it locks another version."""
    version = pick.target.version
    steps = []
    for site in state.lock_sites:
        if not site.present:
            continue
        stale = [f.label for f in site.found if version is not None and f.value != version]
        if not moved and not stale:
            continue
        reason = "the package pins moved" if moved else f"it locks {', '.join(stale)}"
        packages = sorted({f.label.split("==")[0] for f in site.found})
        argv = tuple(lock.command(site.spec.file, site.spec.command, packages))
        steps.append(LockStep(site.spec.file, argv, site.spec.packages, reason))
    return steps


# --- messages (pure) ----------------------------------------------------------------------------


def openhands_message(pick: Pick, branch: str, paths: Sequence[str], settings: Settings) -> str:
    built = f"built from {pick.candidate.build_sha}" if pick.candidate.build_sha else "no build sha"
    lines = [
        f"Pin agent-server {pick.tag}",
        "",
        f"Point every agent-server pin site on {branch} at {pick.ref}",
        f"({pick.digest}, {built}), so that one commit carries the backend change",
        "and the image it needs:",
        "",
        *[f"- {path}" for path in paths],
        "",
        capability_sentence(pick, settings),
        *held_sentence(pick),
        "",
        trailers(pick.ref, pick.digest),
    ]
    return "\n".join(lines) + "\n"


def deploy_message(pick: Pick, branch: str, sha: str, settings: Settings) -> str:
    lines = [
        f"Deploy OpenHands {commits.short(sha)} with agent-server {pick.tag}",
        "",
        f"Set {settings.deploy.sha_key} to {sha},",
        f"the commit for {branch} that carries the backend change and pins",
        f"{pick.ref} ({pick.digest}).",
        "",
        capability_sentence(pick, settings),
        *held_sentence(pick),
        "",
        trailers(pick.ref, pick.digest, {OPENHANDS_SHA_TRAILER: sha}),
    ]
    return "\n".join(lines) + "\n"


def capability_sentence(pick: Pick, settings: Settings) -> str:
    if pick.forced:
        return (
            f"WARNING: the capability check for {settings.capability} said "
            f"{pick.candidate.verdict}; pinned anyway with --force-capability."
        )
    return f"The image carries {settings.capability} (checked by pinbot)."


def held_sentence(pick: Pick) -> list[str]:
    """The rollback --allow-held lifted, said where a reviewer reads the commit."""
    if not pick.held:
        return []
    return ["", f"WARNING: {output.one_line(pick.held)}; pinned again with --allow-held."]
