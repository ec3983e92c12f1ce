"""`pinbot cut`: one pin across the OpenHands and deploy repositories.

Plan, then apply. The plan fetches both repositories into temporary clones, rewrites every pin
site on the OpenHands branch that carries the backend change, builds the pin commit and the
deploy commit that names it (objects in the clones only), and lists the PRs it would open.
`--dry-run` prints it. `--push` pushes the OpenHands commit first and the deploy commit second,
so a deploy never names a commit its remote lacks; a run that died in between finds the pin on
the branch next time and only does the rest. A push that loses a race is rebuilt on the new tip.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pinbot import config, holds
from pinbot import git as gitops  # the git seam; the pin engineer renames these with cut/
from pinbot import github as forge
from pinbot.commands import Context
from pinbot.commands.scan import hold_back, why
from pinbot.edits import Change, sites, workflow
from pinbot.engine import Engine, ImageOptions, image_options
from pinbot.errors import ExternalError, NegativeVerdict, UsageError
from pinbot.holds import Hold
from pinbot.model import Candidate, validate_sha, validate_tag
from pinbot.pins import compose, python_constant

ATTEMPTS = 3
DEPLOY_PREFIX = "pinbot/agent-server-"
OPENHANDS_SHA_TRAILER = "Pinbot-OpenHands-Sha"
_BRANCH = re.compile(r"(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]+(?<![/.])\Z")


@dataclass(frozen=True)
class Request:
    """The validated command line: nothing below reads `args`."""

    tag: str | None
    openhands: str
    branch: str
    deploy: str
    deploy_base: str
    require_commits: tuple[str, ...]
    require_prs: tuple[int, ...]
    push: bool
    open_prs: bool
    dry_run: bool
    force: bool
    author: tuple[str, str]
    allow_held: bool = False


@dataclass(frozen=True)
class Pick:
    """The image being pinned: the name written into files and what the checks found."""

    image: str
    candidate: Candidate
    forced: bool
    capability: str

    @property
    def tag(self) -> str:
        return self.candidate.tag

    @property
    def ref(self) -> str:
        return f"{self.image}:{self.tag}"

    @property
    def digest(self) -> str | None:
        return self.candidate.digest


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
class RepoPlan:
    """What one repository gets: `commit` on `branch`, built on `parent` (equal: nothing to do)."""

    name: str
    url: str
    branch: str
    parent: str
    commit: str
    message: str | None = None
    edits: tuple[FileEdit, ...] = ()
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.commit != self.parent


@dataclass(frozen=True)
class Plan:
    pick: Pick
    openhands: RepoPlan
    deploy: RepoPlan
    pulls: tuple[forge.PullSpec, ...] = ()
    no_pr_reasons: tuple[str, ...] = ()


@dataclass
class Clones:
    openhands: gitops.Clone
    deploy: gitops.Clone
    required: tuple[str, ...] = ()


def run(ctx: Context, args: argparse.Namespace) -> int:
    request = _request(ctx, args)
    opts = image_options(ctx.settings, args)
    workdir = Path(tempfile.mkdtemp(prefix="pinbot-cut-"))
    keep = False  # only a successful build without --push leaves its commits for inspection
    opened: list[gitops.Clone] = []  # closed at the end: GitPython keeps git helpers running
    try:
        opened.append(
            gitops.Clone(request.openhands, "--openhands", workdir / "openhands", request.author)
        )
        opened.append(gitops.Clone(request.deploy, "--deploy", workdir / "deploy", request.author))
        clones = Clones(opened[0], opened[1])
        pick = _pick(ctx, request, opts, clones)
        clones.required = _required_commits(ctx, request, clones.openhands)
        ctx.out.progress(f"building the commits that pin {pick.ref}")
        plan = build_plan(ctx, request, pick, clones)
        if not request.push:
            keep = not request.dry_run
            _report(ctx, plan, {}, pushed=False, kept=workdir if keep else None)
            return 0
        plan = _push(ctx, request, clones, plan)
        pulls = _open_pulls(ctx, plan) if request.open_prs else {}
        _report(ctx, plan, pulls, pushed=True, kept=None)
        return 0
    finally:
        for clone in opened:
            clone.close()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _request(ctx: Context, args: argparse.Namespace) -> Request:
    settings = ctx.settings
    given = args.require_commit
    shas = given if given is not None else settings.require_commits
    return Request(
        tag=validate_tag(args.tag, "--tag") if args.tag else None,
        openhands=args.openhands,
        branch=_branch(args.openhands_branch, "--openhands-branch"),
        deploy=args.deploy,
        deploy_base=_branch(args.deploy_branch or settings.deploy.branch, "--deploy-branch"),
        require_commits=tuple(validate_sha(s.lower(), "--require-commit") for s in shas),
        require_prs=tuple(settings.require_prs) if given is None else (),
        push=(args.push or args.open_prs) and not args.dry_run,
        open_prs=args.open_prs,
        dry_run=args.dry_run,
        force=args.force_capability,
        author=config.git_author(settings),
        allow_held=args.allow_held,
    )


def _branch(name: str, flag: str) -> str:
    if not _BRANCH.match(name) or name.endswith(".lock"):
        raise UsageError(f"{flag} {name!r} is not a valid branch name")
    return name


# --- what to pin ------------------------------------------------------------------------------


def _pick(ctx: Context, request: Request, opts: ImageOptions, clones: Clones) -> Pick:
    clone = clones.openhands
    ctx.out.progress(f"reading the pin sites of {request.branch} in {clone.url}")
    tip = _tip(clone, request.branch, "--openhands-branch")
    current = sites.read_pins(ctx.settings.pin, _reader(clone, tip), _where(clone, tip))
    what = request.tag or f"the newest tag newer than {current.tag}"
    found = _holds(ctx, request, clone, tip)
    ctx.out.progress(f"checking {what} of {opts.image} for {ctx.settings.capability}")
    candidate = examine(ctx, opts, request.tag, current.tag, found)
    _check_hold(ctx, request, opts, candidate, found)
    forced = _judge(ctx, request, opts, candidate)
    return Pick(str(opts.image), candidate, forced, ctx.settings.capability)


def examine(
    ctx: Context,
    opts: ImageOptions,
    tag: str | None,
    current: str | None,
    found: Sequence[Hold] = (),
) -> Candidate:
    """The engine's answer for `tag`, or for the newest qualifying tag that is not held
    (--latest)."""
    engine = Engine(ctx, opts)
    if tag is not None:
        return engine.examine(tag)
    engine.veto = hold_back(list(found), str(opts.image))
    result = engine.scan(current=current, examine_all=False)
    passed_over = [c for c in result.candidates if c.verdict == "held"]
    for candidate in passed_over:
        ctx.out.progress(f"passing over {why(candidate).removeprefix('hold: ')}")
    if result.selected is None:
        newer = f" newer than the pin {current}" if current else ""
        held = "; ".join(why(c).removeprefix("hold: ") for c in passed_over)
        raise NegativeVerdict(
            f"--latest: no tag of {opts.image}{newer} carries {ctx.settings.capability}"
            + (f" and is not held ({held}; --allow-held lifts that)" if held else "")
            + "; `pinbot scan` shows why for each"
        )
    return result.selected


def _holds(ctx: Context, request: Request, clone: gitops.Clone, tip: str) -> list[Hold]:
    """The rollbacks of pinbot pins on the branch; none with --allow-held (said out loud)."""
    found = gitops.holds_at(Path(clone.repo.git_dir), tip, request.branch)
    if found and request.allow_held:
        for hold in found:
            ctx.out.progress(f"warning: {hold.describe()}; --allow-held: not holding it back")
        return []
    return found


def _check_hold(
    ctx: Context, request: Request, opts: ImageOptions, candidate: Candidate, found: Sequence[Hold]
) -> None:
    """`cut --tag` of a held image is refused: a rollback is a human's negative verdict."""
    hold = holds.held(found, str(opts.image), candidate.tag, candidate.digest)
    if hold is not None:
        raise NegativeVerdict(
            f"{opts.image}:{candidate.tag} is not pinned: {hold.describe()}. Pick another tag "
            "(`pinbot scan --openhands ... --openhands-branch ...` shows what is held), or "
            "pass --allow-held to pin it again on purpose"
        )


