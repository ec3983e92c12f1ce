"""The real OpenHands poetry.lock (1.25 MB, 647 packages, 21,561 strings) read by pinbot.

1. In process, on the same bytes in the same run: pinbot's read of the lock's pins (`tomllib`
   for the meaning, its lexer for where each value is written) against the obvious alternative,
   `tomllib.loads` alone, which knows no line numbers. The ratio is what placing every value
   costs on top of parsing.
2. Whole processes (start-up included), on main as it was (d6fab190, the real fixture in
   tests/fixtures/openhands): `pinbot gate` cold (empty verdict cache) and warm, and
   `pinbot scan --openhands`, against a Distribution registry on loopback holding the real
   build tags.

    python benchmarks/real_lock.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

# The test kit (testing/, at the root of the checkout) is not installed: import it from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinbot.demo import repos
from pinbot.demo.services import registry_server
from pinbot.pins import lock
from pinbot.pins.kinds import PACKAGES
from testing import openhands_history as history

WARM_LIMIT, COLD_LIMIT = 2.0, 10.0  # seconds (DESIGN.md §6, issue 22)


def median_seconds(step: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def in_process(repeat: int) -> None:
    text = history.commit("d6fab190").files()["poetry.lock"].decode()
    ours = median_seconds(lambda: lock.read(text, "poetry.lock", PACKAGES), repeat)
    plain = median_seconds(lambda: tomllib.loads(text), repeat)
    print(f"\n## reading the real poetry.lock ({len(text) / 1e6:.2f} MB), median of {repeat}\n")
    print("| read | seconds |\n|---|---|")
    print(f"| pinbot: every locked pin with its line (`pins.lock.read`) | {ours:.3f} |")
    print(f"| `tomllib.loads` alone (no positions) | {plain:.3f} |")
    print(f"\npinbot / tomllib: {ours / plain:.2f}x")


def pinbot(argv: list[str], cache: Path, cwd: Path) -> tuple[float, int]:
    env = {**os.environ, "PINBOT_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pinbot", *argv], env=env, cwd=cwd, capture_output=True, text=True
    )
    return time.perf_counter() - start, done.returncode


def processes(root: Path, address: str, repeat: int) -> bool:
    history.publish_images(address)
    sdk = history.sdk_repo(root / "sdk.git")
    (root / "pinbot.toml").write_text(history.CONFIG.format(index="https://pypi.org/simple/"))
    remote = history.openhands_repo(root / "remotes", history.commit("d5b2d2eb"))
    flags = ["--image", history.IMAGE, "--registry-url", address, "--sdk", str(sdk)]
    # #11715 as pinbot cuts it, then main (d6fab190, with its real lock) on top.
    cut = ["cut", "--tag", "4e2ecd8-python", "--openhands", remote.url, "--openhands-branch",
           "main", "--push", *flags]  # fmt: skip
    if pinbot(cut, root / "cut-cache", root)[1] != 0:
        raise SystemExit("the cut of 4e2ecd8-python failed")
    main = history.commit("d6fab190")
    head = "pinbot/main/agent-server-4e2ecd8-python"
    tip = repos.add_commit(remote.remote, head, main.files(), main.subject)
    deploy = repos.deploy_repo(root / "deploy", tip)
    gate = ["--config", "pinbot.toml", "gate", "--deploy", f"{deploy.url}@main",
            "--openhands", remote.url, *flags]  # fmt: skip
    scan = ["scan", "--openhands", remote.url, "--openhands-branch", head, *flags]
    cold, warm, scans, codes = [], [], [], set()
    for n in range(repeat):
        seconds, code = pinbot(gate, root / f"cache-{n}", root)
        cold.append(seconds)
        seconds, warm_code = pinbot(gate, root / f"cache-{n}", root)
        warm.append(seconds)
        scans.append(pinbot(scan, root / f"cache-{n}", root)[0])
        codes |= {code, warm_code}
    rows = [("gate, cold", cold, COLD_LIMIT), ("gate, warm", warm, WARM_LIMIT),
            ("scan --openhands, warm", scans, WARM_LIMIT)]  # fmt: skip
    print(f"\n## pinbot on OpenHands main (d6fab190), median of {repeat} processes\n")
    print("| run | seconds | bound |\n|---|---|---|")
    ok = codes == {0}
    for name, times, limit in rows:
        value = statistics.median(times)
        ok = ok and value < limit
        print(f"| {name} | {value:.3f} | {limit:.0f} s |")
    print(f"\ngate exit codes: {sorted(codes)} (0: pass)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs each; medians are reported")
    args = parser.parse_args()
    in_process(args.repeat)
    with tempfile.TemporaryDirectory(prefix="pinbot-bench-lock-") as tmp:
        root = Path(tmp)
        with registry_server(root / "registry") as address:
            ok = processes(root, address, args.repeat)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
