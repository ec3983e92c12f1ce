"""What a cut says: the plan (dry run), or what it built and pushed, as text and JSON."""

from __future__ import annotations

from typing import Any

from pinbot import commits
from pinbot.cut import pulls
from pinbot.cut.apply import Built
from pinbot.cut.outcome import Outcome
from pinbot.cut.plan import BranchPlan


def result_json(outcome: Outcome, url: str) -> dict[str, Any]:
    plan = outcome.plan
    branches = [_branch_json(outcome, b, i) for i, b in enumerate(plan.branches)]
    changes = [
        {"repo": "openhands", "branch": b.branch, **c.to_json("openhands")}
        for b in plan.branches
        for e in b.edits
        for c in e.changes
    ]
    deploy = outcome.deploy
    if deploy is not None:
        changes += [
            c.to_json("deploy") | {"branch": deploy.branch} for e in deploy.edits for c in e.changes
        ]
    return {
        "tag": plan.pick.tag,
        "digest": plan.pick.digest,
        "image": plan.pick.ref,
        "forced": plan.pick.forced,
        "pushed": outcome.pushed,
        "dry_run": not outcome.built,
        "openhands": branches[0] | {"url": url},
        "branches": branches,
        "deploy": _deploy_json(outcome),
        "changes": changes,
        "lock": [c.to_json() | {"branch": b.branch} for b in outcome.built for c in b.lock],
        "lock_commands": [
            {"branch": b.branch, "file": s.file, "command": list(s.argv)}
            for b in plan.branches
            for s in b.locks
        ],
        "pull_requests": [
            {"repo": s.repo.full_name, "head": s.head, "base": s.base, "title": s.title}
            for s in outcome.pulls
        ],
        "workdir": str(outcome.kept) if outcome.kept else None,
    }


def _branch_json(outcome: Outcome, plan: BranchPlan, index: int) -> dict[str, Any]:
    built = outcome.built[index] if outcome.built else None
    pull = outcome.opened.get(pulls.role(plan.branch))
    edits = built.edits if built else plan.edits
    return {
        "branch": plan.branch,
        "head": None if plan.landed else plan.head,
        "commit": built.commit if built else None,
        "parent": plan.parent,
        "pr": pull.url if pull else None,
        "changed": built.changed if built else plan.changed,
        "message": plan.message,
        "diff": "\n".join(e.diff() for e in edits if e.path.endswith(".lock") is False),
    }


def _deploy_json(outcome: Outcome) -> dict[str, Any] | None:
    deploy = outcome.deploy
    if deploy is None:
        return None
    pull = outcome.opened.get("deploy")
    return {
        "branch": deploy.branch,
        "commit": deploy.commit,
        "pr": pull.url if pull else None,
        "changed": deploy.changed,
        "message": deploy.message,
        "diff": "\n".join(e.diff() for e in deploy.edits),
    }


def plan_text(outcome: Outcome, url: str) -> str:
    plan = outcome.plan
    pick = plan.pick
    lines = [f"pin {pick.ref} ({pick.digest}), capability {pick.candidate.verdict}"]
    if pick.forced:
        lines.append("  forced with --force-capability")
    for index, branch in enumerate(plan.branches):
        built = outcome.built[index] if outcome.built else None
        lines += _branch_text(url, branch, built, outcome.pushed)
    lines += _deploy_text(outcome)
    for spec in outcome.pulls:
        pull = outcome.opened.get(spec.role)
        done = f"{'opened' if pull.created else 'up to date'}: {pull.url}" if pull else "would open"
        lines.append(f"PR {spec.repo.full_name} {spec.head} -> {spec.base}: {done}")
    lines += [f"no PR: {reason}" for reason in outcome.no_pr_reasons]
    if outcome.kept is not None:
        first = outcome.built[0]
        lines.append(
            f"built, not pushed: the commits are in {outcome.kept} (git -C "
            f"{outcome.kept}/openhands show {commits.short(first.commit)}); re-run with --push "
            "to publish them"
        )
    elif not outcome.pushed:
        lines.append("dry run: nothing was pushed")
    return "\n".join(lines)


def _branch_text(url: str, plan: BranchPlan, built: Built | None, pushed: bool) -> list[str]:
    head = f"openhands: {url} {plan.branch}" + ("" if plan.landed else f" <- {plan.head}")
    if not plan.changed or (built is not None and not built.changed):
        return [f"{head}: no new commit ({plan.note or plan.branch + ' is up to date'})"]
    if built is None:
        lines = [f"{head}: would commit on {commits.short(plan.parent)} ({plan.note})"]
    else:
        state = "pushed" if pushed else "not pushed"
        lines = [
            f"{head}: commit {built.commit} on {commits.short(plan.parent)} ({state}; {plan.note})"
        ]
    edits = [e for e in (built.edits if built else plan.edits) if not e.path.endswith(".lock")]
    lines += [f"    {line}" for edit in edits for line in edit.diff().splitlines()]
    for step in plan.locks:
        lines.append(f"    lock: `{' '.join(step.argv)}` regenerates {step.file} ({step.reason})")
    for change in built.lock if built else ():
        lines.append(f"    lock: {change.package} {change.old} -> {change.new} ({change.file})")
    lines += [f"  | {line}".rstrip() for line in (plan.message or "").splitlines()]
    return lines


def _deploy_text(outcome: Outcome) -> list[str]:
    deploy = outcome.deploy
    if deploy is None and outcome.deploy_preview is None:
        return []
    if deploy is None:
        preview = outcome.deploy_preview
        assert preview is not None
        lines = [f"deploy: would set {outcome.plan.deploy_branch}"]
        lines += [f"    {line}" for line in preview.diff().splitlines()]
        lines += [f"  | {line}".rstrip() for line in (outcome.deploy_message or "").splitlines()]
        return lines
    head = f"deploy: {deploy.url} {deploy.branch}"
    if not deploy.changed:
        return [f"{head}: no new commit ({deploy.note})"]
    state = "pushed" if outcome.pushed else "not pushed"
    lines = [
        f"{head}: commit {deploy.commit} on {commits.short(deploy.parent)} ({state}; {deploy.note})"
    ]
    lines += [f"    {line}" for edit in deploy.edits for line in edit.diff().splitlines()]
    lines += [f"  | {line}".rstrip() for line in (deploy.message or "").splitlines()]
    return lines


def github_outputs(outcome: Outcome) -> dict[str, str]:
    first = outcome.built[0] if outcome.built else None
    deploy = outcome.deploy
    return {
        "verdict": outcome.plan.pick.candidate.verdict,
        "image": outcome.plan.pick.image,
        "tag": outcome.plan.pick.tag,
        "digest": outcome.plan.pick.digest or "",
        "openhands_sha": first.commit if first else "",
        "deploy_branch": deploy.branch if deploy else "",
        "deploy_commit": deploy.commit if deploy else "",
    }