def _judge(ctx: Context, request: Request, opts: ImageOptions, candidate: Candidate) -> bool:
    """True when the pin goes ahead only because of --force-capability."""
    if candidate.verdict == "pass":
        return False
    ref = f"{opts.image}:{candidate.tag}"
    reason = why(candidate) or candidate.verdict
    if request.force:
        ctx.out.progress(
            f"warning: {ref} did not pass the capability check ({reason}); "
            "pinning it anyway because of --force-capability, and the PRs will say so"
        )
        return True
    if candidate.verdict == "fail":
        raise NegativeVerdict(
            f"{ref} does not carry {ctx.settings.capability} ({reason}): pick another tag "
            "(`pinbot scan`), or pass --force-capability to pin it anyway"
        )
    raise ExternalError(
        f"could not decide whether {ref} carries {ctx.settings.capability} ({reason}); "
        "fix that and re-run, or pass --force-capability"
    )


def _required_commits(ctx: Context, request: Request, clone: gitops.Clone) -> tuple[str, ...]:
    repo = forge.github_repo(clone.url) if request.require_prs else None
    shas = forge.required_commits(
        request.require_commits, request.require_prs, repo, ctx.settings.http_timeout
    )
    if not shas:
        ctx.out.progress(
            f"no backend commits required (--require-commit, config require_commits): "
            f"pinning {request.branch} as it is"
        )
    return shas


