"""Carry out a plan: regenerate the locks, build the commits, push them, open the PRs.

OpenHands branches first, then the deploy commit that names the first branch's commit, so a
deploy never names a commit its remote lacks; a run that died in between finds the pin on the
branch next time and only does the rest. A push that loses a race is rebuilt on the new tip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol, TypeVar

from pinbot import commits, locktool
from pinbot.context import Context
from pinbot.cut.plan import BranchPlan, FileEdit, LockStep, Plan, deploy_message
from pinbot.edits import sites, workflow
from pinbot.errors import ExternalError, UsageError
from pinbot.git.clone import Clone
from pinbot.github.client import open_forge
from pinbot.github.pulls import PullRequest, PullSpec, ensure_pulls
from pinbot.pins import lock, projects
from pinbot.pins.lock import LockChange

ATTEMPTS = 3


@dataclass(frozen=True)
class Built:
    """A branch's commit (the parent itself when nothing changed) and what its lock did."""

    plan: BranchPlan
    commit: str
    edits: tuple[FileEdit, ...] = ()
    lock: tuple[LockChange, ...] = ()

    @property
    def branch(self) -> str:
        return self.plan.branch

    @property
    def push_to(self) -> str:
        return self.plan.head

    @property
    def replaces(self) -> str:
        return self.plan.replaces

    @property
    def changed(self) -> bool:
        return self.commit != self.plan.parent


@dataclass(frozen=True)
class DeployBuilt:
    """The deploy repository's commit: `commit` on `branch`, built on `parent`."""

    url: str
    branch: str
    parent: str
    commit: str
    message: str | None = None
    edits: tuple[FileEdit, ...] = ()
    note: str = ""
    replaces: str = ""  # a branch tip that is not pinbot's, replaced with --force-with-lease

    @property
    def push_to(self) -> str:
        return self.branch

    @property
    def changed(self) -> bool:
        return self.commit != self.parent


# --- the OpenHands branches ---------------------------------------------------------------------


def build_branch(clone: Clone, plan: BranchPlan, scratch: Path, bounds: locktool.Bounds) -> Built:
    """Run the plan's lock steps and commit everything on the parent (objects in the clone)."""
    files = {e.path: e.after for e in plan.edits}
    edits, changes = list(plan.edits), []
    for number, step in enumerate(plan.locks):
        old = clone.read(plan.parent, step.file) or b""
        work = scratch / f"lock-{plan.branch}-{number}"
        new = _relock(lambda path: _current(clone, plan.parent, files, path), step, work, bounds)
        changes += lock.diff(old.decode("utf-8"), new.decode("utf-8"), step.file)
        if new != old:
            files[step.file] = new
            edits.append(FileEdit(step.file, old, new, ()))
    if not files or all(clone.read(plan.parent, p) == data for p, data in files.items()):
        return Built(plan, plan.parent)
    assert plan.message is not None
    commit = clone.commit(plan.parent, files, plan.message)
    return Built(plan, commit, tuple(edits), tuple(changes))


def _current(clone: Clone, parent: str, files: dict[str, bytes], path: str) -> bytes | None:
    """A file as the commit will hold it: edited (or relocked) already, else the parent's."""
    return files[path] if path in files else clone.read(parent, path)


def _relock(read: projects.Reader, step: LockStep, work: Path, bounds: locktool.Bounds) -> bytes:
    """The lock file as its tool writes it for the edited project(s), in a scratch tree holding
    the lock's project and every project it reaches by path, at their places in the repository."""
    tree = work / "tree"
    files = projects.tree_files(read, step.file)
    for path, data in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_bytes(data)
    old = files[step.file]
    folder = tree / PurePosixPath(step.file).parent
    tool = PurePosixPath(step.argv[0]).name
    version = locktool.recorded_version(old, tool)
    exe, used = locktool.find(step.argv[0], version, work / "tool", bounds, step.file)
    argv = locktool.adapted([exe, *step.argv[1:]], used)
    locktool.run(argv, folder, work / "run", bounds, step.file)
    new = (tree / step.file).read_bytes()
    _check_locked(new, step)
    return new


