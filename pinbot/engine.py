"""The shared engine of scan, check, cut and gate: tag -> digest -> facts -> verdict.

It costs round trips, so it does the least the answer needs (docs/benchmarks.md): one tag-list walk;
for an unknown tag one manifest GET (index and platform manifest) and one config blob; for a tag
the cache has seen, one HEAD to confirm the digest and nothing else. Independent candidates are
examined concurrently, in a bounded window, and the window stops at the first that qualifies.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pinbot import capability, cleanup, config, versions
from pinbot.capability import ImageFacts, VerdictCache
from pinbot.context import Context
from pinbot.errors import ExternalError, UsageError
from pinbot.model import DIGEST_RE, Candidate, Evidence, ImageName, validate_tag
from pinbot.options import ImageOptions
from pinbot.registry import NotFound, Source, open_source

# The most manifest HEADs a warm scan has in flight at once. A HEAD costs the registry next to
# nothing, and 132 releases newer than a pin (the benchmark's world) go in one round.
WARM_WIDTH = 256


@dataclass
class ScanResult:
    image: ImageName
    capability: str
    current: str | None
    candidates: list[Candidate] = field(default_factory=list)
    selected: Candidate | None = None

    @property
    def errors(self) -> list[Candidate]:
        return [c for c in self.candidates if c.verdict == "error"]


class Cancelled(Exception):
    """A speculative examination whose answer is no longer needed."""


class Engine:
    def __init__(self, ctx: Context, opts: ImageOptions, source: Source | None = None) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.opts = opts
        # One pooled connection per examining thread (see _in_order), or extra connections are
        # opened and thrown away.
        self.source = source or open_source(
            opts.image,
            opts.registry_url,
            self.settings.http_timeout,
            WARM_WIDTH + self.settings.concurrency,
            mask=ctx.out.mask,
        )
        directory = config.cache_dir() / "v1" if ctx.use_cache else None
        self.cache = VerdictCache(directory)
        self.hints = TagHints(directory, str(opts.image))
        self.key = capability.capability_key(self.settings)
        self._detectors: list[capability.Detector] | None = None
        self._detector_lock = threading.Lock()
        self._stop = threading.Event()
        # Rewrites each judged candidate: `held` for an image a human rolled back (holds.py).
        self.veto: Callable[[Candidate], Candidate] | None = None

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(self.settings.platforms)

    def detectors(self) -> list[capability.Detector]:
        with self._detector_lock:
            if self._detectors is None:
                pull = self.opts.registry_url or str(self.opts.image)
                pull_image = _pull_name(pull, self.opts.image)
                self._detectors = capability.make_detectors(
                    self.settings,
                    list(self.opts.detectors),
                    self.opts.sdk,
                    pull_image,
                    source=self.source,
                )
            return self._detectors

    def facts(self, tag: str) -> ImageFacts:
        """Facts for the image `tag` names now: one HEAD when the cache knows the digest."""
        known = self.hints.get(tag)
        if known and (cached := self.cache.facts(known)):
            self._check_stop()
            digest = self.source.resolve(tag)
            if digest == known:
                return cached
            if moved := self.cache.facts(digest):
                self.hints.put(tag, digest)
                return moved
        self._check_stop()
        found = self.source.facts(tag, self.platforms, checkpoint=self._check_stop)
        self.cache.put_facts(found)
        self.hints.put(tag, found.digest)
        return found

    def facts_by_digest(self, digest: str) -> ImageFacts:
        cached = self.cache.facts(digest)
        if cached:
            return cached
        found = self.source.facts(digest, self.platforms)
        self.cache.put_facts(found)
        return found

    def judge(self, tag: str, version: str | None, found: ImageFacts) -> Candidate:
        self._check_stop()
        verdict = capability.judge(found, self.detectors(), self.cache, self.key, self.platforms)
        candidate = Candidate(
            tag=tag,
            version=version,
            digest=found.digest,
            build_sha=found.build_sha,
            created=found.created,
            verdict=verdict.result,
            evidence=verdict.evidence,
        )
        return self.veto(candidate) if self.veto else candidate

    def examine(self, tag: str, version: str | None = None) -> Candidate:
        """Resolve `tag` and judge its image. A tag the registry lacks raises NotFound (exit 2)."""
        validate_tag(tag)
        return self.judge(tag, version, self.facts(tag))

    def check_digest(self, digest: str) -> Candidate:
        return self.judge("", None, self.facts_by_digest(digest))

    def resolve_digest(self, tag: str) -> str:
        return self.source.resolve(validate_tag(tag))

    def scan(
        self, current: str | None, examine_all: bool, declared: str | None = None
    ) -> ScanResult:
        """Candidates newest first; stop at the first that qualifies unless `examine_all`.
        `declared`: the version a current build tag's SDK declares (releases not newer than
        it are not upgrades)."""
        variant = self.opts.variant
        current_info = (
            versions.as_declared(
                versions.classify(validate_tag(current, "--current"), variant), declared
            )
            if current
            else None
        )
        if current_info is not None and current_info.kind not in ("release", "sha"):
            raise UsageError(f"--current {current!r} is not a {variant} release or build tag")
        self.ctx.out.detail(f"listing tags of {self.opts.image}")
        tags = self._tags_while_preparing()
        ranked = [
            info
            for info in versions.releases(tags, variant)
            if versions.newer_than(info, current_info) or info.tag == current
        ]
        result = ScanResult(self.opts.image, self.settings.capability, current)
        order: list[tuple[str, str | None]] = [(info.tag, str(info.version)) for info in ranked]
        limit = self.opts.max_candidates or self.settings.max_candidates
        if self.opts.include_sha_tags:
            builds = versions.sha_tags(tags, variant)
            if len(order) + len(builds) > limit:  # build tags are ranked by examining each
                raise self._too_many(len(order) + len(builds), limit, "--include-sha-tags")
            order += self._ranked_sha_tags(builds, current)
        if examine_all and len(order) > limit:
            raise self._too_many(len(order), limit, "--all")
        self.ctx.out.progress(
            f"{len(tags)} tags listed; examining {len(order)} candidates newest first"
        )
        for candidate in self._in_order(order[:limit], stop_at_pass=not examine_all):
            result.candidates.append(candidate)
            if candidate.verdict == "pass" and result.selected is None:
                result.selected = candidate
            self.ctx.out.status(
                "scan",
                f"examined {len(result.candidates)} of {len(order)} candidates: "
                f"{candidate.tag} {candidate.verdict}",
            )
        self.ctx.out.status("scan", "", done=True)
        self.hints.save()
        if len(order) > limit and result.selected is None:
            raise self._too_many(len(order), limit, None)
        return result

    def _too_many(self, count: int, limit: int, flag: str | None) -> ExternalError:
        """A scan that would examine more than `max_candidates`: the registry's doing (exit 3)."""
        done = (
            f"the newest {limit} were examined and none qualifies"
            if flag is None
            else f"{flag} would examine them all; none was examined"
        )
        return ExternalError(
            f"{self.opts.image}: {self.source.where} lists {count} candidate tags, more than "
            f"max_candidates = {limit}; {done}. Raise "
            f"max_candidates (config, or --max-candidates, at most {config.MAX_CANDIDATES}) "
            "or pass --current to start from the pinned tag"
        )

    def _tags_while_preparing(self) -> list[str]:
        """The tag list, fetched while the detectors start (a clone's git reader, say), so the
        first candidates are judged the moment their config arrives."""
        threading.Thread(target=self._prepare_detectors, daemon=True).start()
        return self.source.tags()

    def _prepare_detectors(self) -> None:
        # A failure here (a bad --sdk) is not lost: the first judge asks again and reports it.
        with contextlib.suppress(Exception):
            self.detectors()

    def _ranked_sha_tags(
        self, infos: Sequence[versions.TagInfo], current: str | None
    ) -> list[tuple[str, str | None]]:
        """Build tags by their image's creation time, newest first, one tag per digest, none
        older than the current pin: a stale build must not win over releases."""
        with ThreadPoolExecutor(self.settings.concurrency) as pool:
            found = list(pool.map(lambda info: (info.tag, self.facts(info.tag)), infos))
        floor = self.facts(current).created if current else None
        seen: set[str] = set()
        ranked: list[tuple[str, str | None]] = []
        for tag, facts in sorted(found, key=lambda item: item[1].created or "", reverse=True):
            if facts.digest in seen or (floor and (facts.created or "") < floor):
                continue
            seen.add(facts.digest)
            ranked.append((tag, None))
        return ranked

    def _in_order(
        self, order: Sequence[tuple[str, str | None]], stop_at_pass: bool
    ) -> Iterator[Candidate]:
        """Examine ahead of the reader, yielding results in rank order.

        Two kinds of work, scheduled apart (docs/benchmarks.md):
        - the warm round: every candidate the cache can predict, down to the first it predicts
          passes, is confirmed at once by one `HEAD` each, all in flight together;
        - the cold look-ahead: a candidate the cache cannot predict costs three requests in a
          row, and whatever is in flight past the answer is spent for nothing, so the
          look-ahead starts small and grows with depth (`lookahead`): an answer one release
          down costs little more than its floor, one sixty down is not walked six at a time.
        In-flight work stops at its next request once an answer is in."""
        expected = [self._expected(tag) for tag, _ in order]
        warm = warm_round(expected, stop_at_pass)
        # Nothing past a predicted pass starts before that pass is confirmed (its tag may move).
        predicted = warm[-1] if warm and stop_at_pass and expected[warm[-1]] == "pass" else None
        self._stop.clear()
        width = min(len(warm), WARM_WIDTH) + self.settings.concurrency
        with ThreadPoolExecutor(width) as pool:
            futures: dict[int, Future[Candidate]] = {
                i: pool.submit(self._examine_quietly, *order[i]) for i in warm
            }
            cold = 0  # candidates below this rank have been submitted or are in the warm round
            for index in range(len(order)):
                horizon = min(len(order), index + lookahead(index, self.settings.concurrency))
                if predicted is not None and index <= predicted:
                    horizon = min(horizon, predicted + 1)
                for rank in range(cold, horizon):
                    if rank not in futures:
                        futures[rank] = pool.submit(self._examine_quietly, *order[rank])
                cold = max(cold, horizon)
                candidate = futures[index].result()
                yield candidate
                if stop_at_pass and candidate.verdict == "pass":
                    self._stop.set()  # in-flight examinations give up before their next request
                    break
            for future in futures.values():
                future.cancel()
        self._stop.clear()

    def _expected(self, tag: str) -> str | None:
        """The verdict the cache predicts for `tag` (if its digest has not moved), or None."""
        digest = self.hints.get(tag)
        found = self.cache.facts(digest) if digest else None
        if found is None:
            return None
        return capability.cached_result(
            found, self.opts.detectors, self.cache, self.key, self.platforms
        )

    def _examine_quietly(self, tag: str, version: str | None) -> Candidate:
        try:
            return self.examine(tag, version)
        except Cancelled:
            return Candidate(tag, version, verdict="not-examined")
        except NotFound as exc:
            # Listed a moment ago, gone now: say so for this tag and go on with the others.
            return Candidate(
                tag, version, verdict="error", evidence=(Evidence("registry", "error", str(exc)),)
            )

    def _check_stop(self) -> None:
        if self._stop.is_set() or cleanup.STOP.is_set():
            raise Cancelled


