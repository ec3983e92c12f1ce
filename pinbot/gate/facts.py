"""What the gate found and what it checked: data, and its JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pinbot.pins.state import PinState


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
    rollback_safe: bool = False  # a probe's lost rollback legs block instead of warning


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


def result_json(facts: Facts, checks: list[Check]) -> dict[str, Any]:
    return {
        "verdict": "pass" if all(c.ok for c in checks) else "block",
        "openhands_sha": facts.openhands_sha,
        "image": facts.image,
        "tag": facts.tag,
        "digest": facts.digest,
        "checks": [c.to_json() for c in checks],
    }


def passed(name: str, detail: str) -> Check:
    return Check(name, "pass", detail)


def failed(name: str, detail: str) -> Check:
    return Check(name, "fail", detail)


def skipped(name: str, detail: str) -> Check:
    return Check(name, "skip", f"not checked: {detail}")