def _check_locked(new: bytes, step: LockStep) -> None:
    found = lock.read(new.decode("utf-8"), step.file, step.packages)
    versions = {f.value for f in found}
    if len(versions) > 1:
        raise ExternalError(
            f"`{' '.join(step.argv)}` left {step.file} split ("
            + ", ".join(f.label for f in found)
            + "): nothing was pushed"
        )


# --- the deploy repository ----------------------------------------------------------------------


def build_deploy(ctx: Context, clone: Clone, plan: Plan, base: str, target: str) -> DeployBuilt:
    """`OPENHANDS_SHA: target` on the pinbot/… branch (a commit in the clone only)."""
    branch = plan.deploy_branch
    tips = clone.fetch(base, branch)
    start = tips.get(base)
    if start is None:
        raise UsageError(f"--deploy-branch {base!r} does not exist in {clone.url}: check the name")
    short = commits.short(target)
    if deployed_sha(ctx, clone, start) == target:
        return DeployBuilt(clone.url, base, start, start, note=f"{base} already deploys {short}")
    parent, replaces = tips.get(branch, start), ""
    if branch in tips:
        parent, replaces = _own_or_replace(ctx, clone, branch, start, parent)
    edit = workflow_edit(ctx, clone, parent, target)
    if not edit.changed:
        return DeployBuilt(clone.url, branch, parent, parent, note=f"{branch} names {short}")
    message = deploy_message(plan.pick, plan.first.branch, target, ctx.settings)
    commit = clone.commit(parent, {edit.path: edit.after}, message)
    note = f"updates {branch}" if branch in tips and not replaces else f"new branch from {base}"
    return DeployBuilt(clone.url, branch, parent, commit, message, (edit,), note, replaces)


def deployed_sha(ctx: Context, clone: Clone, commit: str) -> str:
    read = lambda path: clone.read(commit, path)  # noqa: E731
    where = f" at {commits.short(commit)} in {clone.url}"
    return sites.read_deployed_sha(ctx.settings.deploy, read, where).value


def workflow_edit(ctx: Context, clone: Clone, parent: str, sha: str) -> FileEdit:
    deploy = ctx.settings.deploy
    where = f" at {commits.short(parent)} in {clone.url}: check config deploy.workflow"
    data = sites.need(lambda path: clone.read(parent, path), deploy.workflow, where)
    new, change = workflow.rewrite(
        sites.utf8(data, deploy.workflow), sha, deploy.workflow, deploy.sha_key
    )
    changes = (change,) if change.old != change.new else ()
    return FileEdit(deploy.workflow, data, new.encode("utf-8"), changes)


def _own_or_replace(
    ctx: Context, clone: Clone, branch: str, base: str, tip: str
) -> tuple[str, str]:
    """(parent, replaces): build on the deploy branch when every commit on it is one pinbot
    makes; otherwise refuse, or (pinbot owns the namespace) start again from `base`."""
    why = _not_pinbots_deploy(ctx, clone, base, tip)
    if not why:
        return tip, ""
    return base, refuse_or_replace(ctx, branch, clone.url, tip, why)


def refuse_or_replace(ctx: Context, branch: str, url: str, tip: str, why: str) -> str:
    """The tip to replace (--force-with-lease) when config [cut] own_head_branches says pinbot
    owns its branches; else exit 2 naming what is there."""
    if not ctx.settings.cut.own_head_branches:
        raise UsageError(
            f"{branch} in {url}: {why}: pinbot will not build on it; delete the branch, or set "
            "[cut] own_head_branches = true in pinbot's config to let pinbot replace it, then "
            "re-run"
        )
    ctx.out.progress(f"{branch} in {url}: {why}; replacing it ([cut] own_head_branches = true)")
    return tip


