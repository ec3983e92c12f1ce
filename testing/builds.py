"""Images the demo never publishes, for the tests that need them: a config that names no build
commit, an attestation that is missing or torn. They extend the demo's Build and ImageSpec."""

from __future__ import annotations

from dataclasses import dataclass, fields

from pinbot.demo.builds import Build
from pinbot.demo.registry import ImageSpec


@dataclass
class FaultySpec(ImageSpec):
    fault: str | None = None  # "missing": no attestation; "unreadable": a torn statement

    def statement(self, subject: str, platform: str) -> bytes | None:
        whole = super().statement(subject, platform)
        if self.fault == "missing" or whole is None:
            return None
        if self.fault == "unreadable":
            return whole[: len(whole) // 2]  # digest-valid bytes, no JSON
        return whole


@dataclass(frozen=True)
class FaultyBuild(Build):
    record_sha: bool = True  # False: an image whose config carries no build sha
    fault: str | None = None  # as FaultySpec's

    def spec(self, sha: str, number: int, arch_tags: bool) -> ImageSpec:
        base = super().spec(sha, number, arch_tags)
        given = {field.name: getattr(base, field.name) for field in fields(base)}
        given["build_sha"] = sha if self.record_sha else None
        return FaultySpec(**given, fault=self.fault)
