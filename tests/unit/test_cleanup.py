"""A run's temporary directories go at its end, even when Ctrl-C lands the moment one is made."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pinbot import cleanup


def test_a_ctrl_c_just_after_the_directory_is_made_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    made = os.mkdir

    def mkdir_then_interrupt(path: str | Path, mode: int = 0o777) -> None:
        made(path, mode)
        raise KeyboardInterrupt  # the signal arrives between making and tracking

    run = cleanup.begin(tmp_path / "runs")
    try:
        monkeypatch.setattr(os, "mkdir", mkdir_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            cleanup.temp_dir("pinbot-probe-", scratch)
        monkeypatch.undo()
    finally:
        cleanup.end(run, None)

    assert list(scratch.iterdir()) == []


def test_a_name_someone_else_holds_is_not_taken_and_not_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = tmp_path / "pinbot-cut-000000000000"
    theirs.mkdir()
    names = iter(["000000000000", "111111111111"])
    monkeypatch.setattr(cleanup, "_temp_name", lambda: next(names))

    run = cleanup.begin(tmp_path / "runs")
    try:
        ours = cleanup.temp_dir("pinbot-cut-", tmp_path)
        assert (
            ours.name == "pinbot-cut-111111111111" and oct(ours.stat().st_mode & 0o777) == "0o700"
        )
    finally:
        cleanup.end(run, None)

    assert theirs.is_dir() and not ours.exists()
