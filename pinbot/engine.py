"""The shared engine of scan, check, cut and gate: tag -> digest -> facts -> verdict.

It costs round trips, so it does the least the answer needs (docs/benchmarks.md): one tag-list walk;
for an unknown tag one manifest GET (index and platform manifest) and one config blob; for a tag
the cache has seen, one HEAD to confirm the digest and nothing else. Independent candidates are
examined concurrently, in a bounded window, and the window stops at the first that qualifies.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pinbot import capability, cleanup, config, versions
from pinbot.capability import ImageFacts, VerdictCache
from pinbot.context import Context
from pinbot.errors import ExternalError, UsageError
from pinbot.model import DIGEST_RE, Candidate, Evidence, ImageName, validate_tag
from pinbot.options import ImageOptions
from pinbot.registry.documents import NotFound, Source
from pinbot.registry.sources import open_source

# The most manifest HEADs a warm scan has in flight at once. A HEAD costs the registry next to
# nothing, and every release newer than a pin (60 on ghcr today) goes in one round; the registry
# client's connection pool is sized for it, so that each HEAD has a connection of its own.
HEAD_WIDTH = 256


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
        # One pooled connection per examining thread (see Schedule), or extra connections are
        # opened and thrown away.
        self.source = source or open_source(
            opts.image,
            opts.registry_url,
            self.settings.http_timeout,
            HEAD_WIDTH + self.settings.concurrency,
            mask=ctx.out.mask,
        )
        directory = ctx.cache_dir / "v1" if ctx.use_cache else None
        self.cache = VerdictCache(directory)
        self.hints = TagHints(directory, str(opts.image))
        self.key = capability.capability_key(self.settings)
        self._detectors: list[capability.Detector] | None = None
        self._detector_lock = threading.Lock()
        self._predicted: dict[str, str | None] = {}  # tag -> the cache's verdict, read ahead
        self._stop = threading.Event()
        # Rewrites each judged candidate: `held` for an image a human rolled back (holds.py).
        self.veto: Callable[[Candidate], Candidate] | None = None

    @property
    def cap(self) -> int:
        """The most unpredicted candidates in flight (`concurrency`)."""
        return self.settings.concurrency

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
                    self.ctx.cache_dir,
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
        self._stop.clear()
        try:
            with ThreadPoolExecutor(HEAD_WIDTH + self.cap) as pool:
                try:
                    return self._scan(pool, current_info, examine_all)
                finally:
                    self._stop.set()  # what is still in flight gives up before its next request
                    pool.shutdown(wait=False, cancel_futures=True)
        finally:
            self._stop.clear()

    def _scan(
        self, pool: ThreadPoolExecutor, current: versions.TagInfo | None, examine_all: bool
    ) -> ScanResult:
        self.ctx.out.detail(f"listing tags of {self.opts.image}")
        tags, early = self._tags_while_preparing(pool, current, not examine_all)
        order = self._order(tags, current, examine_all)
        result = ScanResult(
            self.opts.image, self.settings.capability, current.tag if current else None
        )
        limit = self.limit
        self.ctx.out.progress(
            f"{len(tags)} tags listed; examining {len(order)} candidates newest first"
        )
        for candidate in self._in_order(pool, early, order[:limit], not examine_all):
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

    @property
    def limit(self) -> int:
        """The most candidates a scan examines (`max_candidates`)."""
        return self.opts.max_candidates or self.settings.max_candidates

    def _order(
        self, tags: list[str], current: versions.TagInfo | None, examine_all: bool
    ) -> list[tuple[str, str | None]]:
        """The candidates, newest first: releases not older than the current pin, then (with
        --include-sha-tags) build tags by creation time."""
        order: list[tuple[str, str | None]] = [
            (info.tag, str(info.version)) for info in _newer(tags, self.opts.variant, current)
        ]
        limit = self.limit
        if self.opts.include_sha_tags:
            builds = versions.sha_tags(tags, self.opts.variant)
            if len(order) + len(builds) > limit:  # build tags are ranked by examining each
                raise self._too_many(len(order) + len(builds), limit, "--include-sha-tags")
            order += self._ranked_sha_tags(builds, current.tag if current else None)
        if examine_all and len(order) > limit:
            raise self._too_many(len(order), limit, "--all")
        return order

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

    def _tags_while_preparing(
        self, pool: ThreadPoolExecutor, current: versions.TagInfo | None, stop_at_pass: bool
    ) -> tuple[list[str], dict[str, Future[Candidate]]]:
        """The tag list, fetched while the detectors start (a clone's git reader, say) and the
        warm round goes out: every tag the cache knows and predicts, confirmed by one `HEAD`
        each (`_early_round`). Returns the tags and the warm round's examinations by tag."""
        threading.Thread(target=self._prepare_detectors, daemon=True).start()
        early = EarlyRound()
        threading.Thread(
            target=self._early_round, args=(pool, current, stop_at_pass, early), daemon=True
        ).start()
        try:
            tags = self.source.tags()
            early.predicted.wait()
        finally:
            started = early.take()  # and whatever was not started, the reader starts
        return tags, started

    def _early_round(
        self,
        pool: ThreadPoolExecutor,
        current: versions.TagInfo | None,
        stop_at_pass: bool,
        early: EarlyRound,
    ) -> None:
        """The warm round, started beside the tag list: a HEAD needs no list, only the tag,
        and the cache knows the tags of the last scan. What the cache predicts for each is
        kept for the schedule. A tag the list no longer names was confirmed for nothing; a tag
        it names anew is examined cold, beside the round."""
        round_ = WarmRound(stop_at_pass)
        self._predicted = {}
        try:
            for info in _newer(self.hints.tags(), self.opts.variant, current):
                # Each HEAD goes out as soon as the cache has predicted its tag, not after all.
                verdict = self._predicted[info.tag] = self._expected(info.tag)
                if not round_.takes(verdict):
                    continue
                start = partial(pool.submit, self._examine_quietly, info.tag, str(info.version))
                if not early.add(info.tag, start):
                    return  # the reader took over: it starts the rest itself
        finally:
            early.predicted.set()
        if not round_.taken:
            # Nothing to confirm, so the candidates are cold: connections for the cold window
            # at its widest, opened beside the list's own, so that its first candidates start
            # on open connections the moment the list is in. (A warm round's HEADs leave
            # their connections open for whatever is cold.)
            self.source.open_ahead(self.cap - 1)

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
        self,
        pool: ThreadPoolExecutor,
        early: dict[str, Future[Candidate]],
        order: Sequence[tuple[str, str | None]],
        stop_at_pass: bool,
    ) -> Iterator[Candidate]:
        """Examine ahead of the reader (as `Schedule` says), yielding results in rank order.
        In-flight work stops at its next request once an answer is in."""
        expected = [
            self._predicted[tag] if tag in self._predicted else self._expected(tag)
            for tag, _ in order
        ]
        schedule = Schedule(expected, stop_at_pass, self.cap)
        futures: dict[int, Future[Candidate]] = {}
        for index in range(len(order)):
            for rank in schedule.start(index):
                tag, version = order[rank]
                ready = early.pop(tag) if tag in early else None
                futures[rank] = ready or pool.submit(self._examine_quietly, tag, version)
            candidate = futures[index].result()
            schedule.read(index)
            yield candidate
            if stop_at_pass and candidate.verdict == "pass":
                self._stop.set()  # in-flight examinations give up before their next request
                return

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


