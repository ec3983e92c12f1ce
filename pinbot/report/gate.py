"""What `pinbot gate` shows: each check's words, the checks as text, JSON and a step-summary
table. A check is data (`pinbot.gate.facts.Check`: status, reason code, values); its detail is
written here, from the reason and the values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pinbot import output
from pinbot.commits import DIGEST_TRAILER, short
from pinbot.gate.facts import Check, Facts
from pinbot.report import markdown_table, table

Values = Mapping[str, Any]
CUT_AGAIN = "cut it again with `pinbot cut`"


def _overridden(v: Values) -> str:
    places = "; ".join(f"{p} ({where}) = {value!r}" for p, where, value in v["overrides"])
    return (
        f"{v['key']} is {v['value']!r} in the top-level env ({v['where']}), but {places}: the "
        f"deploying job may run another commit than the one checked; set {v['key']} only in "
        "the top-level env (pinbot cut writes it there)"
    )


def _shas(shas: Any) -> str:
    return ", ".join(short(s) for s in shas)


def _disagree(v: Values) -> str:
    problems = list(v["disagreements"])
    if v["repository"] != v["image"]:
        problems.insert(
            0, f"the image is {v['repository']}, not {v['image']} (--image, config image)"
        )
    return (
        f"the deploy runs {v['reference']}, but {'; '.join(problems)}: a version split is a "
        "protocol split; make every pin site agree (`pinbot cut` moves them all)"
    )


def _moved(v: Values) -> str:
    return f"{v['tag']} moved from {v['recorded']} (recorded by {short(v['cut'])}) to {v['now']}"


def _source(v: Values) -> str:
    return f"{v['capability']} ({'cached verdict' if v['cached'] else 'checked now'})"


def _matched(v: Values) -> str:
    if v["matched_by"] == "digest":
        return f"matched by digest {v['matched'][:19]}"
    return f"matched by build sha {v['matched'][:12]}; the report names no digest"


def _losses(v: Values) -> str:
    return "; ".join(output.one_line(loss, 200) for loss in v["losses"])


def _not_native(v: Values) -> str:
    bad = "; ".join(f"{agent} {verdict or 'not probed'}" for agent, verdict in v["agents"])
    return (
        f"{bad} ({_matched(v)}): the backend would fall back to a bootstrap prompt; do not "
        "deploy this image"
    )


def _native(v: Values) -> str:
    losses = _losses(v)
    warning = f"; warning: reverting this pin would lose conversations: {losses}" if losses else ""
    return f"native for {', '.join(v['agents'])} ({_matched(v)}){warning}"


# (check, reason) -> the words; ("", reason) serves every check.
WORDS: dict[tuple[str, str], Callable[[Values], str]] = {
    ("", "external"): lambda v: str(v["message"]),
    ("openhands_sha", "overridden"): _overridden,
    ("openhands_sha", "not_hex"): lambda v: (
        f"{v['key']} {v['value']!r} ({v['where']}) is not a 40-hex commit sha: the deploy "
        "cannot check it out; set it with `pinbot cut`"
    ),
    ("openhands_sha", "not_a_commit"): lambda v: (
        f"{v['key']} {v['sha']} ({v['where']}) is not a commit in {v['repo']}: push it there, "
        "or point the deploy at a commit that exists"
    ),
    ("openhands_sha", "exists"): lambda v: f"{v['sha']} ({v['where']}) exists in {v['repo']}",
    ("backend_commits", "no_openhands_sha"): lambda v: "no OpenHands commit to look in",
    ("backend_commits", "none_required"): lambda v: (
        "none required (give --require-commit, or config require_commits / require_prs)"
    ),
    ("backend_commits", "missing"): lambda v: (
        f"{short(v['sha'])} does not contain {_shas(v['missing'])}: the deploy would run "
        "without the backend change; cut the pin on the branch that carries it"
    ),
    ("backend_commits", "contained"): lambda v: (
        f"{short(v['sha'])} contains {_shas(v['required'])}"
    ),
    ("pin_sites_agree", "no_openhands_sha"): lambda v: (
        "no OpenHands commit to read the pin sites from"
    ),
    ("pin_sites_agree", "unreadable"): lambda v: str(v["message"]),
    ("pin_sites_agree", "disagree"): _disagree,
    ("pin_sites_agree", "agree"): lambda v: str(v["summary"]),
    ("digest_unchanged", "no_pin"): lambda v: "no pin of the configured image to resolve",
    ("digest_unchanged", "no_cut"): lambda v: (
        f"no commit with a {DIGEST_TRAILER} trailer at {short(v['sha'])} or its first-parent "
        "ancestors: cut the pin with `pinbot cut` so the gate knows which digest was proven"
    ),
    ("digest_unchanged", "pin_changed"): lambda v: (
        f"the pin changed after pinbot's cut: {short(v['cut'])} recorded {v['recorded']}, "
        f"{v['pinned']} is pinned now; cut it with `pinbot cut`"
    ),
    ("digest_unchanged", "bad_trailer"): lambda v: (
        f"the cut {short(v['cut'])} records no valid {DIGEST_TRAILER} ({v['recorded']!r}): "
        f"{CUT_AGAIN}"
    ),
    ("digest_unchanged", "tag_gone"): lambda v: (
        f"{v['tag']} no longer exists in {v['image']} (recorded by {short(v['cut'])}: "
        f"{v['recorded']})"
    ),
    ("digest_unchanged", "same"): lambda v: (
        f"{v['tag']} still resolves to {v['recorded']} (recorded by {short(v['cut'])})"
    ),
    ("digest_unchanged", "moved_allowed"): lambda v: (
        f"{_moved(v)}; allowed by --allow-retag, the new digest is checked"
    ),
    ("digest_unchanged", "moved"): lambda v: (
        f"{_moved(v)}: the deploy would pull an image nobody checked; cut again with `pinbot "
        "cut`, or pass --allow-retag"
    ),
    ("capability", "no_digest"): lambda v: "no digest to check (the tag did not resolve)",
    ("capability", "not_in_image"): lambda v: f"{v['digest']} is not in {v['image']}",
    ("capability", "carries"): lambda v: f"{_source(v)}: {v['evidence']}",
    ("capability", "lacks"): lambda v: f"{v['digest'][:19]} lacks {_source(v)}: {v['evidence']}",
    ("probe", "no_digest"): lambda v: "no digest to match the report against",
    ("probe", "other_digest"): lambda v: (
        f"the report is for {v['reported']}, not {v['digest']}: probe this image"
    ),
    ("probe", "untied"): lambda v: (
        "the report names neither an image digest nor a build sha, so nothing ties it to "
        f"{v['digest'][:19]}: probe with `pinbot probe --image REF@DIGEST --report FILE`"
    ),
    ("probe", "other_build"): lambda v: (
        f"the report is for build {v['reported']}, the image was built from "
        f"{v['build_sha'] or 'an unknown commit (its config records none)'}"
    ),
    ("probe", "not_native"): _not_native,
    ("probe", "rollback_loses"): lambda v: (
        f"reverting this pin would lose conversations: {_losses(v)}"
    ),
    ("probe", "native"): _native,
}


def check_detail(check: Check) -> str:
    """The check in words: what it found, and for a block what to do."""
    words = WORDS.get((check.name, check.reason)) or WORDS[("", check.reason)]
    detail = words(check.values)
    return f"not checked: {detail}" if check.status == "skip" else detail


def check_json(check: Check) -> dict[str, Any]:
    return {
        "name": check.name,
        "ok": check.ok,
        "status": check.status,
        "reason": check.reason,
        "detail": check_detail(check),
    }


def gate_json(facts: Facts, checks: list[Check]) -> dict[str, Any]:
    return {
        "verdict": "pass" if all(c.ok for c in checks) else "block",
        "openhands_sha": facts.openhands_sha,
        "image": facts.image,
        "tag": facts.tag,
        "digest": facts.digest,
        "checks": [check_json(c) for c in checks],
    }


def _gate_subject(data: dict[str, Any]) -> str:
    sha = data["openhands_sha"] or "?"
    image = f"{data['image']}:{data['tag']}" if data["image"] else "an unknown image"
    return f"OpenHands {sha} with {image}@{data['digest'] or '?'}"


def gate_verdict_line(data: dict[str, Any]) -> str:
    if data["verdict"] == "pass":
        return f"GATE PASS: deploy may run {_gate_subject(data)}"
    failed = [c["name"] for c in data["checks"] if not c["ok"]]
    return f"GATE BLOCK: do not deploy; {len(failed)} check(s) not passed: {', '.join(failed)}"


def gate_text(data: dict[str, Any], deploy: str) -> str:
    rows = [(c["name"], c["status"].upper(), c["detail"]) for c in data["checks"]]
    return "\n".join(
        [
            f"deploy {deploy} would run {_gate_subject(data)}",
            "",
            table(("CHECK", "RESULT", "DETAIL"), rows),
            "",
            gate_verdict_line(data),
        ]
    )


def gate_markdown(data: dict[str, Any], deploy: str) -> str:
    rows = [
        (c["name"], ("✅ " if c["ok"] else "❌ ") + c["status"], output.markdown(c["detail"]))
        for c in data["checks"]
    ]
    return "\n".join(
        [
            f"### pinbot gate: {data['verdict'].upper()}",
            "",
            f"`{deploy}` would run {_gate_subject(data)}.",
            "",
            markdown_table(("check", "result", "detail"), rows).rstrip("\n"),
            "",
            f"**{gate_verdict_line(data)}**",
        ]
    )
