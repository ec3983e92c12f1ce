"""Start-up of `pinbot --json scan`: what the live progress costs a run that does not show it.

A small world in an OCI image layout (no network, no registry): five releases over a matching SDK
clone. `pinbot --json scan` runs against it `--repeat` times per tree; the table gives the median
wall time, the median import time (`python -X importtime`, summed over top-level imports), the
set of modules imported and whether the live-progress module was loaded. On a busy machine the
times wander; the module sets are exact. `--before REV` runs a second tree, the pinbot package
at a git revision, in the same run, for a before/after comparison.

    python benchmarks/startup.py [--repeat 15] [--before REV]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def world(root: Path) -> tuple[str, str]:
    """(image, sdk): an OCI layout of five releases, the newest capable one two releases down."""
    from pinbot.demo.builds import Build, publish
    from pinbot.demo.registry import LayoutWriter

    builds = [Build("1.40.0"), Build("1.41.0", routes=True), Build("1.42.0"), Build("1.43.0")]
    builds.append(Build("1.44.0"))
    found = publish(LayoutWriter(root / "layout"), root / "sdk", builds)
    return f"oci:{root / 'layout'}", str(found.sdk)


def tree_at(revision: str, into: Path) -> Path:
    """The pinbot package as it was at `revision`, unpacked into `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "pinbot"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_once(tree: Path, argv: list[str], importtime: bool = False) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PINBOT_CACHE_DIR": tempfile.mkdtemp()}
    for name in ("CI", "GITHUB_ACTIONS", "NO_COLOR"):
        env.pop(name, None)
    flags = ["-X", "importtime"] if importtime else []
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *flags, "-m", "pinbot", *argv],
        capture_output=True, text=True, env=env, cwd=tree, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"pinbot {' '.join(argv)} exited {done.returncode}: {done.stderr}")
    return elapsed, done.stderr


def modules(stderr: str) -> set[str]:
    """Every module a run imported, from -X importtime."""
    return {
        line.split("|")[2].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and line.split("|")[1].strip().isdigit()
    }


def import_profile(stderr: str) -> tuple[float, bool]:
    """(milliseconds spent importing, whether pinbot.live was imported) from -X importtime:
    the cumulative times of the top-level imports (a nested import is indented under its own)."""
    total_us = 0
    live = False
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        _, cumulative, raw_name = line.split("|")
        if not cumulative.strip().isdigit():
            continue  # the header line
        live = live or raw_name.strip() == "pinbot.live"
        if not raw_name.startswith("  "):
            total_us += int(cumulative)
    return total_us / 1000, live


def measure(tree: Path, argv: list[str], repeat: int) -> tuple[float, float, bool, set[str]]:
    walls = [run_once(tree, argv)[0] for _ in range(repeat)]
    profiles = [run_once(tree, argv, importtime=True)[1] for _ in range(repeat)]
    imports = [import_profile(text) for text in profiles]
    return (
        statistics.median(walls) * 1000,
        statistics.median(ms for ms, _ in imports),
        any(live for _, live in imports),
        modules(profiles[0]),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per tree (default: 15)")
    parser.add_argument("--before", metavar="REV", help="also measure pinbot as of this revision")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pinbot-startup-") as scratch:
        image, sdk = world(Path(scratch))
        argv = ["--json", "scan", "--image", image, "--sdk", sdk, "--no-cache"]
        trees = [("this tree", ROOT)]
        if args.before:
            before = Path(scratch) / "before"
            before.mkdir()
            trees.insert(0, (args.before, tree_at(args.before, before)))
        print(f"pinbot --json scan, an OCI layout of 5 releases; median of {args.repeat} runs")
        print(f"{'tree':<12} {'wall ms':>8} {'imports ms':>11} {'modules':>8}  live module loaded")
        loaded: list[set[str]] = []
        for name, tree in trees:
            wall, imports, live, names = measure(tree, argv, args.repeat)
            loaded.append(names)
            print(
                f"{name[:12]:<12} {wall:>8.0f} {imports:>11.0f} {len(names):>8}  "
                f"{'yes' if live else 'no'}"
            )
        if len(loaded) == 2:
            added, gone = sorted(loaded[1] - loaded[0]), sorted(loaded[0] - loaded[1])
            print(f"modules this tree imports that {args.before} did not: {added or 'none'}")
            print(f"modules {args.before} imported that this tree does not: {gone or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
