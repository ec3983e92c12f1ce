"""pinbot gate, cold (empty verdict cache) against warm (the same cache), as a pipeline runs it.

A local world: a Distribution registry on loopback holding an agent-server repository, an SDK
clone that matches it, and OpenHands + deploy repositories on disk after a real `pinbot cut
--push`. Each gate is a fresh `python -m pinbot gate` process (start-up included) reading the
repositories in place. Measured on loopback and through a proxy that adds a delay to every
round trip (a registry across the internet); the proxy counts registry requests.

    python benchmarks/gate_warm_vs_cold.py [--repeat 7] [--delay-ms 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# The test kit (testing/, at the root of the checkout) is not installed: import it from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinbot.demo import repos
from pinbot.demo.builds import Build, World, publish
from pinbot.demo.registry import RegistryWriter
from pinbot.demo.services import registry_server
from testing.proxy import LatencyProxy

IMAGE = "ghcr.io/bench/agent-server"
REPOSITORY = "bench/agent-server"
TAG = "1.27.0-python"
WARM_LIMIT = 2.0  # seconds: the acceptance bound for a warm gate


@dataclass
class Setup:
    world: World
    openhands: repos.OpenHandsRepo
    deploy: repos.DeployRepo
    deploy_branch: str


@dataclass
class Run:
    seconds: float
    requests: int
    verdict: str


def build(root: Path, address: str) -> Setup:
    builds = [Build("1.25.0"), Build("1.26.0"), Build("1.27.0", routes=True), Build("1.28.0")]
    world = publish(RegistryWriter(address, REPOSITORY), root / "sdk", builds)
    openhands = repos.openhands_repo(root / "remotes", image=IMAGE)
    deploy = repos.deploy_repo(root / "remotes", openhands.main)
    argv = ["cut", "--tag", TAG, "--push", "--openhands", str(openhands.remote),
            "--openhands-branch", openhands.branch, "--deploy", str(deploy.remote),
            "--image", IMAGE, "--registry-url", address, "--sdk", str(world.sdk),
            "--require-commit", openhands.backend_commit]  # fmt: skip
    pinbot(argv, root / "cut-cache")
    return Setup(world, openhands, deploy, f"pinbot/agent-server-{TAG}")


def pinbot(argv: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PINBOT_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-m", "pinbot", *argv], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"pinbot {argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def gate_argv(setup: Setup, address: str) -> list[str]:
    return ["gate", "--deploy", f"{setup.deploy.remote}@{setup.deploy_branch}",
            "--openhands", str(setup.openhands.remote), "--image", IMAGE,
            "--registry-url", address, "--sdk", str(setup.world.sdk),
            "--require-commit", setup.openhands.backend_commit]  # fmt: skip


def timed(proxy: LatencyProxy, setup: Setup, cache: Path) -> Run:
    proxy.reset()
    start = time.perf_counter()
    done = pinbot(gate_argv(setup, proxy.address), cache)
    seconds = time.perf_counter() - start
    return Run(seconds, proxy.total, done.stdout.strip().splitlines()[-1].split(":")[0])


def measure(proxy: LatencyProxy, setup: Setup, root: Path, repeat: int) -> tuple[Run, Run]:
    cold, warm = [], []
    for n in range(repeat):
        cold.append(timed(proxy, setup, root / f"cold-{proxy.delay}-{n}"))  # a new, empty cache
        warm.append(timed(proxy, setup, root / f"cold-{proxy.delay}-{n}"))  # the same, now warm
    return median(cold), median(warm)


def median(runs: list[Run]) -> Run:
    middle = statistics.median_low(r.seconds for r in runs)
    return next(r for r in runs if r.seconds == middle)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs each; medians are reported")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    for tool in ("docker-registry", "git"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: run ./scripts/dev setup")
    with tempfile.TemporaryDirectory(prefix="pinbot-bench-gate-") as tmp:
        root = Path(tmp)
        with registry_server(root / "registry") as address:
            print("building the world and cutting the pin ...", file=sys.stderr)
            setup = build(root, address)
            print(f"\n## pinbot gate, cold vs warm (median of {args.repeat} processes each)\n")
            print("| registry | cold s | warm s | cold/warm | requests cold / warm | verdicts |")
            print("|---|---|---|---|---|---|")
            worst_warm = 0.0
            for delay in (0.0, args.delay_ms / 1000):
                with LatencyProxy(address, delay) as proxy:
                    cold, warm = measure(proxy, setup, root, args.repeat)
                label = "loopback" if delay == 0 else f"+{delay * 1000:.0f} ms per round trip"
                print(
                    f"| {label} | {cold.seconds:.3f} | {warm.seconds:.3f} | "
                    f"{cold.seconds / warm.seconds:.2f}x | {cold.requests} / {warm.requests} | "
                    f"{cold.verdict} / {warm.verdict} |"
                )
                worst_warm = max(worst_warm, warm.seconds)
    verdict = "under" if worst_warm < WARM_LIMIT else "OVER"
    print(f"\nwarm gate: {worst_warm:.3f} s at worst, {verdict} the {WARM_LIMIT:.0f} s bound")
    return 0 if worst_warm < WARM_LIMIT else 1


if __name__ == "__main__":
    raise SystemExit(main())
