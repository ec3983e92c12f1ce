"""The gate's checks, each a named fact with a status; they run in order, every one of them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from pinbot import commits, git
from pinbot.capability import cached_result, open_sdk
from pinbot.context import Context
from pinbot.edits import Site
from pinbot.engine import Engine
from pinbot.errors import ExternalError, UsageError
from pinbot.gate.facts import Check, Facts, Request, failed, passed, skipped
from pinbot.gate.probe_report import probe_check, report_digest
from pinbot.gate.repos import reader
from pinbot.model import DIGEST_RE
from pinbot.options import ImageOptions
from pinbot.pins import profiles, sdk
from pinbot.pins.state import PinState, read_state
from pinbot.registry.documents import NotFound

PIN_SEARCH = 200  # first-parent ancestors of OPENHANDS_SHA searched for pinbot's pin commit
_HEX40 = re.compile(r"[0-9a-fA-F]{40}\Z")


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
            return failed(
                "openhands_sha",
                f"{key} is {written.value!r} in the top-level env ({where}), but {places}: the "
                f"deploying job may run another commit than the one checked; set {key} only in "
                "the top-level env (pinbot cut writes it there)",
            )
        if not _HEX40.match(written.value):
            return failed(
                "openhands_sha",
                f"{key} {written.value!r} ({where}) is not a 40-hex commit sha: the deploy "
                "cannot check it out; set it with `pinbot cut`",
            )
        sha = written.value.lower()
        if not self.repo.has_commit(sha):
            return failed(
                "openhands_sha",
                f"{key} {sha} ({where}) is not a commit in {self.repo.where}: push it there, "
                "or point the deploy at a commit that exists",
            )
        self.facts.openhands_sha = sha
        return passed("openhands_sha", f"{sha} ({where}) exists in {self.repo.where}")

    def backend_commits(self) -> Check:
        sha, required = self.facts.openhands_sha, self.facts.required
        if sha is None:
            return skipped("backend_commits", "no OpenHands commit to look in")
        if not required:
            return passed(
                "backend_commits",
                "none required (give --require-commit, or config require_commits / require_prs)",
            )
        missing = [r for r in required if not self.repo.contains(sha, r)]
        if missing:
            names = ", ".join(commits.short(r) for r in missing)
            return failed(
                "backend_commits",
                f"{commits.short(sha)} does not contain {names}: the deploy would run without "
                "the backend change; cut the pin on the branch that carries it",
            )
        names = ", ".join(commits.short(r) for r in required)
        return passed("backend_commits", f"{commits.short(sha)} contains {names}")

    def pin_sites_agree(self) -> Check:
        sha = self.facts.openhands_sha
        if sha is None:
            return skipped("pin_sites_agree", "no OpenHands commit to read the pin sites from")
        where = f" at {commits.short(sha)} in {self.repo.where}"
        try:
            specs = profiles.sites(self.settings.pin, self.settings.source)
            read = reader(self.repo, sha)
            specs = profiles.with_tree_locks(specs, self.repo.lock_files(sha), read)
            image, variant = str(self.opts.image), self.opts.variant
            pins = read_state(specs, reader(self.repo, sha), image, variant, where)
        except UsageError as exc:
            return failed("pin_sites_agree", str(exc))  # the deploy would read a broken pin
        pins = self._declared(pins)
        self.facts.pins = pins
        self.facts.same_image = pins.repository == str(self.opts.image)
        problems = pins.disagreements()
        if not self.facts.same_image:
            problems.insert(
                0, f"the image is {pins.repository}, not {self.opts.image} (--image, config image)"
            )
        if problems:
            return failed(
                "pin_sites_agree",
                f"the deploy runs {pins.reference}, but {'; '.join(problems)}: a version split "
                "is a protocol split; make every pin site agree (`pinbot cut` moves them all)",
            )
        return passed("pin_sites_agree", pins.summary())

    def _declared(self, pins: PinState) -> PinState:
        """The pins with the version the SDK declares at each build commit named beside a
        version: `4e2ecd8-python` beside `openhands-sdk==1.1.0` agrees when 4e2ecd8 says 1.1.0."""
        commits = pins.commits()
        if not commits:
            return pins
        tree = open_sdk(self.opts.sdk, self.settings)
        return pins.with_declared(sdk.declared(tree.read, commits))

    def digest_unchanged(self) -> Check:
        name, pins, sha = "digest_unchanged", self.facts.pins, self.facts.openhands_sha
        if pins is None or sha is None or not self.facts.same_image:
            return skipped(name, "no pin of the configured image to resolve")
        now = self._resolve(pins.tag)
        self.facts.digest = now
        cut = self._pin_commit(sha)
        if cut is None:
            return failed(
                name,
                f"no commit with a {commits.DIGEST_TRAILER} trailer at {commits.short(sha)} or its "
                f"first-parent ancestors: cut the pin with `pinbot cut` so the gate knows which "
                "digest was proven",
            )
        recorded_image = cut.trailers.get(commits.IMAGE_TRAILER)
        recorded = cut.trailers.get(commits.DIGEST_TRAILER, "")
        if recorded_image != pins.reference:
            return failed(
                name,
                f"the pin changed after pinbot's cut: {commits.short(cut.sha)} recorded "
                f"{recorded_image}, {pins.reference} is pinned now; cut it with `pinbot cut`",
            )
        if not DIGEST_RE.match(recorded):
            return failed(
                name,
                f"the cut {commits.short(cut.sha)} records no valid {commits.DIGEST_TRAILER} "
                f"({recorded!r}): cut it again with `pinbot cut`",
            )
        self.facts.digest = now or recorded
        return self._compare(pins.tag, cut.sha, recorded, now)

    def _compare(self, tag: str, cut: str, recorded: str, now: str | None) -> Check:
        name, by = "digest_unchanged", f"recorded by {commits.short(cut)}"
        if now is None:
            return failed(name, f"{tag} no longer exists in {self.opts.image} ({by}: {recorded})")
        if now == recorded:
            return passed(name, f"{tag} still resolves to {recorded} ({by})")
        moved = f"{tag} moved from {recorded} ({by}) to {now}"
        if self.request.allow_retag:
            return passed(name, f"{moved}; allowed by --allow-retag, the new digest is checked")
        return failed(
            name,
            f"{moved}: the deploy would pull an image nobody checked; cut again with `pinbot "
            "cut`, or pass --allow-retag",
        )

    def _resolve(self, tag: str) -> str | None:
        try:
            return self.engine.resolve_digest(tag)
        except NotFound:
            return None

    def _pin_commit(self, sha: str) -> commits.CommitInfo | None:
        """The newest pinbot cut on the first-parent line that leads to `sha`."""
        history = self.repo.first_parents(sha, PIN_SEARCH)
        return next((c for c in history if c.by_pinbot), None)

    def capability(self) -> Check:
        name, digest = "capability", self.facts.digest
        if digest is None:
            return skipped(name, "no digest to check (the tag did not resolve)")
        engine, cached = self.engine, self._cached(digest)
        try:
            candidate = engine.check_digest(digest)
        except NotFound:
            return failed(name, f"{digest} is not in {self.opts.image}")
        self.facts.build_sha = candidate.build_sha
        source = "cached verdict" if cached else "checked now"
        decided = candidate.deciding  # the evidence that decided, as data (model.deciding)
        reason = decided.summary if decided else ""
        if candidate.verdict == "pass":
            return passed(name, f"{self.settings.capability} ({source}): {reason}")
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
            return skipped("probe", "no digest to match the report against")
        if self.facts.build_sha is None and not report_digest(report):
            self.facts.build_sha = self.engine.facts_by_digest(digest).build_sha
        return probe_check(
            report,
            digest,
            self.facts.build_sha,
            self.settings.probe.agents,
            self.request.rollback_safe,
        )


def _guarded(name: str, step: Callable[[], Check]) -> Check:
    try:
        return step()
    except ExternalError as exc:
        return Check(name, "error", str(exc))
