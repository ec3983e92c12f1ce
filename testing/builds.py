"""Images the demo never publishes, for the tests that need them: a config that names no build
commit, an attestation that is missing or torn. They extend the demo's Build and ImageSpec."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from pinbot.demo.builds import Build
from pinbot.demo.registry import ImageSpec

OTHER_SHA = "c0ffee" * 6 + "c0ff"  # a commit no build was made from
OTHER_DIGEST = "ab" * 32  # a manifest no platform has


@dataclass
class FaultySpec(ImageSpec):
    """`fault`: "missing" (no attestation), "unreadable" (a torn statement), or one of
    HOSTILE's: statements that lie about their subject or name two commits, or nest deep."""

    fault: str | None = None

    def statement(self, subject: str, platform: str) -> bytes | None:
        whole = super().statement(subject, platform)
        if self.fault == "missing" or whole is None:
            return None
        if self.fault == "unreadable":
            return whole[: len(whole) // 2]  # digest-valid bytes, no JSON
        if self.fault in HOSTILE:
            return HOSTILE[self.fault](json.loads(whole))
        return whole


def _with(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], bytes]:
    def made(statement: dict[str, Any]) -> bytes:
        change(statement)
        return json.dumps(statement).encode()

    return made


def _deep(statement: dict[str, Any]) -> bytes:
    """The statement with 200,000 nested lists inside its predicate (400 KB)."""
    head, _, tail = json.dumps(statement).rpartition("}")
    return (head + ', "deep": ' + "[" * 200_000 + "]" * 200_000 + "}" + tail).encode()


def _second_key(statement: dict[str, Any]) -> None:
    """BuildKit's other metadata key, naming another commit beside the right one."""
    statement["predicate"]["metadata"]["buildkit_metadata"] = {"vcs": {"revision": OTHER_SHA}}


def _also_about(statement: dict[str, Any]) -> None:
    statement["subject"].append({"name": "pkg:docker/other@x", "digest": {"sha256": OTHER_DIGEST}})


HOSTILE: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "no-subject": _with(lambda s: s.pop("subject")),
    "empty-subject": _with(lambda s: s.update(subject=[])),
    "subject-without-digest": _with(lambda s: s.update(subject=[{"name": "x"}])),
    "another-subject": _with(lambda s: s["subject"][0].update(digest={"sha256": OTHER_DIGEST})),
    "two-subjects": _with(_also_about),
    "second-metadata-key": _with(_second_key),
    "deep": _deep,
}


@dataclass(frozen=True)
class FaultyBuild(Build):
    record_sha: bool = True  # False: an image whose config carries no build sha
    fault: str | None = None  # as FaultySpec's

    def spec(self, sha: str, number: int, arch_tags: bool) -> ImageSpec:
        base = super().spec(sha, number, arch_tags)
        given = {field.name: getattr(base, field.name) for field in fields(base)}
        given["build_sha"] = sha if self.record_sha else None
        return FaultySpec(**given, fault=self.fault)
