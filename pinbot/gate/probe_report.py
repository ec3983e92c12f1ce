"""A `pinbot probe --json` report as the gate reads it (pure): loaded, checked against the
digest and build the deploy would run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pinbot.errors import UsageError
from pinbot.gate.facts import Check, failed, passed
from pinbot.probe.legs import rollback_losses, upgrade_verdict


def load_probe_report(path: Path, flag: str = "--require-probe") -> dict[str, Any]:
    """A `pinbot probe --json` report; anything else is bad input (exit 2)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot read it ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{flag} {path}: not JSON ({exc})") from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("verdict"), str)
        and isinstance(data.get("agents"), list)
    ):
        raise UsageError(
            f"{flag} {path}: not a `pinbot probe --json` report (no verdict and "
            "agents); write one with `pinbot probe --image REF --report FILE`"
        )
    return data


def report_digest(report: dict[str, Any]) -> str | None:
    image = report.get("image")
    digest = image.get("digest") if isinstance(image, dict) else None
    return digest if isinstance(digest, str) and digest else None


def probe_check(
    report: dict[str, Any],
    digest: str,
    build_sha: str | None,
    agents: Sequence[str],
    rollback_safe: bool = False,
) -> Check:
    """Is the report about this image, and did every required agent resume natively on it?
    The legs back to the from side (a revert) are a warning, a block with `rollback_safe`."""
    matched = _match(report, digest, build_sha)
    if isinstance(matched, Check):
        return matched
    verdicts = {
        str(a.get("agent")): upgrade_verdict(a) for a in report["agents"] if isinstance(a, dict)
    }
    bad = tuple((a, verdicts.get(a)) for a in agents if verdicts.get(a) != "native")
    if bad:
        return failed("probe", "not_native", agents=bad, **matched)
    losses = tuple(rollback_losses(report))
    if losses and rollback_safe:
        return failed("probe", "rollback_loses", losses=losses)
    return passed("probe", "native", agents=tuple(agents), losses=losses, **matched)


def candidate_match(report: dict[str, Any], digest: str, build_sha: str | None) -> Check | None:
    """The failing check when the report is not about this candidate, or None."""
    matched = _match(report, digest, build_sha)
    return matched if isinstance(matched, Check) else None


def _match(report: dict[str, Any], digest: str, build_sha: str | None) -> dict[str, str] | Check:
    """How the report is tied to the image (`matched_by` digest or build sha, and the value),
    or the failing check."""
    reported = report_digest(report)
    if reported is not None:
        if reported != digest:
            return failed("probe", "other_digest", reported=reported, digest=digest)
        return {"matched_by": "digest", "matched": digest}
    sha = report.get("build_git_sha")
    if not isinstance(sha, str) or not sha:
        return failed("probe", "untied", digest=digest)
    if sha != build_sha:
        return failed("probe", "other_build", reported=sha, build_sha=build_sha)
    return {"matched_by": "build_sha", "matched": sha}
