"""What a cut came to: the plan and, once applied, what was built, pushed and opened."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pinbot.cut.apply import Built, DeployBuilt
from pinbot.cut.plan import FileEdit, Plan
from pinbot.github.pulls import PullRequest, PullSpec


@dataclass
class Outcome:
    """The plan and, once applied, what came of it (nothing built: a dry run)."""

    plan: Plan
    built: list[Built] = field(default_factory=list)
    deploy: DeployBuilt | None = None
    deploy_preview: FileEdit | None = None
    deploy_message: str | None = None
    pulls: tuple[PullSpec, ...] = ()
    no_pr_reasons: tuple[str, ...] = ()
    opened: dict[str, PullRequest] = field(default_factory=dict)
    pushed: bool = False
    kept: Path | None = None
