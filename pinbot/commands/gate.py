"""`pinbot gate`: what would this deploy run, and is it the pin pinbot proved?

Read-only. It reads what the deploy pipeline reads — `OPENHANDS_SHA` from the deploy workflow at
REF, then the pin sites at that commit — and checks each fact. Every check runs; one that cannot
(an earlier fact it needs is missing) says so, so a block lists every reason at once, not the
first. Repositories are read in place (a path or file:// URL, git plumbing, no checkout), through
GitHub's API (a GitHub repository and a token), or from a temporary blobless mirror (other URLs).

Exit 0 pass, 1 block, 2 bad input (the --deploy value, the workflow, the probe report),
3 when a check could not be made because a remote, the registry or GitHub failed.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pinbot import cleanup, git, github, output
from pinbot.capability import cached_result
from pinbot.commands import Context
from pinbot.commands.scan import why
from pinbot.edits import Site, sites
from pinbot.engine import Engine, ImageOptions, image_options
from pinbot.errors import ExternalError, UsageError
from pinbot.model import DIGEST_RE, validate_sha
from pinbot.pins import profiles
from pinbot.pins.state import PinState, read_state
from pinbot.registry import NotFound
from pinbot.report import markdown_table, table

PIN_SEARCH = 200  # first-parent ancestors of OPENHANDS_SHA searched for pinbot's pin commit
_HEX40 = re.compile(r"[0-9a-fA-F]{40}\Z")
_REF = re.compile(r"(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]+(?<![/.])\Z")


@dataclass(frozen=True)
class Check:
    """One named fact. `status` is pass, fail, skip (an earlier fact it needs is missing) or
    error (a remote, the registry or GitHub failed while checking); only pass is ok."""

    name: str
    status: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Request:
    deploy: str
    deploy_ref: str | None
    openhands: str
    require_commits: tuple[str, ...]
    require_prs: tuple[int, ...]
    allow_retag: bool
    probe: Path | None


@dataclass
class Facts:
    """What the deploy would run, filled in check by check (None: not known)."""

    deploy: str
    deploy_commit: str | None = None
    openhands_sha: str | None = None
    pins: PinState | None = None
    same_image: bool = False
    digest: str | None = None
    build_sha: str | None = None
    required: tuple[str, ...] = field(default=())

    @property
    def image(self) -> str | None:
        return self.pins.repository if self.pins else None

    @property
    def tag(self) -> str | None:
        return self.pins.tag if self.pins else None


def run(ctx: Context, args: argparse.Namespace) -> int:
    request = _request(ctx, args)
    opts = image_options(ctx.settings, args)
    report = load_probe_report(request.probe) if request.probe else None
    with tempfile.TemporaryDirectory(prefix="pinbot-gate-") as tmp:
        cleanup.track(tmp)  # removed even if pinbot is interrupted or killed
        deploy = open_repo(ctx, request.deploy, "--deploy", Path(tmp) / "deploy")
        openhands = open_repo(ctx, request.openhands, "--openhands", Path(tmp) / "openhands")
        facts = Facts(f"{deploy.where}@{request.deploy_ref or 'HEAD'}")
        facts.deploy_commit, written, overridden = _deployed_sha(ctx, deploy, request.deploy_ref)
        facts.required = _required_commits(ctx, request, openhands)
        gate = Gate(ctx, opts, request, openhands, facts)
        checks = gate.evaluate(written, report, overridden)
    return _report(ctx, facts, checks)


def _request(ctx: Context, args: argparse.Namespace) -> Request:
    repo, ref = split_deploy(args.deploy)
    given = args.require_commit
    shas = given if given is not None else ctx.settings.require_commits
    return Request(
        deploy=git.check_source(repo, "--deploy"),
        deploy_ref=ref,
        openhands=git.check_source(args.openhands, "--openhands"),
        require_commits=tuple(validate_sha(s.lower(), "--require-commit") for s in shas),
        require_prs=tuple(ctx.settings.require_prs) if given is None else (),
        allow_retag=args.allow_retag,
        probe=Path(args.require_probe) if args.require_probe else None,
    )


def split_deploy(text: str) -> tuple[str, str | None]:
    """`REPO[@REF]`. The `@` of `git@host:path` or `https://user@host/...` is the URL's own."""
    repo, sep, ref = text.rpartition("@")
    if not sep or ":" in ref or _is_userinfo(repo) or Path(text).exists():
        return text, None
    if not repo or not _REF.match(ref) or ref.endswith(".lock"):
        raise UsageError(
            f"--deploy {text!r}: write REPO or REPO@REF, where REF is a branch, tag or commit "
            "sha (e.g. ../deploy@main)"
        )
    return repo, ref


