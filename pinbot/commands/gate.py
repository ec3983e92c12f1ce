"""`pinbot gate`: what would this deploy run, and is it the pin pinbot proved?

Read-only. It reads what the deploy pipeline reads — `OPENHANDS_SHA` from the deploy workflow at
REF, then the pin sites at that commit — and checks each fact. Every check runs; one that cannot
(an earlier fact it needs is missing) says so, so a block lists every reason at once, not the
first. Repositories are read in place (a path or file:// URL, git plumbing, no checkout), through
GitHub's API (a GitHub repository and a token), or from a temporary blobless mirror (other URLs).

Exit 0 pass, 1 block, 2 bad input (the --deploy value, the workflow, the probe report),
3 when a check could not be made because a remote, the registry or GitHub failed.

Policy (`pinbot.toml`) comes from the invocation only: `--config FILE` / `PINBOT_CONFIG`, flags
and PINBOT_* variables. The working directory is never searched: a gate usually runs in the
checkout of the very commit it gates.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pinbot import cleanup
from pinbot.commands import Context
from pinbot.config import CONFIG_NAME, DEFAULT_SOURCE
from pinbot.gate.checks import Gate
from pinbot.gate.facts import Check, Facts, Request
from pinbot.gate.probe_report import load_probe_report
from pinbot.gate.repos import deployed_sha, open_repo, required_commits
from pinbot.git.sources import check_source
from pinbot.model import validate_sha
from pinbot.options import GateOptions
from pinbot.report.gate import gate_json, gate_markdown, gate_text


def run(ctx: Context, args: GateOptions) -> int:
    _say_ignored_config(ctx)
    request = _request(ctx, args)
    opts = args.image_options
    report = load_probe_report(request.probe) if request.probe else None
    with tempfile.TemporaryDirectory(prefix="pinbot-gate-") as tmp:
        cleanup.track(tmp)  # removed even if pinbot is interrupted or killed
        deploy = open_repo(ctx, request.deploy, "--deploy", Path(tmp) / "deploy")
        openhands = open_repo(ctx, request.openhands, "--openhands", Path(tmp) / "openhands")
        facts = Facts(f"{deploy.where}@{request.deploy_ref or 'HEAD'}")
        facts.deploy_commit, written, overridden = deployed_sha(ctx, deploy, request.deploy_ref)
        facts.required = required_commits(ctx, request, openhands)
        gate = Gate(ctx, opts, request, openhands, facts)
        checks = gate.evaluate(written, report, overridden)
    return _report(ctx, facts, checks)


def _say_ignored_config(ctx: Context) -> None:
    """The gate reads only the config it is given (cli gives `config.load` no directory to
    search): the working directory is usually the checkout being gated, and a `pinbot.toml`
    there is the reviewed commit's own word on how to judge it (issue 21). Say so when one
    would have been read."""
    if ctx.settings.source == DEFAULT_SOURCE and Path(CONFIG_NAME).is_file():
        ctx.out.progress(
            f"warning: ./{CONFIG_NAME} is not read: the gate takes its policy only from "
            "--config FILE (or PINBOT_CONFIG), never from the checkout it gates; pass the "
            "default branch's copy as --config to use it"
        )


def _request(ctx: Context, args: GateOptions) -> Request:
    repo, ref = args.deploy
    given = args.require_commit
    shas = given if given is not None else ctx.settings.require_commits
    return Request(
        deploy=check_source(repo, "--deploy"),
        deploy_ref=ref,
        openhands=check_source(args.openhands, "--openhands"),
        require_commits=tuple(validate_sha(s.lower(), "--require-commit") for s in shas),
        require_prs=tuple(ctx.settings.require_prs) if given is None else (),
        allow_retag=args.allow_retag,
        probe=args.require_probe,
        rollback_safe=args.require_rollback_safe,
    )


def _report(ctx: Context, facts: Facts, checks: list[Check]) -> int:
    data = gate_json(facts, checks)
    ctx.out.result(data, gate_text(data, facts.deploy))
    failing = [c for c in data["checks"] if c["status"] in ("fail", "error")]
    errors = [f"gate: {c['name']}: {c['detail']}" for c in failing]
    outputs = {key: data[key] or "" for key in ("verdict", "openhands_sha", "image", "tag")}
    outputs["digest"] = data["digest"] or ""
    ctx.out.github(outputs=outputs, summary=gate_markdown(data, facts.deploy), errors=errors)
    statuses = {c.status for c in checks}
    if data["verdict"] == "pass":
        return 0
    return 1 if "fail" in statuses else 3
