"""Fixtures of the fault matrix, and the record it writes (tests/faults/table.py reads it).

Every scenario's processes carry HARNESS_RUN=<tag>, and pinbot's temporary directories land in
a directory of the test's own, so leftovers of either can be counted exactly.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Generator
from pathlib import Path

import pytest

from testing import world
from testing.matrix import Fault, Row, record_path

ROWS = pytest.StashKey[list[Row]]()
ROW = pytest.StashKey[Row]()
RECORD = record_path()  # read now: every test's environment is scrubbed of PINBOT_* variables


@pytest.fixture(autouse=True)
def tag(monkeypatch: pytest.MonkeyPatch) -> str:
    value = uuid.uuid4().hex
    monkeypatch.setenv("HARNESS_RUN", value)
    monkeypatch.setenv("PYTHONPATH", world.harness_env()["PYTHONPATH"])
    return value


@pytest.fixture(autouse=True)
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where pinbot's temporary clones go during this test (TMPDIR for subprocesses too)."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    monkeypatch.setenv("TMPDIR", str(directory))
    return directory


@pytest.fixture
def row(request: pytest.FixtureRequest) -> Row:
    """The record line of this scenario; the test fills it in, the report hook finishes it."""
    fault = request.node.callspec.params["fault"]
    assert isinstance(fault, Fault)
    made = Row.of(fault)
    request.node.stash[ROW] = made
    return made


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    made = item.stash.get(ROW, None)
    if call.when == "call" and made is not None:
        made.survived = report.passed
        made.seconds = round(call.duration, 1)
        item.config.stash.setdefault(ROWS, []).append(made)
        if RECORD is not None:
            with RECORD.open("a", encoding="utf-8") as fh:
                fh.write(made.to_json() + "\n")
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = terminalreporter.config.stash.get(ROWS, [])
    if rows:
        survived = sum(r.survived for r in rows)
        lost = sum(r.data_lost for r in rows)
        terminalreporter.write_line(
            f"fault matrix: {len(rows)} faults tried, {survived} survived, {lost} data lost"
        )
