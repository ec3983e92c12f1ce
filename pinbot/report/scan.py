"""What `pinbot scan` and `pinbot check` show: the candidates table and why each verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pinbot.model import Evidence, deciding
from pinbot.report import table

if TYPE_CHECKING:
    from pinbot.engine import ScanResult
    from pinbot.holds import Hold
    from pinbot.model import Candidate


def scan_json(result: ScanResult) -> dict[str, Any]:
    selected = result.selected
    return {
        "image": str(result.image),
        "capability": result.capability,
        "selected": None
        if selected is None
        else {"tag": selected.tag, "digest": selected.digest, "ref": _ref_of(result, selected)},
        "current": result.current,
        "candidates": [c.to_json() for c in result.candidates],
    }


def scan_text(result: ScanResult, found: Sequence[Hold] = ()) -> str:
    rows = [
        (c.tag, _short(c.digest), (c.build_sha or "")[:10], c.verdict, why(c))
        for c in result.candidates
    ]
    lines = [f"{result.image}: looking for {result.capability}"]
    if rows:
        lines.append(table(("TAG", "DIGEST", "BUILD SHA", "VERDICT", "WHY"), rows))
    lines += [f"held: {hold.describe()}" for hold in found]
    if result.selected is not None:
        lines.append(f"selected: {_ref_of(result, result.selected)}")
    else:
        newer = f" newer than the pin {result.current}" if result.current else ""
        lines.append(
            f"nothing qualifies: {len(result.candidates)} tag(s){newer} examined, none carries "
            f"{result.capability}; the table says why for each"
        )
    return "\n".join(lines)


def check_text(ref: str, candidate: Candidate) -> str:
    """`pinbot check`: the verdict, then each detector's evidence."""
    lines = [f"{ref}: {candidate.verdict}"]
    lines += [f"  {e.detector:<10} {e.result:<5} {e.detail}" for e in candidate.evidence]
    return "\n".join(lines)


def why(candidate: Candidate) -> str:
    """The evidence that decided, as a line."""
    decided = candidate.deciding
    return decided.summary if decided else ""


def why_json(evidence: list[dict[str, str]]) -> str:
    """`why` for a candidate as --json prints it."""
    decided = deciding([Evidence.from_json(e) for e in evidence])
    return decided.summary if decided else ""


def _ref_of(result: ScanResult, candidate: Candidate) -> str:
    return f"{result.image}:{candidate.tag}@{candidate.digest}"


def _short(digest: str | None) -> str:
    return digest[:19] if digest else ""