def _newer(
    tags: Sequence[str], variant: str, current: versions.TagInfo | None
) -> list[versions.TagInfo]:
    """Releases of `variant` among `tags`, newest first, none older than the current pin."""
    return [
        info
        for info in versions.releases(tags, variant)
        if versions.newer_than(info, current) or (current is not None and info.tag == current.tag)
    ]


class WarmRound:
    """Which candidates to confirm in one round, as the cache predicts them newest first: those
    it predicts, down to the first it predicts passes (past that, a scan that stops at a pass
    has its answer unless that tag moved)."""

    def __init__(self, stop_at_pass: bool) -> None:
        self.stop_at_pass = stop_at_pass
        self.closed = False
        self.taken = 0

    def takes(self, verdict: str | None) -> bool:
        if self.closed or verdict is None:
            return False
        self.closed = self.stop_at_pass and verdict == "pass"
        self.taken += 1
        return True


class EarlyRound:
    """Examinations started by one thread beside the tag list, until the reader takes them
    over (and starts the rest itself) once the list is in."""

    def __init__(self) -> None:
        self.predicted = threading.Event()  # the cache's predictions are read
        self._futures: dict[str, Future[Candidate]] = {}
        self._lock = threading.Lock()
        self._taken = False

    def add(self, tag: str, start: Callable[[], Future[Candidate]]) -> bool:
        with self._lock:
            if self._taken:
                return False
            self._futures[tag] = start()
            return True

    def take(self) -> dict[str, Future[Candidate]]:
        with self._lock:
            self._taken = True
            return self._futures