# --- the plan ---------------------------------------------------------------------------------


def build_plan(ctx: Context, request: Request, pick: Pick, clones: Clones) -> Plan:
    """Fetch, rewrite and build both commits (in the clones only); list the PRs."""
    openhands = _plan_openhands(ctx, request, pick, clones)
    deploy = _plan_deploy(ctx, request, pick, clones.deploy, openhands)
    plan = Plan(pick, openhands, deploy)
    return _with_pulls(request, plan, clones) if request.open_prs else plan


def _plan_openhands(ctx: Context, request: Request, pick: Pick, clones: Clones) -> RepoPlan:
    clone = clones.openhands
    tip = _tip(clone, request.branch, "--openhands-branch")
    _check_backend(request, clone, tip, clones.required)
    edits = [e for e in _pin_edits(ctx.settings.pin, clone, tip, pick) if e.changed]
    if not edits:
        note = f"{request.branch} already pins {pick.ref}"
        return RepoPlan("openhands", clone.url, request.branch, tip, tip, note=note)
    message = openhands_message(pick, request.branch, [e.path for e in edits], ctx.settings)
    commit = clone.commit(tip, {e.path: e.after for e in edits}, message)
    note = f"on top of {request.branch}"
    return RepoPlan(
        "openhands", clone.url, request.branch, tip, commit, message, tuple(edits), note
    )


def _check_backend(
    request: Request, clone: gitops.Clone, tip: str, required: Sequence[str]
) -> None:
    missing = [sha for sha in required if not clone.contains(tip, sha)]
    if missing:
        names = ", ".join(gitops.short(sha) for sha in missing)
        raise NegativeVerdict(
            f"{request.branch} ({gitops.short(tip)}) in {clone.url} does not contain the backend "
            f"commit(s) {names}: the pin must land on the branch that carries the backend change, "
            "so that one commit holds both; pass that branch as --openhands-branch (or merge the "
            "commits into it) and re-run"
        )


def _pin_edits(
    pin: config.PinSettings, clone: gitops.Clone, tip: str, pick: Pick
) -> list[FileEdit]:
    data = _read(clone, tip, pin.python_file, "config pin.python_file")
    text, encoding = python_constant.decode(data, pin.python_file)
    new, change = python_constant.rewrite(
        text, pick.tag, pin.python_file, pin.python_constant, pick.image
    )
    edits = [FileEdit(pin.python_file, data, new.encode(encoding), _real((change,)))]
    for path in pin.compose_files:
        data = _read(clone, tip, path, "config pin.compose_files")
        new, changes = compose.rewrite(sites.utf8(data, path), pick.tag, path, pin.compose_variable)
        edits.append(FileEdit(path, data, new.encode("utf-8"), _real(changes)))
    return edits


def _plan_deploy(
    ctx: Context, request: Request, pick: Pick, clone: gitops.Clone, openhands: RepoPlan
) -> RepoPlan:
    branch = DEPLOY_PREFIX + pick.tag
    tips = clone.fetch(request.deploy_base, branch)
    base = tips.get(request.deploy_base) or _missing_branch(clone, request.deploy_base)
    target, short = openhands.commit, gitops.short(openhands.commit)
    if _deployed_sha(ctx, clone, base) == target:
        note = f"{request.deploy_base} already deploys {short}"
        return RepoPlan("deploy", clone.url, request.deploy_base, base, base, note=note)
    parent = tips.get(branch, base)
    if branch in tips:
        _check_only_pinbot(clone, branch, base, parent)
    edit = _workflow_edit(ctx, clone, parent, target)
    if not edit.changed:
        return RepoPlan("deploy", clone.url, branch, parent, parent, note=f"{branch} names {short}")
    message = deploy_message(pick, request.branch, target, ctx.settings)
    commit = clone.commit(parent, {edit.path: edit.after}, message)
    note = f"updates {branch}" if branch in tips else f"new branch from {request.deploy_base}"
    return RepoPlan("deploy", clone.url, branch, parent, commit, message, (edit,), note)


