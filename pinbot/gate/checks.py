"""The gate's checks, each a named fact with a status; they run in order, every one of them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from pinbot import commits
from pinbot.capability import cached_result, open_sdk
from pinbot.context import Context
from pinbot.edits import Site
from pinbot.engine import Engine
from pinbot.errors import ExternalError, UsageError
from pinbot.gate.facts import Check, Facts, Request, failed, passed, skipped
from pinbot.gate.probe_report import probe_check, report_digest
from pinbot.gate.repos import reader
from pinbot.git.reader import RepoReader
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
        openhands: RepoReader,
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
        name, value = "openhands_sha", written.value
        said = {"key": self.settings.deploy.sha_key, "where": f"{written.file}:{written.line}"}
        # The deploying job sees a job's or a step's own env over the top-level one.
        differ = tuple(
            (p, f"{s.file}:{s.line}", s.value)
            for p, s in overridden
            if s.value.lower() != value.lower()
        )
        if differ:
            return failed(name, "overridden", **said, value=value, overrides=differ)
        if not _HEX40.match(value):
            return failed(name, "not_hex", **said, value=value)
        sha, repo = value.lower(), self.repo.where
        if not self.repo.has_commit(sha):
            return failed(name, "not_a_commit", **said, sha=sha, repo=repo)
        self.facts.openhands_sha = sha
        return passed(name, "exists", **said, sha=sha, repo=repo)

    def backend_commits(self) -> Check:
        name, sha, required = "backend_commits", self.facts.openhands_sha, self.facts.required
        if sha is None:
            return skipped(name, "no_openhands_sha")
        if not required:
            return passed(name, "none_required")
        missing = tuple(r for r in required if not self.repo.contains(sha, r))
        if missing:
            return failed(name, "missing", sha=sha, missing=missing)
        return passed(name, "contained", sha=sha, required=required)

    def pin_sites_agree(self) -> Check:
        name, sha = "pin_sites_agree", self.facts.openhands_sha
        if sha is None:
            return skipped(name, "no_openhands_sha")
        where = f" at {commits.short(sha)} in {self.repo.where}"
        try:
            specs = profiles.sites(self.settings.pin, self.settings.source)
            read = reader(self.repo, sha)
            specs = profiles.with_tree_locks(specs, self.repo.lock_files(sha), read)
            image, variant = str(self.opts.image), self.opts.variant
            pins = read_state(specs, reader(self.repo, sha), image, variant, where)
        except UsageError as exc:
            return failed(name, "unreadable", message=str(exc))  # the deploy reads a broken pin
        pins = self._declared(pins)
        self.facts.pins = pins
        self.facts.same_image = pins.repository == str(self.opts.image)
        split = tuple(pins.disagreements())
        if split or not self.facts.same_image:
            return failed(
                name,
                "disagree",
                reference=pins.reference,
                repository=pins.repository,
                image=str(self.opts.image),
                disagreements=split,
            )
        return passed(name, "agree", summary=pins.summary())

    def _declared(self, pins: PinState) -> PinState:
        """The pins with the version the SDK declares at each build commit named beside a
        version: `4e2ecd8-python` beside `openhands-sdk==1.1.0` agrees when 4e2ecd8 says 1.1.0."""
        commits = pins.commits()
        if not commits:
            return pins
        tree = open_sdk(self.opts.sdk, self.settings, self.ctx.cache_dir)
        return pins.with_declared(sdk.declared(tree.read, commits))

    def digest_unchanged(self) -> Check:
        name, pins, sha = "digest_unchanged", self.facts.pins, self.facts.openhands_sha
        if pins is None or sha is None or not self.facts.same_image:
            return skipped(name, "no_pin")
        now = self._resolve(pins.tag)
        self.facts.digest = now
        cut = self._pin_commit(sha)
        if cut is None:
            return failed(name, "no_cut", sha=sha)
        recorded_image = cut.trailers.get(commits.IMAGE_TRAILER)
        recorded = cut.trailers.get(commits.DIGEST_TRAILER, "")
        if recorded_image != pins.reference:
            return failed(
                name, "pin_changed", cut=cut.sha, recorded=recorded_image, pinned=pins.reference
            )
        if not DIGEST_RE.match(recorded):
            return failed(name, "bad_trailer", cut=cut.sha, recorded=recorded)
        self.facts.digest = now or recorded
        return self._compare(pins.tag, cut.sha, recorded, now)

    def _compare(self, tag: str, cut: str, recorded: str, now: str | None) -> Check:
        name, said = "digest_unchanged", {"tag": tag, "cut": cut, "recorded": recorded}
        if now is None:
            return failed(name, "tag_gone", **said, image=str(self.opts.image))
        if now == recorded:
            return passed(name, "same", **said)
        if self.request.allow_retag:
            return passed(name, "moved_allowed", **said, now=now)
        return failed(name, "moved", **said, now=now)

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
            return skipped(name, "no_digest")
        engine, cached = self.engine, self._cached(digest)
        try:
            candidate = engine.check_digest(digest)
        except NotFound:
            return failed(name, "not_in_image", digest=digest, image=str(self.opts.image))
        self.facts.build_sha = candidate.build_sha
        decided = candidate.deciding  # the evidence that decided, as data (model.deciding)
        said = {
            "digest": digest,
            "capability": self.settings.capability,
            "cached": cached,
            "evidence": decided.summary if decided else "",
        }
        if candidate.verdict == "pass":
            return passed(name, "carries", **said)
        status = "fail" if candidate.verdict == "fail" else "error"
        return Check(name, status, "lacks", said)

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
            return skipped("probe", "no_digest")
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
        return Check(name, "error", "external", {"message": str(exc)})
