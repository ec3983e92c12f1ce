"""The pull requests a cut opens, with the evidence a reviewer needs (lock diff included)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pinbot import commits, output
from pinbot.cut.apply import Built, DeployBuilt
from pinbot.cut.facts import Pick
from pinbot.github.pulls import PullSpec, render_section
from pinbot.pins.lock import LockChange


def role(branch: str) -> str:
    """The key of a branch's PR among the cut's PRs (the deploy PR is "deploy")."""
    return f"openhands:{branch}"


def facts(pick: Pick, first: Built) -> list[tuple[str, str]]:
    candidate = pick.candidate
    forced = " (pinned anyway: --force-capability)" if pick.forced else ""
    return [
        ("image", f"`{pick.ref}`"),
        ("tag", f"`{pick.tag}`"),
        ("digest", f"`{candidate.digest}`"),
        ("build sha", f"`{candidate.build_sha or 'unknown'}`"),
        ("capability", f"{pick.capability}: {candidate.verdict}" + forced),
        ("OpenHands commit", f"`{first.commit}` for `{first.branch}`"),
    ]


def lock_rows(changes: Sequence[LockChange]) -> list[tuple[str, str]]:
    """One row per package whose locked version moved (the lock diff)."""
    return [
        (f"locked `{c.package}` ({c.file})", f"{c.old or 'absent'} → {c.new or 'removed'}")
        for c in changes
    ]


def marker(pick: Pick, role: str, openhands_sha: str) -> dict[str, Any]:
    return {
        "role": role,
        "image": pick.image,
        "tag": pick.tag,
        "digest": pick.digest,
        "build_sha": pick.candidate.build_sha,
        "openhands_sha": openhands_sha,
        "forced": pick.forced,
    }


def notes(pick: Pick) -> list[str]:
    """Warnings a reviewer must see: a forced capability, a rollback lifted with --allow-held."""
    lines = []
    if pick.forced:
        lines.append("> Pinned with `--force-capability`: the capability check did not pass.")
    if pick.held:
        lines.append(f"> Pinned with `--allow-held`: {output.markdown(pick.held)}.")
    return ["> [!WARNING]", *_separated(lines)] if lines else []


def _separated(lines: list[str]) -> list[str]:
    """Quoted lines as separate paragraphs of one alert."""
    return [part for i, line in enumerate(lines) for part in ([">", line] if i else [line])]


def openhands_pull(
    pick: Pick, built: Built, repo: commits.GitHubRepo, first: bool, probed: Sequence[str] = ()
) -> PullSpec:
    """The PR from a branch's head into the branch; the first branch's (the commit the deploy
    names) and the deploy PR link each other."""
    rows = [*facts(pick, built), *lock_rows(built.lock)]
    section = render_section(
        title=f"pinbot: agent-server {pick.tag} for {built.branch}",
        facts=[*rows, ("deploy PR", "{other}")] if first else rows,
        evidence=pick.candidate.evidence,
        notes=[*notes(pick), *probed],
    )
    return PullSpec(
        role(built.branch),
        repo,
        built.plan.head,
        built.branch,
        f"Pin agent-server {pick.tag} on {built.branch}",
        marker(pick, "openhands", built.commit),
        section,
        links="deploy" if first else "",
    )


def deploy_pull(
    pick: Pick,
    first: Built,
    deploy: DeployBuilt,
    repo: commits.GitHubRepo,
    base: str,
    probed: Sequence[str] = (),
) -> PullSpec:
    short = commits.short(first.commit)
    section = render_section(
        title=f"pinbot: deploy OpenHands {short}",
        facts=[*facts(pick, first), *lock_rows(first.lock), ("OpenHands PR", "{other}")],
        evidence=pick.candidate.evidence,
        notes=[*notes(pick), *probed],
    )
    title = f"Deploy OpenHands {short} with agent-server {pick.tag}"
    return PullSpec(
        "deploy",
        repo,
        deploy.branch,
        base,
        title,
        marker(pick, "deploy", first.commit),
        section,
        links=role(first.branch),
    )