def _deployed_sha(ctx: Context, clone: gitops.Clone, commit: str) -> str:
    read, where = _reader(clone, commit), _where(clone, commit)
    return sites.read_deployed_sha(ctx.settings.deploy, read, where).value


def _workflow_edit(ctx: Context, clone: gitops.Clone, parent: str, sha: str) -> FileEdit:
    deploy = ctx.settings.deploy
    data = _read(clone, parent, deploy.workflow, "config deploy.workflow")
    text = sites.utf8(data, deploy.workflow)
    new, change = workflow.rewrite(text, sha, deploy.workflow, deploy.sha_key)
    return FileEdit(deploy.workflow, data, new.encode("utf-8"), _real((change,)))


def _check_only_pinbot(clone: gitops.Clone, branch: str, base: str, tip: str) -> None:
    foreign = [c for c in clone.log(tip, base=base) if not c.by_pinbot]
    if foreign:
        raise UsageError(
            f"{branch} in {clone.url} has commits pinbot did not make "
            f"({gitops.describe_foreign(foreign)}): pinbot will not build on them; merge or "
            "drop them, or delete the branch, then re-run"
        )


def _with_pulls(request: Request, plan: Plan, clones: Clones) -> Plan:
    specs: list[forge.PullSpec] = []
    reasons: list[str] = []
    openhands_repo = forge.github_repo(clones.openhands.url)
    deploy_repo = forge.github_repo(clones.deploy.url)
    if openhands_repo is None:
        reasons.append(f"{clones.openhands.url} is not a GitHub remote: no OpenHands PR")
    else:
        base = clones.openhands.default_branch() or "main"
        if base != request.branch:
            specs.append(openhands_pull(plan, openhands_repo, base))
    if deploy_repo is None:
        reasons.append(f"{clones.deploy.url} is not a GitHub remote: no deploy PR")
    elif plan.deploy.branch != request.deploy_base:
        specs.append(deploy_pull(plan, deploy_repo, request.deploy_base))
    if specs and request.push:
        forge.open_forge(0)  # no token: refuse now, before anything is pushed
    return dataclasses.replace(plan, pulls=tuple(specs), no_pr_reasons=tuple(reasons))


# --- apply ------------------------------------------------------------------------------------


def _push(ctx: Context, request: Request, clones: Clones, plan: Plan) -> Plan:
    """OpenHands first, then deploy; each rebuilt on the new tip when its branch moved."""
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            plan = build_plan(ctx, request, plan.pick, clones)
        if not plan.openhands.changed or _push_one(ctx, clones.openhands, plan.openhands):
            break
        _moved(ctx, plan.openhands, attempt)
    else:
        raise _kept_moving(plan.openhands, "nothing was pushed")
    for attempt in range(1, ATTEMPTS + 1):
        if attempt > 1:
            deploy = _plan_deploy(ctx, request, plan.pick, clones.deploy, plan.openhands)
            plan = dataclasses.replace(plan, deploy=deploy)
        if not plan.deploy.changed or _push_one(ctx, clones.deploy, plan.deploy):
            return plan
        _moved(ctx, plan.deploy, attempt)
    raise _kept_moving(plan.deploy, "the OpenHands pin is pushed; re-run to finish the deploy")


def _push_one(ctx: Context, clone: gitops.Clone, repo: RepoPlan) -> bool:
    ctx.out.progress(f"pushing {gitops.short(repo.commit)} to {repo.branch} in {repo.url}")
    return clone.push(repo.commit, repo.branch)


def _moved(ctx: Context, repo: RepoPlan, attempt: int) -> None:
    if attempt < ATTEMPTS:
        ctx.out.progress(
            f"{repo.branch} moved in {repo.url} meanwhile; refetching and rebuilding on its "
            f"new tip (attempt {attempt + 1} of {ATTEMPTS})"
        )


def _kept_moving(repo: RepoPlan, state: str) -> ExternalError:
    return ExternalError(
        f"{repo.branch} in {repo.url} kept moving during {ATTEMPTS} attempts; {state}; "
        "re-run when it is quiet"
    )


