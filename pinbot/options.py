"""What each command was asked to do: one frozen dataclass per command, built once by `cli`.

Nothing below `cli` sees argparse. Values are already validated (`pinbot.inputs`) and merged
with the configuration where a flag falls back to a config key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pinbot.model import ImageName


@dataclass(frozen=True)
class ImageOptions:
    """The image and detector flags shared by scan, check, cut and gate."""

    image: ImageName
    registry_url: str | None
    variant: str
    sdk: str | None
    detectors: tuple[str, ...]
    include_sha_tags: bool
    max_candidates: int | None = None  # None: config 'max_candidates'


@dataclass(frozen=True)
class ScanOptions:
    image_options: ImageOptions
    current: str | None
    all: bool
    openhands: str | None = None  # with openhands_branch: whose rollbacks hold images back
    openhands_branch: str | None = None


@dataclass(frozen=True)
class CheckOptions:
    image_options: ImageOptions
    ref: str


@dataclass(frozen=True)
class CutOptions:
    image_options: ImageOptions
    tag: str | None
    latest: bool
    openhands: str
    openhands_branch: list[str]  # one or more: release lines
    deploy: str | None  # without it only the OpenHands branches are pinned
    deploy_branch: str | None
    require_commit: list[str] | None
    push: bool
    open_prs: bool
    dry_run: bool
    force_capability: bool
    allow_held: bool = False  # pin an image a rollback holds back, on purpose


@dataclass(frozen=True)
class GateOptions:
    image_options: ImageOptions
    deploy: tuple[str, str | None]  # (repository, ref or None)
    openhands: str
    require_commit: list[str] | None
    allow_retag: bool
    require_probe: Path | None


@dataclass(frozen=True)
class ProbeOptions:
    target: str
    agents: str | None  # comma-separated, checked by inputs.agents
    timeout: float | None
    app_url: str | None
    app_auth: str | None  # bearer or session-key (X-Session-API-Key)
    recycle: str | None
    image: str | None
    registry_url: str | None
    server_command: str | None
    agent_server_url: str | None
    recycle_command: str | None
    acp_command: str | None
    report: Path | None
    keep: bool


@dataclass(frozen=True)
class DemoOptions:
    workdir: Path | None
    keep: bool = False  # keep the temporary world (a --workdir world is always kept)
