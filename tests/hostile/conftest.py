"""The hostile world's record: one JSON line per case, for the README's hostile table
(`python -m tests.faults.table --hostile --write`). Each module says what it attacks in AREA,
ATTACK (what the hostile side does), ANSWER (what pinbot does) and EXIT."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.hostile import Liar
from testing.matrix import HOSTILE_RECORD_ENV

# Read now: every test's environment is scrubbed of PINBOT_* variables.
RECORD = Path(os.environ[HOSTILE_RECORD_ENV]) if os.environ.get(HOSTILE_RECORD_ENV) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    module = getattr(item, "module", None)
    if call.when == "call" and RECORD is not None and module is not None:
        line = {
            "module": module.__name__.rsplit(".", 1)[-1],
            "area": module.AREA,
            "attack": module.ATTACK,
            "answer": module.ANSWER,
            "exit": module.EXIT,
            "case": item.name,
            "held": report.passed,
        }
        with RECORD.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line, sort_keys=True) + "\n")
    return report


@pytest.fixture
def liar(images: Any) -> Iterator[Liar]:
    """A registry that lies (testing.hostile), in front of the session's real one."""
    with Liar(images.registry) as server:
        yield server


@pytest.fixture
def own_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pinbot's scratch and work directories under tmp_path (`tmp_path/tmp`), where a test can
    look at everything it left."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