def _open_pulls(ctx: Context, plan: Plan) -> dict[str, forge.PullRequest]:
    for reason in plan.no_pr_reasons:
        ctx.out.progress(f"{reason} (branches pushed)")
    if not plan.pulls:
        return {}
    ctx.out.progress("opening or updating the pull requests")
    try:
        return forge.open_forge(ctx.settings.http_timeout).ensure(plan.pulls)
    except ExternalError as exc:
        raise ExternalError(
            f"{exc}; both branches are pushed: re-run the same command to open or update the "
            "PRs (it makes no new commit and finds any PR already opened)"
        ) from None


# --- messages and PR text (pure) --------------------------------------------------------------


def openhands_message(
    pick: Pick, branch: str, paths: Sequence[str], settings: config.Settings
) -> str:
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
        _capability_sentence(pick, settings),
        "",
        gitops.trailers(pick.ref, pick.digest),
    ]
    return "\n".join(lines) + "\n"


def deploy_message(pick: Pick, branch: str, sha: str, settings: config.Settings) -> str:
    lines = [
        f"Deploy OpenHands {gitops.short(sha)} with agent-server {pick.tag}",
        "",
        f"Set {settings.deploy.sha_key} to {sha},",
        f"the commit on {branch} that carries the backend change and pins",
        f"{pick.ref} ({pick.digest}).",
        "",
        _capability_sentence(pick, settings),
        "",
        gitops.trailers(pick.ref, pick.digest, {OPENHANDS_SHA_TRAILER: sha}),
    ]
    return "\n".join(lines) + "\n"


def _capability_sentence(pick: Pick, settings: config.Settings) -> str:
    if pick.forced:
        return (
            f"WARNING: the capability check for {settings.capability} said "
            f"{pick.candidate.verdict}; pinned anyway with --force-capability."
        )
    return f"The image carries {settings.capability} (checked by pinbot)."


def _facts(plan: Plan) -> list[tuple[str, str]]:
    candidate = plan.pick.candidate
    forced = " (pinned anyway: --force-capability)" if plan.pick.forced else ""
    return [
        ("image", f"`{plan.pick.ref}`"),
        ("tag", f"`{plan.pick.tag}`"),
        ("digest", f"`{candidate.digest}`"),
        ("build sha", f"`{candidate.build_sha or 'unknown'}`"),
        ("capability", f"{plan.pick.capability}: {candidate.verdict}" + forced),
        ("OpenHands commit", f"`{plan.openhands.commit}` on `{plan.openhands.branch}`"),
    ]


def _marker(plan: Plan, role: str) -> dict[str, Any]:
    return {
        "role": role,
        "image": plan.pick.image,
        "tag": plan.pick.tag,
        "digest": plan.pick.digest,
        "build_sha": plan.pick.candidate.build_sha,
        "openhands_sha": plan.openhands.commit,
        "forced": plan.pick.forced,
    }


def _notes(plan: Plan) -> list[str]:
    if not plan.pick.forced:
        return []
    return [
        "> [!WARNING]",
        "> Pinned with `--force-capability`: the capability check did not pass.",
    ]


def openhands_pull(plan: Plan, repo: forge.GitHubRepo, base: str) -> forge.PullSpec:
    section = forge.render_section(
        title=f"pinbot: agent-server {plan.pick.tag}",
        facts=[*_facts(plan), ("deploy PR", "{other}")],
        evidence=plan.pick.candidate.evidence,
        notes=_notes(plan),
    )
    return forge.PullSpec(
        "openhands",
        repo,
        plan.openhands.branch,
        base,
        f"Pin agent-server {plan.pick.tag}",
        _marker(plan, "openhands"),
        section,
    )


def deploy_pull(plan: Plan, repo: forge.GitHubRepo, base: str) -> forge.PullSpec:
    section = forge.render_section(
        title=f"pinbot: deploy OpenHands {gitops.short(plan.openhands.commit)}",
        facts=[*_facts(plan), ("OpenHands PR", "{other}")],
        evidence=plan.pick.candidate.evidence,
        notes=_notes(plan),
    )
    title = (
        f"Deploy OpenHands {gitops.short(plan.openhands.commit)} with agent-server {plan.pick.tag}"
    )
    return forge.PullSpec(
        "deploy", repo, plan.deploy.branch, base, title, _marker(plan, "deploy"), section
    )


# --- output -----------------------------------------------------------------------------------


