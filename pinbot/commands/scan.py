"""`pinbot scan` and `pinbot check`: which tags carry the capability, newest first, and why."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pinbot import holds, ignore, versions
from pinbot.commands import Context
from pinbot.engine import Engine
from pinbot.errors import UsageError
from pinbot.holds import Hold
from pinbot.model import Candidate, ImageRef, validate_branch
from pinbot.options import CheckOptions, ImageOptions, ScanOptions
from pinbot.report.scan import check_text, scan_json, scan_text, why

if TYPE_CHECKING:
    from pinbot.git.clone import Clone
    from pinbot.git.reader import InPlace
    from pinbot.pins.kinds import SiteSpec


def run(ctx: Context, options: ScanOptions) -> int:
    """With --openhands and --openhands-branch, that branch's rollbacks hold images back."""
    opts = options.image_options
    engine = Engine(ctx, opts)
    source, branch = options.openhands, options.openhands_branch
    found, pinned = read_branch(ctx, opts, source, branch) if source and branch else ([], None)
    current, declared = options.current, None
    if current is None and pinned is not None:
        current = pinned  # the pin the branch carries, read as the deploy reads it
        declared = declared_version(ctx, opts, pinned)
    engine.veto = hold_back(found, str(opts.image), ctx.settings.ignore)
    result = engine.scan(current, options.all, declared)
    data = {**scan_json(result), "holds": [h.to_json() for h in found]}
    ctx.out.result(data, scan_text(result, found))
    selected = result.selected
    ctx.out.github(
        outputs={
            "verdict": selected.verdict if selected else "fail",
            "image": str(result.image),
            "tag": selected.tag if selected else "",
            "digest": selected.digest or "" if selected else "",
            "found": "true" if selected else "false",
            "current": result.current or "",
        }
    )
    blocking = [c for c in result.candidates if c.verdict == "error"]
    if selected is not None:
        blocking = blocking[: _index(result.candidates, selected)]
    if blocking:
        ctx.out.error(
            f"could not decide {len(blocking)} newer tag(s) "
            f"({blocking[0].tag}: {why(blocking[0])}); "
            "fix that and re-run before trusting this answer"
        )
        return 3
    return 0 if selected else 1


def run_check(ctx: Context, options: CheckOptions) -> int:
    opts = options.image_options
    ref = ImageRef.parse(options.ref, default_name=opts.image)
    if ref.name != opts.image:
        opts = dataclasses.replace(opts, image=ref.name)
    engine = Engine(ctx, opts)
    if ref.digest:
        candidate = engine.check_digest(ref.digest)
        candidate = Candidate(
            ref.tag or "",
            None,
            candidate.digest,
            candidate.build_sha,
            candidate.created,
            candidate.verdict,
            candidate.evidence,
        )
    else:
        assert ref.tag is not None
        candidate = engine.examine(ref.tag)
    data = {
        "image": str(opts.image),
        "capability": ctx.settings.capability,
        "ref": _ref(opts, candidate),
        **candidate.to_json(),
    }
    ctx.out.result(data, check_text(_ref(opts, candidate), candidate))
    ctx.out.github(
        outputs={
            "verdict": candidate.verdict,
            "image": str(opts.image),
            "tag": candidate.tag,
            "digest": candidate.digest or "",
        }
    )
    if candidate.verdict == "error":
        ctx.out.error(f"could not decide {_ref(opts, candidate)}: {why(candidate)}")
    return {"pass": 0, "fail": 1}.get(candidate.verdict, 3)