class Schedule:
    """Which candidates to start as the reader moves down the ranks (docs/benchmarks.md).

    Two kinds of work, scheduled apart:
    - warm: every candidate the cache predicts costs one `HEAD`, and all of them down to the
      first predicted pass go out at once, in one round;
    - cold: a candidate the cache cannot predict costs three requests in a row, and what is
      in flight past the answer is spent for nothing, so the cold look-ahead opens as wide as
      the answer is likely deep (`opening`) and grows by three for every two answered
      (`lookahead`), up to `cap`.
    Nothing past a predicted pass starts before that pass is confirmed (its tag may have
    moved); if it moved and fails, the next stretch down to the next predicted pass goes."""

    def __init__(self, expected: Sequence[str | None], stop_at_pass: bool, cap: int) -> None:
        self.expected = expected
        self.cap = cap
        self.first = opening(expected, stop_at_pass, cap)
        self.ends = _stretch_ends(expected, stop_at_pass)
        self.cold = [rank for rank, verdict in enumerate(expected) if verdict is None]
        self.answered = 0  # unpredicted candidates read
        self._warm = 0  # predicted candidates below this rank have been started
        self._cold = 0  # this many unpredicted candidates (self.cold) have been started

    def start(self, index: int) -> list[int]:
        """The ranks to start now that `index` is the next to be read: the predicted ones down
        to the stretch's end, and the unpredicted ones the look-ahead allows (counted from
        `index`, predicted ones not counting)."""
        if index >= len(self.expected):
            return []
        end = self.ends[index]
        warm = [r for r in range(max(self._warm, index), end) if self.expected[r] is not None]
        self._warm = max(self._warm, end)
        allowed = bisect.bisect_left(self.cold, index)
        allowed += lookahead(self.answered, self.cap, self.first)
        cold = []
        while self._cold < min(allowed, len(self.cold)) and self.cold[self._cold] < end:
            cold.append(self.cold[self._cold])
            self._cold += 1
        return sorted(warm + cold)

    def read(self, index: int) -> None:
        self.answered += self.expected[index] is None


def _stretch_ends(expected: Sequence[str | None], stop_at_pass: bool) -> list[int]:
    """For each rank, one past the first predicted pass at or below it (stopping at a pass),
    else the end: where the schedule stops until that pass is confirmed."""
    ends = [len(expected)] * len(expected)
    if stop_at_pass:
        end = len(expected)
        for rank in reversed(range(len(expected))):
            if expected[rank] == "pass":
                end = rank + 1
            ends[rank] = end
    return ends


def opening(expected: Sequence[str | None], stop_at_pass: bool, cap: int) -> int:
    """How many unpredicted candidates to start at once, before any is answered.

    With nothing cached, two: the answer may be the newest release, and whatever is in flight
    past it is spent for nothing; but all of them when they fit in one round (no more than
    `cap`, a pin a few releases behind): the ramp would cost two rounds more to save a few
    requests. With a cache, the last scan's answer (the predicted pass, or
    none: every cached candidate fails) says how deep this one likely is, and every unpredicted
    candidate above it (releases newer than that scan) will be needed unless one of them is
    the answer: they all start at once, up to `cap`."""
    if all(verdict is None for verdict in expected):
        return len(expected) if len(expected) <= cap else 2
    above = expected[: _stretch_ends(expected, stop_at_pass)[0]]
    return max(1, min(cap, sum(verdict is None for verdict in above)))


def lookahead(answered: int, cap: int, first: int = 2) -> int:
    """How many unpredicted candidates to have in flight once `answered` are answered.

    `first` (see `opening`), then three more for every two answered, up to `cap`
    (`concurrency`): 2, 3, 5, 6, 7. An answer one or two releases down costs its floor and a
    few requests more; a deeper one is reached at the full width after three rounds. What is
    in flight past an answer is spent for nothing, while the floor grows by three requests a
    depth: averaged over depths 1-60, one more per answer reads about 1.15x the floor but
    reaches depth 7 a round later, two more read about 1.21x (benchmarks/scan_vs_skopeo.py)."""
    return max(1, min(cap, first + answered + answered // 2))


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

    def tags(self) -> list[str]:
        with self._lock:
            return list(self._hints)

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
