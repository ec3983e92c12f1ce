"""What the gate found and what it checked, as data (`pinbot.report.gate` words and shows it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pinbot.pins.state import PinState


@dataclass(frozen=True)
class Check:
    """One named fact, as data: `status` is pass, fail, skip (an earlier fact it needs is
    missing) or error (a remote, the registry or GitHub failed while checking); only pass is
    ok. `reason` is a code naming the case, `values` what was compared; the words are
    `pinbot.report.gate`'s (a check returns data and the renderer explains it)."""

    name: str
    status: str
    reason: str
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "pass"


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


def passed(name: str, reason: str, **values: Any) -> Check:
    return Check(name, "pass", reason, values)


def failed(name: str, reason: str, **values: Any) -> Check:
    return Check(name, "fail", reason, values)


def skipped(name: str, reason: str, **values: Any) -> Check:
    return Check(name, "skip", reason, values)
