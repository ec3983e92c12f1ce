"""Which tags are candidates, and in what order. Pure functions over tag names.

Release tags (`1.43.1-python`) are ordered by version. Floating tags (`1.43-python`,
`latest-python`, `main-python`), per-architecture tags (`…-amd64`) and other variants are never
candidates. Build tags (`<sha>-python`) are kept apart: the scan considers them only when asked,
and orders them by their image's creation time, which is not in the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from packaging.version import InvalidVersion, Version

Kind = Literal["release", "sha", "floating", "arch", "other"]

ARCH_SUFFIXES = ("-amd64", "-arm64")
_RELEASE = re.compile(r"(?P<version>\d+\.\d+\.\d+)-(?P<variant>[a-z]+)\Z")
_FLOATING_VERSION = re.compile(r"\d+(?:\.\d+)?-(?P<variant>[a-z]+)\Z")
_SHA = re.compile(r"(?P<sha>[0-9a-f]{7}|[0-9a-f]{40})-(?P<variant>[a-z]+)\Z")


@dataclass(frozen=True)
class TagInfo:
    tag: str
    kind: Kind
    version: Version | None = None
    sha: str | None = None


def classify(tag: str, variant: str) -> TagInfo:
    """What `tag` is for `variant`: a release, a build sha, or something never pinned."""
    if tag.endswith(ARCH_SUFFIXES):
        return TagInfo(tag, "arch")
    if not tag.endswith(f"-{variant}"):
        return TagInfo(tag, "other")
    if match := _RELEASE.match(tag):
        try:
            return TagInfo(tag, "release", version=Version(match["version"]))
        except InvalidVersion:
            return TagInfo(tag, "other")
    if match := _SHA.match(tag):
        return TagInfo(tag, "sha", sha=match["sha"])
    if _FLOATING_VERSION.match(tag) or tag.startswith(("latest-", "main-")):
        return TagInfo(tag, "floating")
    return TagInfo(tag, "floating")  # a branch build: it moves, so it is never pinned


def releases(tags: Iterable[str], variant: str) -> list[TagInfo]:
    """Release tags (`X.Y.Z-variant`) of `variant`, newest version first."""
    # Only what looks like a release is classified: ghcr lists thousands of branch builds.
    candidates = (classify(tag, variant) for tag in tags if _RELEASE.match(tag))
    found = [info for info in candidates if info.kind == "release"]
    return sorted(found, key=lambda info: info.version or Version("0"), reverse=True)


def sha_tags(tags: Iterable[str], variant: str) -> list[TagInfo]:
    """Build-sha tags of `variant`, full shas before short ones (both may name one build)."""
    found = [info for info in (classify(t, variant) for t in tags) if info.kind == "sha"]
    return sorted(found, key=lambda info: (-len(info.sha or ""), info.tag))


def newer_than(info: TagInfo, current: TagInfo | None) -> bool:
    """True unless `info` is a release older than the `current` release pin."""
    if current is None or current.version is None or info.version is None:
        return True
    return info.version > current.version


def as_declared(info: TagInfo, declared: str | None) -> TagInfo:
    """A build tag ordered as the version its SDK declares at its commit (`4e2ecd8-python`
    is 1.1.0), so releases no newer than that are not taken for upgrades from it."""
    if info.kind != "sha" or declared is None:
        return info
    try:
        return replace(info, version=Version(declared))
    except InvalidVersion:
        return info
