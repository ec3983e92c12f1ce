"""Does the image at a digest carry the capability? Detectors, and the digest-keyed cache.

A verdict is always bound to a digest. Image content never changes for a digest, so a cached
pass or fail stays true forever; an `error` (a detector could not decide) is never cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from pinbot.config import Settings
from pinbot.model import Evidence, Verdict


@dataclass(frozen=True)
class ImageFacts:
    """What the registry says about the image a tag resolved to (no pull needed)."""

    digest: str
    platforms: tuple[str, ...]
    build_sha: str | None = None
    build_ref: str | None = None
    created: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageFacts:
        return cls(
            digest=data["digest"],
            platforms=tuple(data["platforms"]),
            build_sha=data.get("build_sha"),
            build_ref=data.get("build_ref"),
            created=data.get("created"),
        )


class Detector(Protocol):
    """One way of knowing. `check` returns evidence with result pass, fail or error."""

    name: str

    def check(self, facts: ImageFacts) -> Evidence: ...


def capability_key(settings: Settings) -> str:
    """Changes whenever what 'capable' means changes, so old verdicts stop matching."""
    spec = json.dumps(
        [settings.capability, sorted(settings.routes), settings.sdk_repo, settings.route_file]
    )
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


class VerdictCache:
    """Facts and per-detector evidence on disk, keyed by digest. `None` directory: disabled."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def facts(self, digest: str) -> ImageFacts | None:
        data = self._read(self._path("facts", digest))
        return ImageFacts.from_json(data) if data else None

    def put_facts(self, facts: ImageFacts) -> None:
        self._write(self._path("facts", facts.digest), facts.to_json())

    def evidence(self, digest: str, key: str, detector: str) -> Evidence | None:
        data = self._read(self._path("verdicts", digest, f"{key}-{detector}"))
        return Evidence.from_json(data) if data else None

    def put_evidence(self, digest: str, key: str, evidence: Evidence) -> None:
        if evidence.result in ("pass", "fail"):
            path = self._path("verdicts", digest, f"{key}-{evidence.detector}")
            self._write(path, evidence.to_json())

    def _path(self, kind: str, digest: str, name: str = "") -> Path | None:
        if self.directory is None:
            return None
        hexpart = digest.partition(":")[2] or digest
        return self.directory / kind / (f"{hexpart}-{name}.json" if name else f"{hexpart}.json")

    @staticmethod
    def _read(path: Path | None) -> dict[str, Any] | None:
        if path is None:
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or torn entry: recompute rather than trust it
        return data if isinstance(data, dict) else None

    @staticmethod
    def _write(path: Path | None, data: dict[str, Any]) -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a concurrent reader never sees half an entry.
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, path)
        except OSError:
            pass  # the cache is an optimisation; failing to write it must not fail the scan


def platform_evidence(facts: ImageFacts, required: Sequence[str]) -> Evidence:
    missing = [p for p in required if p not in facts.platforms]
    if missing:
        have = ", ".join(facts.platforms) or "none"
        return Evidence("platforms", "fail", f"missing {', '.join(missing)} (has {have})")
    return Evidence("platforms", "pass", ", ".join(required))


def judge(
    facts: ImageFacts,
    detectors: Sequence[Detector],
    cache: VerdictCache,
    key: str,
    required_platforms: Sequence[str],
) -> Verdict:
    """Platforms first, then each detector in order; the first that does not pass decides."""
    evidence = [platform_evidence(facts, required_platforms)]
    result, decider = evidence[0].result, "platforms"
    for detector in detectors:
        if result != "pass":
            evidence.append(Evidence(detector.name, "skip", f"not run: {decider} said {result}"))
            continue
        found = cache.evidence(facts.digest, key, detector.name)
        if found is None:
            found = detector.check(facts)
            cache.put_evidence(facts.digest, key, found)
        evidence.append(found)
        result, decider = found.result, detector.name
    return Verdict(facts.digest, key, result, tuple(evidence))
