"""The fault matrix's shared parts: what a scenario is, what a run left behind, the record.

A scenario names a fault, the exit code pinbot must give, a keyword its message must contain
(the advice: what to do next) and the outcome in words for the README table. Each test module
sets the fault up against real services, drives the real command, and hands the result to
`Run.check`, which asserts the common promises: the exit code, the advice, and no container,
process or temporary clone left over. What the remotes hold afterwards is checked per area
(`state`), and whether that state lost anything decides the "data lost" column.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from testing import world
from testing.cli import Run

RECORD_ENV = "PINBOT_FAULT_RECORD"
HOSTILE_RECORD_ENV = "PINBOT_HOSTILE_RECORD"  # tests/hostile records its cases there


@dataclass(frozen=True)
class Fault:
    area: str  # registry, git, GitHub API, docker, app server, interruption, gate
    name: str  # the fault, as the README says it
    exit_code: int  # what pinbot must exit with
    says: str  # a keyword the message must contain: what to do next
    outcome: str  # what pinbot does, as the README says it
    options: dict[str, Any] = field(default_factory=dict)  # area-specific set-up

    @property
    def id(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


@dataclass
class Row:
    """One line of the record: what happened when `scenario` was tried."""

    area: str
    scenario: str
    outcome: str
    expected_exit: int
    exit_code: int | None = None
    message: str = ""  # the error line pinbot printed (record only: it names temporary paths)
    state: str = "not reached"
    data_lost: bool = False
    survived: bool = False
    seconds: float = 0.0

    @classmethod
    def of(cls, fault: Fault) -> Row:
        return cls(fault.area, fault.name, fault.outcome, fault.exit_code)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def leftover_processes(tag: str) -> list[str]:
    """Processes carrying HARNESS_RUN=`tag` still alive after a short grace period."""
    deadline = time.monotonic() + 5  # a killed child's own children may take a moment
    while (left := world.tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def leftover_temp(directory: Path) -> list[str]:
    """pinbot's temporary clones and work directories (`pinbot-…`) left in `directory`."""
    return sorted(p.name for p in directory.glob("pinbot-*"))


def leftover_containers(client: Any, images: Sequence[str]) -> list[str]:
    """pinbot's containers of the images named `images/...`: the engine is shared, so only
    those of this test's own registry (its address is unique while the test runs) count."""
    found = client.containers.list(all=True, filters={"label": "pinbot.managed=1"})
    ours = [c for c in found if str(c.attrs["Config"]["Image"]).startswith(tuple(images))]
    return [c.short_id for c in ours]


def check(
    fault: Fault, row: Row, run: Run, tag: str, temp: Path, docker: Any = None,
    images: Sequence[str] = (),
) -> None:  # fmt: skip
    """The promises every scenario keeps, recorded before they are asserted; with `docker`, no
    container left of `images` (prefixes of the image references the run was given)."""
    row.exit_code = run.code
    row.message = run.error_line().removeprefix("pinbot: ").removeprefix("error: ")
    assert run.code == fault.exit_code, run.text
    assert fault.says.lower() in run.text.lower(), run.text
    assert leftover_processes(tag) == []
    assert leftover_temp(temp) == []
    if docker is not None:
        assert images, "name the images whose containers must not be left"
        assert leftover_containers(docker, images) == []


def record_path() -> Path | None:
    given = os.environ.get(RECORD_ENV)
    return Path(given) if given else None