def _is_userinfo(text: str) -> bool:
    _, sep, rest = text.partition("://")
    return bool(sep) and "/" not in rest


# --- where the repositories are read -----------------------------------------------------------


def open_repo(ctx: Context, source: str, flag: str, scratch: Path) -> git.RepoReader:
    """In place for a path or file:// URL; GitHub's API for a GitHub repository when a token
    is set; otherwise a temporary blobless mirror of the URL (in `scratch`, removed after)."""
    if not source:
        raise UsageError(f"{flag} is empty: give a path or a git URL")
    if source.startswith("file://") or Path(source).expanduser().exists():
        return git.InPlace.open(source, flag)
    url = f"https://{source}" if source.startswith("github.com/") else source
    hub = github.github_repo(url)
    token = github.token()
    if hub is not None and token is not None:
        ctx.out.detail(f"reading {hub.full_name} through the GitHub API")
        return github.GitHubReader(
            github.Forge(token, github.api_url(), ctx.settings.http_timeout), hub
        )
    if not git.is_url(url):
        raise UsageError(f"{flag} {source!r}: no such directory, and not a git URL")
    ctx.out.progress(f"{flag}: no GitHub token for {url}; reading a temporary blobless mirror")
    return git.InPlace.mirror(url, flag, scratch)


def _deployed_sha(
    ctx: Context, repo: git.RepoReader, ref: str | None
) -> tuple[str, Site, list[tuple[str, Site]]]:
    commit = repo.resolve(ref)
    if commit is None:
        raise UsageError(
            f"--deploy: {ref or 'HEAD'} is not a commit in {repo.where}: check the branch, tag "
            "or sha after the @"
        )
    where = f" at {git.short(commit)} in {repo.where}"
    site = sites.read_deployed_sha(ctx.settings.deploy, _reader(repo, commit), where)
    overridden = sites.read_deployed_overrides(ctx.settings.deploy, _reader(repo, commit), where)
    return commit, site, overridden


def _required_commits(ctx: Context, request: Request, repo: git.RepoReader) -> tuple[str, ...]:
    hub = None
    if request.require_prs:
        hub = repo.repo if isinstance(repo, github.GitHubReader) else github.github_repo(repo.where)
    return github.required_commits(
        request.require_commits, request.require_prs, hub, ctx.settings.http_timeout
    )


def _reader(repo: git.RepoReader, commit: str) -> sites.Reader:
    return lambda path: repo.read(commit, path)


# --- the checks --------------------------------------------------------------------------------