def _not_pinbots_deploy(ctx: Context, clone: Clone, base: str, tip: str) -> str:
    """Why the deploy branch is not pinbot's ("": it is): each commit on it past `base` must
    have one parent and change nothing but the OPENHANDS_SHA value pinbot writes."""
    for info in clone.log(tip, base=base):
        parents = clone.parents(info.sha)
        if len(parents) != 1:
            return f"its commit {clone.describe(info.sha)} is a merge"
        if not _only_sets_the_sha(ctx, clone, parents[0], info.sha):
            return f"its commit {clone.describe(info.sha)} is not one pinbot makes"
    return ""


def _only_sets_the_sha(ctx: Context, clone: Clone, parent: str, commit: str) -> bool:
    """Whether `commit` is `parent` with the deploy workflow's sha set to the one it names, and
    nothing else: the tree pinbot would make (trailers and messages prove nothing)."""
    try:
        edit = workflow_edit(ctx, clone, parent, deployed_sha(ctx, clone, commit))
    except UsageError:
        return False  # no readable workflow or sha there: not pinbot's
    made = clone.commit(parent, {edit.path: edit.after}, "pinbot's own, to compare")
    return clone.tree(made) == clone.tree(commit)


# --- pushing --------------------------------------------------------------------------------------


class _Commit(Protocol):
    @property
    def commit(self) -> str: ...
    @property
    def push_to(self) -> str: ...
    @property
    def changed(self) -> bool: ...
    @property
    def replaces(self) -> str: ...


C = TypeVar("C", bound=_Commit)


def push_branch(ctx: Context, clone: Clone, built: Built, rebuild: Callable[[], Built]) -> Built:
    """Push one branch's commit to its head branch (never to the branch itself: a PR takes it
    there); when the head moved meanwhile, rebuild on what is there now."""
    return _push_rebuilding(ctx, clone, built, rebuild, "nothing more was pushed")


def push_deploy(
    ctx: Context, clone: Clone, deploy: DeployBuilt, rebuild: Callable[[], DeployBuilt]
) -> DeployBuilt:
    after = "the OpenHands pin is pushed; re-run to finish the deploy"
    return _push_rebuilding(ctx, clone, deploy, rebuild, after)


def _push_rebuilding(
    ctx: Context, clone: Clone, built: C, rebuild: Callable[[], C], after: str
) -> C:
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            built = rebuild()
        if not built.changed or _push(ctx, clone, built):
            return built
        _moved(ctx, built.push_to, clone.url, attempt)
    raise _kept_moving(built.push_to, clone.url, after)


def _push(ctx: Context, clone: Clone, built: _Commit) -> bool:
    commit, branch = built.commit, built.push_to
    lease = f" (--force-with-lease on {commits.short(built.replaces)})" if built.replaces else ""
    ctx.out.progress(f"pushing {commits.short(commit)} to {branch} in {clone.url}{lease}")
    if built.replaces:
        return clone.replace(commit, branch, built.replaces)
    return clone.push(commit, branch)


def _moved(ctx: Context, branch: str, url: str, attempt: int) -> None:
    if attempt < ATTEMPTS:
        ctx.out.progress(
            f"{branch} moved in {url} meanwhile; refetching and rebuilding on its "
            f"new tip (attempt {attempt + 1} of {ATTEMPTS})"
        )


def _kept_moving(branch: str, url: str, state: str) -> ExternalError:
    return ExternalError(
        f"{branch} in {url} kept moving during {ATTEMPTS} attempts; {state}; "
        "re-run when it is quiet"
    )


def open_pulls(
    ctx: Context, specs: tuple[PullSpec, ...], reasons: tuple[str, ...]
) -> dict[str, PullRequest]:
    for reason in reasons:
        ctx.out.progress(f"{reason} (branches pushed)")
    if not specs:
        return {}
    ctx.out.progress("opening or updating the pull requests")
    try:
        return ensure_pulls(open_forge(ctx.settings.http_timeout), specs, ctx.settings.pr)
    except ExternalError as exc:
        raise ExternalError(
            f"{exc}; the branches are pushed: re-run the same command to open or update the "
            "PRs (it makes no new commit and finds any PR already opened)"
        ) from None