def _report(
    ctx: Context,
    plan: Plan,
    pulls: dict[str, forge.PullRequest],
    pushed: bool,
    kept: Path | None,
) -> None:
    data = result_json(plan, pulls, pushed)
    data["workdir"] = str(kept) if kept else None
    ctx.out.result(data, plan_text(plan, pulls, pushed, kept))
    ctx.out.github(
        outputs={
            "verdict": plan.pick.candidate.verdict,
            "image": plan.pick.image,
            "tag": plan.pick.tag,
            "digest": plan.pick.digest or "",
            "openhands_sha": plan.openhands.commit,
            "deploy_branch": plan.deploy.branch,
            "deploy_commit": plan.deploy.commit,
        }
    )


def result_json(plan: Plan, pulls: dict[str, forge.PullRequest], pushed: bool) -> dict[str, Any]:
    def repo(part: RepoPlan) -> dict[str, Any]:
        pull = pulls.get(part.name)
        return {
            "branch": part.branch,
            "commit": part.commit,
            "pr": pull.url if pull else None,
            "changed": part.changed,
            "message": part.message,
            "diff": "\n".join(e.diff() for e in part.edits),
        }

    changes = [
        c.to_json(part.name)
        for part in (plan.openhands, plan.deploy)
        for edit in part.edits
        for c in edit.changes
    ]
    return {
        "tag": plan.pick.tag,
        "digest": plan.pick.digest,
        "image": plan.pick.ref,
        "forced": plan.pick.forced,
        "pushed": pushed,
        "openhands": repo(plan.openhands),
        "deploy": repo(plan.deploy),
        "changes": changes,
        "pull_requests": [
            {"repo": s.repo.full_name, "head": s.head, "base": s.base, "title": s.title}
            for s in plan.pulls
        ],
    }


def plan_text(
    plan: Plan, pulls: dict[str, forge.PullRequest], pushed: bool, kept: Path | None
) -> str:
    pick = plan.pick
    lines = [f"pin {pick.ref} ({pick.digest}), capability {pick.candidate.verdict}"]
    if pick.forced:
        lines.append("  forced with --force-capability")
    for part in (plan.openhands, plan.deploy):
        lines += _repo_text(part, pushed)
    for spec in plan.pulls:
        pull = pulls.get(spec.role)
        done = f"{'opened' if pull.created else 'up to date'}: {pull.url}" if pull else "would open"
        lines.append(f"PR {spec.repo.full_name} {spec.head} -> {spec.base}: {done}")
    lines += [f"no PR: {reason}" for reason in plan.no_pr_reasons]
    if kept is not None:
        lines.append(
            f"built, not pushed: the commits are in {kept} (git -C {kept}/openhands show "
            f"{gitops.short(plan.openhands.commit)}); re-run with --push to publish them"
        )
    elif not pushed:
        lines.append("dry run: nothing was pushed")
    return "\n".join(lines)


def _repo_text(part: RepoPlan, pushed: bool) -> list[str]:
    head = f"{part.name}: {part.url} {part.branch}"
    if not part.changed:
        return [f"{head}: no new commit ({part.note})"]
    state = "pushed" if pushed else "not pushed"
    lines = [f"{head}: commit {part.commit} on {gitops.short(part.parent)} ({state}; {part.note})"]
    lines += [f"    {line}" for edit in part.edits for line in edit.diff().splitlines()]
    lines += [f"  | {line}".rstrip() for line in (part.message or "").splitlines()]
    return lines


# --- small helpers ----------------------------------------------------------------------------


def _tip(clone: gitops.Clone, branch: str, flag: str) -> str:
    return clone.fetch(branch).get(branch) or _missing_branch(clone, branch, flag)


def _missing_branch(clone: gitops.Clone, branch: str, flag: str = "--deploy-branch") -> str:
    raise UsageError(f"{flag} {branch!r} does not exist in {clone.url}: check the name")


def _reader(clone: gitops.Clone, commit: str) -> sites.Reader:
    return lambda path: clone.read(commit, path)


def _where(clone: gitops.Clone, commit: str) -> str:
    return f" at {gitops.short(commit)} in {clone.url}"


def _read(clone: gitops.Clone, commit: str, path: str, setting: str) -> bytes:
    return sites.need(_reader(clone, commit), path, f"{_where(clone, commit)}: check {setting}")


def _real(changes: Sequence[Change]) -> tuple[Change, ...]:
    return tuple(c for c in changes if c.old != c.new)