def read_branch(
    ctx: Context, opts: ImageOptions, source: str, branch: str
) -> tuple[list[Hold], str | None]:
    """The rollback holds on `branch` of the OpenHands repository `source` and the tag it pins
    (either era: the constant, else the locked or pinned openhands-agent-server), read in place
    (a path) or from a temporary blobless mirror (a URL)."""
    from pinbot import commits
    from pinbot.pins import profiles
    from pinbot.pins.state import read_state

    validate_branch(branch, "--openhands-branch")
    with tempfile.TemporaryDirectory(prefix="pinbot-holds-") as scratch:
        repo = _open(source, Path(scratch) / "openhands")
        tip = repo.resolve(branch)
        if tip is None:
            raise UsageError(
                f"--openhands-branch {branch!r} is not a branch of {repo.where}: check the name"
            )
        specs = profiles.sites(ctx.settings.pin, ctx.settings.source)
        read = lambda path: repo.read(tip, path)  # noqa: E731
        specs = profiles.with_tree_locks(specs, repo.lock_files(tip), read)
        where = f" at {commits.short(tip)} of {branch} in {repo.where}"
        image, variant = str(opts.image), opts.variant
        ctx.out.detail(f"reading the pin files' history on {branch} in {repo.where}")
        found = holds_on(repo, tip, branch, specs, image, variant)
        pins = read_state(specs, lambda path: repo.read(tip, path), image, variant, where)
        ctx.out.progress(
            f"{branch} pins {pins.tag} ({pins.deployed.label} at {pins.deployed.where})"
        )
        return found, pins.tag


def holds_on(
    repo: InPlace | Clone,
    tip: str,
    branch: str,
    specs: Sequence[SiteSpec],
    image: str,
    variant: str,
) -> list[Hold]:
    """The rollback holds in force at `tip` of `branch`, from the pin files' own history
    (pinbot/holds.py): every first-parent commit that changed one, however long the branch."""
    files = list(dict.fromkeys(spec.file for spec in specs))
    history = repo.pin_history(tip, files)
    blobs = repo.blobs()
    try:
        blobs.prefetch(holds.plain_blobs(history, specs))
        pinned = list(holds.pins_along(history, specs, blobs.read, image, variant))
    finally:
        blobs.close()
    return holds.find(pinned, branch, variant)


def declared_version(ctx: Context, opts: ImageOptions, tag: str) -> str | None:
    """The version a build tag's SDK declares at its commit (`4e2ecd8-python` is 1.1.0);
    None for a release, or when the SDK does not say."""
    from pinbot.capability import open_sdk
    from pinbot.pins import sdk

    info = versions.classify(tag, opts.variant)
    if info.kind != "sha" or info.sha is None:
        return None
    tree = open_sdk(opts.sdk, ctx.settings, ctx.cache_dir)
    version = sdk.declared(tree.read, [info.sha]).get(info.sha)
    if version is not None:
        ctx.out.progress(f"{tag} is a build of {info.sha}, whose SDK declares {version}")
    return version


def _open(source: str, scratch: Path) -> InPlace:
    from pinbot.git.reader import InPlace
    from pinbot.git.sources import is_url

    if source.startswith("file://") or Path(source).expanduser().exists():
        return InPlace.open(source, "--openhands")
    url = f"https://{source}" if source.startswith("github.com/") else source
    if not is_url(url):
        raise UsageError(f"--openhands {source!r}: no such directory, and not a git URL")
    return InPlace.mirror(url, "--openhands", scratch)


def hold_back(
    found: list[Hold], image: str, ignored: Sequence[str] = ()
) -> Callable[[Candidate], Candidate] | None:
    """The engine's veto: a candidate whose tag or digest is held becomes `held`, one whose tag
    matches a config `ignore` pattern `ignored`."""
    if not found and not ignored:
        return None

    def veto(candidate: Candidate) -> Candidate:
        if hold := holds.held(found, image, candidate.tag, candidate.digest):
            return holds.mark(candidate, hold)
        pattern = ignore.matching(ignored, candidate.tag)
        return ignore.mark(candidate, pattern) if pattern else candidate

    return veto


def _index(candidates: list[Candidate], selected: Candidate) -> int:
    return next(i for i, c in enumerate(candidates) if c is selected)


def _ref(opts: ImageOptions, candidate: Candidate) -> str:
    text = str(opts.image) + (f":{candidate.tag}" if candidate.tag else "")
    return text + (f"@{candidate.digest}" if candidate.digest else "")
