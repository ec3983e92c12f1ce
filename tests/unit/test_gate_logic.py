"""The gate's pure parts: trailers from API commits, probe reports, verdicts."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from pinbot import gate as gate_package
from pinbot.commits import parse_trailers
from pinbot.errors import UsageError
from pinbot.gate.facts import Check, Facts
from pinbot.gate.probe_report import load_probe_report, probe_check
from pinbot.report.gate import WORDS, check_detail, gate_json, gate_text

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64
BUILD = "c" * 40
AGENTS = ("claude-code", "codex")


def test_trailers_come_from_the_last_paragraph_only() -> None:
    message = (
        "Pin agent-server 1.27.0-python\n\nPoint every pin site.\nPinbot-Image: in the body\n\n"
        f"Pinbot-Image: ghcr.io/o/a:1.27.0-python\nPinbot-Digest: {DIGEST}\n"
    )
    assert parse_trailers(message) == {
        "Pinbot-Image": "ghcr.io/o/a:1.27.0-python",
        "Pinbot-Digest": DIGEST,
    }
    assert parse_trailers("Pinbot-Image: a subject is never a trailer") == {}
    assert parse_trailers("Subject\n\nPinbot-Image: x\nand then prose\n") == {}


def report(digest: str | None, build: str | None = None, **verdicts: str) -> dict[str, Any]:
    agents = [{"agent": a.replace("_", "-"), "verdict": v} for a, v in verdicts.items()]
    image = {"ref": "x", "digest": digest} if digest else None
    return {"verdict": "native", "agents": agents, "image": image, "build_git_sha": build}


def test_a_native_report_for_this_digest_passes() -> None:
    check = probe_check(report(DIGEST, claude_code="native", codex="native"), DIGEST, None, AGENTS)
    assert check == Check(
        "probe",
        "pass",
        "native",
        {"agents": AGENTS, "losses": (), "matched_by": "digest", "matched": DIGEST},
    )
    assert check_detail(check) == (
        f"native for claude-code, codex (matched by digest {DIGEST[:19]})"
    )


def test_a_report_for_another_digest_fails_even_when_native() -> None:
    check = probe_check(report(OTHER, claude_code="native", codex="native"), DIGEST, BUILD, AGENTS)
    assert (check.status, check.reason) == ("fail", "other_digest")
    assert f"the report is for {OTHER}, not {DIGEST}" in check_detail(check)


def test_bootstrap_lost_and_missing_agents_each_fail_by_name() -> None:
    check = probe_check(report(DIGEST, claude_code="bootstrap"), DIGEST, None, AGENTS)
    assert (check.status, check.reason) == ("fail", "not_native")
    assert check.values["agents"] == (("claude-code", "bootstrap"), ("codex", None))
    assert check_detail(check).startswith(
        "claude-code bootstrap; codex not probed (matched by digest"
    )


def test_without_a_digest_the_build_sha_ties_the_report_to_the_image() -> None:
    native = {"claude_code": "native", "codex": "native"}
    assert probe_check(report(None, BUILD, **native), DIGEST, BUILD, AGENTS).ok
    wrong = probe_check(report(None, "d" * 40, **native), DIGEST, BUILD, AGENTS)
    assert not wrong.ok and f"the image was built from {BUILD}" in check_detail(wrong)
    nothing = probe_check(report(None, None, **native), DIGEST, BUILD, AGENTS)
    assert not nothing.ok and "names neither an image digest nor a build sha" in check_detail(
        nothing
    )


def test_a_file_that_is_not_a_probe_report_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"verdict": "native"}')
    with pytest.raises(UsageError, match="not a `pinbot probe --json` report"):
        load_probe_report(path)


def test_the_text_names_every_check_that_did_not_pass() -> None:
    facts = Facts("deploy@main", openhands_sha="e" * 40)
    checks = [
        Check("openhands_sha", "pass", "exists", {"sha": "e" * 40, "where": "w:3", "repo": "r"}),
        Check("digest_unchanged", "fail", "no_cut", {"sha": "e" * 40}),
        Check("capability", "error", "external", {"message": "registry down"}),
    ]
    data = gate_json(facts, checks)
    text = gate_text(data, facts.deploy)

    assert data["verdict"] == "block"
    assert [c["ok"] for c in data["checks"]] == [True, False, False]
    assert text.splitlines()[-1] == (
        "GATE BLOCK: do not deploy; 2 check(s) not passed: digest_unchanged, capability"
    )
    assert (
        "digest_unchanged  FAIL    no commit with a Pinbot-Digest trailer at eeeeeeeeeeee" in text
    )
    assert "capability        ERROR   registry down" in text
    assert [c["reason"] for c in data["checks"]] == ["exists", "no_cut", "external"]


def test_a_moved_tag_reads_the_same_whether_allowed_or_blocked() -> None:
    said = {"tag": "1.2.0-python", "cut": "f" * 40, "recorded": DIGEST, "now": OTHER}
    moved = f"1.2.0-python moved from {DIGEST} (recorded by ffffffffffff) to {OTHER}"

    allowed = check_detail(Check("digest_unchanged", "pass", "moved_allowed", said))
    blocked = check_detail(Check("digest_unchanged", "fail", "moved", said))

    assert allowed == f"{moved}; allowed by --allow-retag, the new digest is checked"
    assert blocked.startswith(f"{moved}: the deploy would pull an image nobody checked")


def test_a_skipped_check_says_it_was_not_checked() -> None:
    check = Check("capability", "skip", "no_digest")
    assert check_detail(check) == "not checked: no digest to check (the tag did not resolve)"


def test_every_reason_a_check_can_give_has_words() -> None:
    """A reason code with no words in report.gate would crash the gate (exit 4): every
    `passed`/`failed`/`skipped`/`Check(...)` of the checks names one that has them."""
    given = set()
    for path in Path(gate_package.__file__).parent.glob("*.py"):
        if path.name == "facts.py":  # where passed/failed/skipped are made
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                at = {"passed": 1, "failed": 1, "skipped": 1, "Check": 2}.get(node.func.id)
                if at is not None and len(node.args) > at:
                    reason = node.args[at]
                    assert isinstance(reason, ast.Constant), f"{path.name}:{node.lineno}"
                    given.add(reason.value)
    assert given and given <= {reason for _, reason in WORDS}
