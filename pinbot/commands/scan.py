"""`pinbot scan` and `pinbot check`: which tags carry the capability, newest first, and why."""

from __future__ import annotations

from typing import Any

from pinbot.commands import Context
from pinbot.engine import Engine, ImageOptions, ScanResult
from pinbot.model import Candidate, ImageRef
from pinbot.report import table


def run(ctx: Context, opts: ImageOptions, current: str | None, examine_all: bool) -> int:
    result = Engine(ctx, opts).scan(current, examine_all)
    ctx.out.result(scan_json(result), scan_text(result))
    selected = result.selected
    ctx.out.github(
        outputs={
            "tag": selected.tag if selected else "",
            "digest": selected.digest or "" if selected else "",
            "found": "true" if selected else "false",
        }
    )
    blocking = [c for c in result.candidates if c.verdict == "error"]
    if selected is not None:
        blocking = blocking[: _index(result.candidates, selected)]
    if blocking:
        ctx.out.error(
            f"could not decide {len(blocking)} newer tag(s) "
            f"({blocking[0].tag}: {why(blocking[0])}); "
            "fix that and re-run before trusting this answer"
        )
        return 3
    return 0 if selected else 1


def run_check(ctx: Context, opts: ImageOptions, text: str) -> int:
    ref = ImageRef.parse(text, default_name=opts.image)
    if ref.name != opts.image:
        opts = ImageOptions(
            ref.name,
            opts.registry_url,
            opts.variant,
            opts.sdk,
            opts.detectors,
            opts.include_sha_tags,
        )
    engine = Engine(ctx, opts)
    if ref.digest:
        candidate = engine.check_digest(ref.digest)
        candidate = Candidate(
            ref.tag or "",
            None,
            candidate.digest,
            candidate.build_sha,
            candidate.created,
            candidate.verdict,
            candidate.evidence,
        )
    else:
        assert ref.tag is not None
        candidate = engine.examine(ref.tag)
    data = {
        "image": str(opts.image),
        "capability": ctx.settings.capability,
        "ref": _ref(opts, candidate),
        **candidate.to_json(),
    }
    lines = [f"{_ref(opts, candidate)}: {candidate.verdict}"]
    lines += [f"  {e.detector:<10} {e.result:<5} {e.detail}" for e in candidate.evidence]
    ctx.out.result(data, "\n".join(lines))
    if candidate.verdict == "error":
        ctx.out.error(f"could not decide {_ref(opts, candidate)}: {why(candidate)}")
    return {"pass": 0, "fail": 1}.get(candidate.verdict, 3)


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


def scan_text(result: ScanResult) -> str:
    rows = [
        (c.tag, _short(c.digest), (c.build_sha or "")[:10], c.verdict, why(c))
        for c in result.candidates
    ]
    lines = [f"{result.image}: looking for {result.capability}"]
    if rows:
        lines.append(table(("TAG", "DIGEST", "BUILD SHA", "VERDICT", "WHY"), rows))
    if result.selected is not None:
        lines.append(f"selected: {_ref_of(result, result.selected)}")
    else:
        newer = f" newer than the pin {result.current}" if result.current else ""
        lines.append(
            f"nothing qualifies: {len(result.candidates)} tag(s){newer} examined, none carries "
            f"{result.capability}; the table says why for each"
        )
    return "\n".join(lines)


def why(candidate: Candidate) -> str:
    return why_json([e.to_json() for e in candidate.evidence])


def why_json(evidence: list[dict[str, str]]) -> str:
    """The evidence that decided: the first that did not pass, else the last that did."""
    deciding = [e for e in evidence if e["result"] not in ("pass", "skip")]
    chosen = deciding[0] if deciding else (evidence[-1] if evidence else None)
    return f"{chosen['detector']}: {chosen['detail']}" if chosen else ""


def _index(candidates: list[Candidate], selected: Candidate) -> int:
    return next(i for i, c in enumerate(candidates) if c is selected)


def _ref_of(result: ScanResult, candidate: Candidate) -> str:
    return f"{result.image}:{candidate.tag}@{candidate.digest}"


def _ref(opts: ImageOptions, candidate: Candidate) -> str:
    text = str(opts.image) + (f":{candidate.tag}" if candidate.tag else "")
    return text + (f"@{candidate.digest}" if candidate.digest else "")


def _short(digest: str | None) -> str:
    return digest[:19] if digest else ""
