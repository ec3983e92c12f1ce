"""The benchmarks behind the README's figures still run: a benchmark that rots is a figure that
nobody can check again (the gate benchmark once imported a helper that had been moved)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pinbot.demo.services import registry_binary
from testing.services import missing_service

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_gate_benchmark_measures_a_cold_and_a_warm_gate_that_pass() -> None:
    if registry_binary() is None:
        missing_service("the Distribution registry (Debian package docker-registry)")
    done = run("gate_warm_vs_cold.py", "--repeat", "1", "--delay-ms", "5")

    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith(("| loopback", "| +5 ms"))]
    assert len(rows) == 2
    for row in rows:
        # Cold reads index, platform manifest and config, then confirms the tag; warm one HEAD.
        assert "| 4 / 1 |" in row
        assert "GATE PASS / GATE PASS" in row


def test_scan_benchmark_measures_pinbot_and_the_skopeo_loop_against_the_floor() -> None:
    # The full run takes minutes; --quick is one small world at two depths, one run each.
    if registry_binary() is None:
        missing_service("the Distribution registry (Debian package docker-registry)")
    done = run("scan_vs_skopeo.py", "--quick", "--delay-ms", "5")

    assert done.returncode == 0, done.stderr[-2000:]  # every tool chose the expected tag
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 100 tags")]
    assert [row.split(" | ")[1] for row in rows] == ["1 down", "none"]
    for row in rows:
        cells = row.split(" | ")
        assert cells[4].startswith("**") and cells[4].endswith("x**")  # cold x floor
        warm_requests, warm_floor = cells[11].split(" / ")
        assert warm_requests == warm_floor  # one page and one HEAD per examined tag
    assert "Worst: cold" in done.stdout


def test_real_lock_benchmark_reads_the_real_lock_and_gates_the_real_main_in_time() -> None:
    if registry_binary() is None:
        missing_service("the Distribution registry (Debian package docker-registry)")
    done = run("real_lock.py", "--repeat", "1")

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "pinbot / tomllib: " in done.stdout
    assert "gate exit codes: [0] (0: pass)" in done.stdout