class Gate:
    def __init__(
        self,
        ctx: Context,
        opts: ImageOptions,
        request: Request,
        openhands: git.RepoReader,
        facts: Facts,
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.opts = opts
        self.request = request
        self.repo = openhands
        self.facts = facts
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(self.ctx, self.opts)
        return self._engine

    def evaluate(
        self,
        written: Site,
        report: dict[str, Any] | None,
        overridden: Sequence[tuple[str, Site]] = (),
    ) -> list[Check]:
        steps: list[tuple[str, Callable[[], Check]]] = [
            ("openhands_sha", lambda: self.openhands_sha(written, overridden)),
            ("backend_commits", self.backend_commits),
            ("pin_sites_agree", self.pin_sites_agree),
            ("digest_unchanged", self.digest_unchanged),
            ("capability", self.capability),
        ]
        if report is not None:
            steps.append(("probe", lambda: self.probe(report)))
        return [_guarded(name, step) for name, step in steps]

    def openhands_sha(self, written: Site, overridden: Sequence[tuple[str, Site]] = ()) -> Check:
        key, where = self.settings.deploy.sha_key, f"{written.file}:{written.line}"
        # The deploying job sees a job's or a step's own env over the top-level one.
        differ = [(p, s) for p, s in overridden if s.value.lower() != written.value.lower()]
        if differ:
            places = "; ".join(f"{p} ({s.file}:{s.line}) = {s.value!r}" for p, s in differ)
            return _fail(
                "openhands_sha",
                f"{key} is {written.value!r} in the top-level env ({where}), but {places}: the "
                f"deploying job may run another commit than the one checked; set {key} only in "
                "the top-level env (pinbot cut writes it there)",
            )
        if not _HEX40.match(written.value):
            return _fail(
                "openhands_sha",
                f"{key} {written.value!r} ({where}) is not a 40-hex commit sha: the deploy "
                "cannot check it out; set it with `pinbot cut`",
            )
        sha = written.value.lower()
        if not self.repo.has_commit(sha):
            return _fail(
                "openhands_sha",
                f"{key} {sha} ({where}) is not a commit in {self.repo.where}: push it there, "
                "or point the deploy at a commit that exists",
            )
        self.facts.openhands_sha = sha
        return _pass("openhands_sha", f"{sha} ({where}) exists in {self.repo.where}")

    def backend_commits(self) -> Check:
        sha, required = self.facts.openhands_sha, self.facts.required
        if sha is None:
            return _skip("backend_commits", "no OpenHands commit to look in")
        if not required:
            return _pass(
                "backend_commits",
                "none required (give --require-commit, or config require_commits / require_prs)",
            )
        missing = [r for r in required if not self.repo.contains(sha, r)]
        if missing:
            names = ", ".join(git.short(r) for r in missing)
            return _fail(
                "backend_commits",
                f"{git.short(sha)} does not contain {names}: the deploy would run without "
                "the backend change; cut the pin on the branch that carries it",
            )
        names = ", ".join(git.short(r) for r in required)
        return _pass("backend_commits", f"{git.short(sha)} contains {names}")

    def pin_sites_agree(self) -> Check:
        sha = self.facts.openhands_sha
        if sha is None:
            return _skip("pin_sites_agree", "no OpenHands commit to read the pin sites from")
        where = f" at {git.short(sha)} in {self.repo.where}"
        try:
            specs = profiles.sites(self.settings.pin, self.settings.source)
            image, variant = str(self.opts.image), self.opts.variant
            pins = read_state(specs, _reader(self.repo, sha), image, variant, where)
        except UsageError as exc:
            return _fail("pin_sites_agree", str(exc))  # the deploy would read a broken pin
        self.facts.pins = pins
        self.facts.same_image = pins.repository == str(self.opts.image)
        problems = pins.disagreements()
        if not self.facts.same_image:
            problems.insert(
                0, f"the image is {pins.repository}, not {self.opts.image} (--image, config image)"
            )
        if problems:
            return _fail(
                "pin_sites_agree",
                f"the deploy runs {pins.reference}, but {'; '.join(problems)}: a version split "
                "is a protocol split; make every pin site agree (`pinbot cut` moves them all)",
            )
        return _pass("pin_sites_agree", pins.summary())

    def digest_unchanged(self) -> Check:
        name, pins, sha = "digest_unchanged", self.facts.pins, self.facts.openhands_sha
        if pins is None or sha is None or not self.facts.same_image:
            return _skip(name, "no pin of the configured image to resolve")
        now = self._resolve(pins.tag)
        self.facts.digest = now
        cut = self._pin_commit(sha)
        if cut is None:
            return _fail(
                name,
                f"no commit with a {git.DIGEST_TRAILER} trailer at {git.short(sha)} or its "
                f"first-parent ancestors: cut the pin with `pinbot cut` so the gate knows which "
                "digest was proven",
            )
        recorded_image = cut.trailers.get(git.IMAGE_TRAILER)
        recorded = cut.trailers.get(git.DIGEST_TRAILER, "")
        if recorded_image != pins.reference:
            return _fail(
                name,
                f"the pin changed after pinbot's cut: {git.short(cut.sha)} recorded "
                f"{recorded_image}, {pins.reference} is pinned now; cut it with `pinbot cut`",
            )
        if not DIGEST_RE.match(recorded):
            return _fail(
                name,
                f"the cut {git.short(cut.sha)} records no valid {git.DIGEST_TRAILER} "
                f"({recorded!r}): cut it again with `pinbot cut`",
            )
        self.facts.digest = now or recorded
        return self._compare(pins.tag, cut.sha, recorded, now)

    def _compare(self, tag: str, cut: str, recorded: str, now: str | None) -> Check:
        name, by = "digest_unchanged", f"recorded by {git.short(cut)}"
        if now is None:
            return _fail(name, f"{tag} no longer exists in {self.opts.image} ({by}: {recorded})")
        if now == recorded:
            return _pass(name, f"{tag} still resolves to {recorded} ({by})")
        moved = f"{tag} moved from {recorded} ({by}) to {now}"
        if self.request.allow_retag:
            return _pass(name, f"{moved}; allowed by --allow-retag, the new digest is checked")
        return _fail(
            name,
            f"{moved}: the deploy would pull an image nobody checked; cut again with `pinbot "
            "cut`, or pass --allow-retag",
        )

    def _resolve(self, tag: str) -> str | None:
        try:
            return self.engine.resolve_digest(tag)
        except NotFound:
            return None

    def _pin_commit(self, sha: str) -> git.CommitInfo | None:
        """The newest pinbot cut on the first-parent line that leads to `sha`."""
        history = self.repo.first_parents(sha, PIN_SEARCH)
        return next((c for c in history if c.by_pinbot), None)

    def capability(self) -> Check:
        name, digest = "capability", self.facts.digest
        if digest is None:
            return _skip(name, "no digest to check (the tag did not resolve)")
        engine, cached = self.engine, self._cached(digest)
        try:
            candidate = engine.check_digest(digest)
        except NotFound:
            return _fail(name, f"{digest} is not in {self.opts.image}")
        self.facts.build_sha = candidate.build_sha
        source = "cached verdict" if cached else "checked now"
        reason = why(candidate)
        if candidate.verdict == "pass":
            return _pass(name, f"{self.settings.capability} ({source}): {reason}")
        status = "fail" if candidate.verdict == "fail" else "error"
        return Check(
            name, status, f"{digest[:19]} lacks {self.settings.capability} ({source}): {reason}"
        )

    def _cached(self, digest: str) -> bool:
        engine = self.engine
        found = engine.cache.facts(digest)
        return found is not None and (
            cached_result(found, engine.opts.detectors, engine.cache, engine.key, engine.platforms)
            is not None
        )

    def probe(self, report: dict[str, Any]) -> Check:
        digest = self.facts.digest
        if digest is None:
            return _skip("probe", "no digest to match the report against")
        if self.facts.build_sha is None and not _report_digest(report):
            self.facts.build_sha = self.engine.facts_by_digest(digest).build_sha
        return probe_check(report, digest, self.facts.build_sha, self.settings.probe.agents)


def _guarded(name: str, step: Callable[[], Check]) -> Check:
    try:
        return step()
    except ExternalError as exc:
        return Check(name, "error", str(exc))


def _pass(name: str, detail: str) -> Check:
    return Check(name, "pass", detail)


def _fail(name: str, detail: str) -> Check:
    return Check(name, "fail", detail)


def _skip(name: str, detail: str) -> Check:
    return Check(name, "skip", f"not checked: {detail}")


# --- the probe report (pure) -------------------------------------------------------------------


def load_probe_report(path: Path) -> dict[str, Any]:
    """A `pinbot probe --json` report; anything else is bad input (exit 2)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--require-probe {path}: cannot read it ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"--require-probe {path}: not JSON ({exc})") from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("verdict"), str)
        and isinstance(data.get("agents"), list)
    ):
        raise UsageError(
            f"--require-probe {path}: not a `pinbot probe --json` report (no verdict and "
            "agents); write one with `pinbot probe --image REF --report FILE`"
        )
    return data


def _report_digest(report: dict[str, Any]) -> str | None:
    image = report.get("image")
    digest = image.get("digest") if isinstance(image, dict) else None
    return digest if isinstance(digest, str) and digest else None


def probe_check(
    report: dict[str, Any], digest: str, build_sha: str | None, agents: Sequence[str]
) -> Check:
    """Is the report about this image, and did every required agent resume natively?"""
    matched = _match(report, digest, build_sha)
    if isinstance(matched, Check):
        return matched
    verdicts = {
        str(a.get("agent")): str(a.get("verdict")) for a in report["agents"] if isinstance(a, dict)
    }
    bad = [f"{a} {verdicts.get(a, 'not probed')}" for a in agents if verdicts.get(a) != "native"]
    if bad:
        return _fail(
            "probe",
            f"{'; '.join(bad)} ({matched}): the backend would fall back to a bootstrap "
            "prompt; do not deploy this image",
        )
    return _pass("probe", f"native for {', '.join(agents)} ({matched})")


def _match(report: dict[str, Any], digest: str, build_sha: str | None) -> str | Check:
    """How the report is tied to the image ('matched by ...'), or the failing check."""
    reported = _report_digest(report)
    if reported is not None:
        if reported != digest:
            return _fail("probe", f"the report is for {reported}, not {digest}: probe this image")
        return f"matched by digest {digest[:19]}"
    sha = report.get("build_git_sha")
    if not isinstance(sha, str) or not sha:
        return _fail(
            "probe",
            "the report names neither an image digest nor a build sha, so nothing ties it to "
            f"{digest[:19]}: probe with `pinbot probe --image REF@DIGEST --report FILE`",
        )
    if sha != build_sha:
        built = build_sha or "an unknown commit (its config records none)"
        return _fail("probe", f"the report is for build {sha}, the image was built from {built}")
    return f"matched by build sha {sha[:12]}; the report names no digest"


# --- output ------------------------------------------------------------------------------------


def _report(ctx: Context, facts: Facts, checks: list[Check]) -> int:
    data = result_json(facts, checks)
    ctx.out.result(data, render_text(data, facts.deploy))
    errors = [f"gate: {c.name}: {c.detail}" for c in checks if c.status in ("fail", "error")]
    outputs = {key: data[key] or "" for key in ("verdict", "openhands_sha", "image", "tag")}
    outputs["digest"] = data["digest"] or ""
    ctx.out.github(outputs=outputs, summary=render_markdown(data, facts.deploy), errors=errors)
    statuses = {c.status for c in checks}
    if data["verdict"] == "pass":
        return 0
    return 1 if "fail" in statuses else 3


def result_json(facts: Facts, checks: list[Check]) -> dict[str, Any]:
    return {
        "verdict": "pass" if all(c.ok for c in checks) else "block",
        "openhands_sha": facts.openhands_sha,
        "image": facts.image,
        "tag": facts.tag,
        "digest": facts.digest,
        "checks": [c.to_json() for c in checks],
    }


def _subject(data: dict[str, Any]) -> str:
    sha = data["openhands_sha"] or "?"
    image = f"{data['image']}:{data['tag']}" if data["image"] else "an unknown image"
    return f"OpenHands {sha} with {image}@{data['digest'] or '?'}"


def verdict_line(data: dict[str, Any]) -> str:
    if data["verdict"] == "pass":
        return f"GATE PASS: deploy may run {_subject(data)}"
    failed = [c["name"] for c in data["checks"] if not c["ok"]]
    return f"GATE BLOCK: do not deploy; {len(failed)} check(s) not passed: {', '.join(failed)}"


def render_text(data: dict[str, Any], deploy: str) -> str:
    rows = [(c["name"], c["status"].upper(), c["detail"]) for c in data["checks"]]
    return "\n".join(
        [
            f"deploy {deploy} would run {_subject(data)}",
            "",
            table(("CHECK", "RESULT", "DETAIL"), rows),
            "",
            verdict_line(data),
        ]
    )


def render_markdown(data: dict[str, Any], deploy: str) -> str:
    rows = [
        (c["name"], ("✅ " if c["ok"] else "❌ ") + c["status"], output.markdown(c["detail"]))
        for c in data["checks"]
    ]
    return "\n".join(
        [
            f"### pinbot gate: {data['verdict'].upper()}",
            "",
            f"`{deploy}` would run {_subject(data)}.",
            "",
            markdown_table(("check", "result", "detail"), rows).rstrip("\n"),
            "",
            f"**{verdict_line(data)}**",
        ]
    )