def warm_round(expected: Sequence[str | None], stop_at_pass: bool) -> list[int]:
    """Ranks to confirm in one round: those the cache predicts, down to the first it predicts
    passes (past that, a scan that stops at a pass has its answer unless that tag moved)."""
    ranks: list[int] = []
    for rank, verdict in enumerate(expected):
        if verdict is None:
            continue
        ranks.append(rank)
        if stop_at_pass and verdict == "pass":
            break
    return ranks


def lookahead(depth: int, cap: int) -> int:
    """How many unpredicted candidates to have in flight once `depth` are answered.

    Two to start, then one more for every two answered, up to `cap` (`concurrency`). What is
    in flight past an answer is spent for nothing, about two requests a candidate, while the
    floor grows by three per depth: a look-ahead that grows with depth keeps requests near the
    floor at every depth (about 1.17x averaged over depths 1-60, measured by
    benchmarks/scan_vs_skopeo.py) and lets a deep answer be reached in fewer round trips.
    Starting at three, or a cap of eight, measured above 1.2x."""
    return max(1, min(cap, 2 + depth // 2))


def _pull_name(endpoint: str, image: ImageName) -> str:
    """The repository docker pulls from: the --registry-url host with the image's repository."""
    if image.layout is not None:
        return str(image)
    host = endpoint.split("://", 1)[-1].rstrip("/")
    if host == str(image):
        return host
    return f"{host.split('/', 1)[0]}/{image.repository}"


class TagHints:
    """tag -> digest last seen, per image: lets a warm run confirm a tag with one HEAD."""

    def __init__(self, directory: Path | None, image: str) -> None:
        digest = hashlib.sha256(image.encode()).hexdigest()[:16]
        self.path = directory / "tags" / f"{digest}.json" if directory else None
        self._lock = threading.Lock()
        self._hints: dict[str, str] = self._load()
        self._dirty = False

    def _load(self) -> dict[str, str]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str) and DIGEST_RE.match(v)}

    def get(self, tag: str) -> str | None:
        with self._lock:
            return self._hints.get(tag)

    def put(self, tag: str, digest: str) -> None:
        with self._lock:
            if self._hints.get(tag) != digest:
                self._hints[tag] = digest
                self._dirty = True

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self._hints, fh)
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError:
            pass
