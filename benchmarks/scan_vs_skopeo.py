"""pinbot scan against the skopeo loop a release engineer would otherwise write.

Same registry world, same run: a Distribution registry on loopback holding two ghcr-like
repositories of over 2,000 tags each. `twenty` has its first capable release twenty releases
down (cold scan); `today` has no capable release newer than the pin (warm scan, today's reality).
Both tools run twice: on loopback, and through a proxy that adds 20 ms to every round trip and
to every new connection. The proxy counts requests; the floor is DESIGN.md §6's.

    python benchmarks/scan_vs_skopeo.py [--delay-ms 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# The test kit (testing/, at the root of the checkout) is not installed: import it from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinbot.config import ROUTE_FILE
from pinbot.demo.builds import Build, World, publish
from pinbot.demo.registry import RegistryWriter
from pinbot.demo.services import registry_server
from testing.proxy import LatencyProxy

PIN = "1.26.0-python"
ANSWER = "1.63.0"  # the one capable release in `twenty`: 21 releases down from 1.69.2
SKOPEO_LOOP = r"""
set -u
reg=$1 repo=$2 sdk=$3 pin=$4
skopeo list-tags --tls-verify=false "docker://$reg/$repo" \
  | grep -oE '"[0-9]+\.[0-9]+\.[0-9]+-python"' | tr -d '"' | sort -rV > tags.txt
while read -r tag; do
  raw=$(skopeo inspect --tls-verify=false --raw "docker://$reg/$repo:$tag")
  case "$raw" in *'"arm64"'*) ;; *) [ "$tag" = "$pin" ] && break; continue ;; esac
  sha=$(skopeo inspect --tls-verify=false --config "docker://$reg/$repo:$tag" \
        | grep -oE 'OPENHANDS_BUILD_GIT_SHA=[0-9a-f]{40}' | cut -d= -f2)
  if [ -n "$sha" ] && git -C "$sdk" cat-file -e "$sha:ROUTE_FILE" 2>/dev/null; then
    echo "$tag"; exit 0
  fi
  [ "$tag" = "$pin" ] && break
done < tags.txt
exit 1
""".replace("ROUTE_FILE", ROUTE_FILE)


def releases(minors: range, routes_at: str | None = None) -> list[Build]:
    return [
        Build(version=f"1.{m}.{p}", routes=f"1.{m}.{p}" == routes_at)
        for m in minors
        for p in range(3)
    ]


def builds(answer: str | None) -> list[Build]:
    """Oldest first: 130 releases (3 variants, per-arch tags) and 150 main builds: > 2,000 tags."""
    older, newer = releases(range(0, 26)), releases(range(26, 70), routes_at=answer)
    return [*older[:40], *[Build() for _ in range(150)], *older[40:], *newer]


@dataclass
class Run:
    seconds: float
    requests: int
    answer: str


def time_pinbot(
    proxy: LatencyProxy, repo: str, world: World, cache: Path, current: str | None
) -> Run:
    argv = [
        sys.executable,
        "-m",
        "pinbot",
        "scan",
        "--image",
        f"{proxy.address}/{repo}",
        "--sdk",
        str(world.sdk),
    ] + (["--current", current] if current else [])
    env = {**os.environ, "PINBOT_CACHE_DIR": str(cache)}
    return _timed(proxy, argv, env)


def time_skopeo(proxy: LatencyProxy, repo: str, world: World, workdir: Path, pin: str) -> Run:
    argv = ["bash", "-c", SKOPEO_LOOP, "loop", proxy.address, repo, str(world.sdk), pin]
    return _timed(proxy, argv, {**os.environ}, cwd=workdir)


def _timed(
    proxy: LatencyProxy, argv: list[str], env: dict[str, str], cwd: Path | None = None
) -> Run:
    proxy.reset()
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    answer = _answer(done.stdout)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return Run(seconds, proxy.total, answer)


def _answer(stdout: str) -> str:
    """The tag a run chose, from pinbot's `selected: REPO:TAG@DIGEST` or the loop's bare tag."""
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    if match := re.search(r":([^:@/]+)@sha256:", last):
        return match.group(1)
    return "none" if not last or last.startswith("nothing qualifies") else last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; the median is reported"
    )
    args = parser.parse_args()
    for tool in ("docker-registry", "skopeo", "git"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: run ./scripts/dev setup")
    with tempfile.TemporaryDirectory(prefix="pinbot-bench-") as tmp:
        root = Path(tmp)
        with registry_server(root / "registry") as address:
            print("publishing the world ...", file=sys.stderr)
            twenty = publish(
                RegistryWriter(address, "bench/twenty"), root / "sdk-twenty", builds(ANSWER)
            )
            today = publish(
                RegistryWriter(address, "bench/today"), root / "sdk-today", builds(None)
            )
            print(f"world: {len(twenty.tags)} + {len(today.tags)} tags", file=sys.stderr)
            agreed = True
            for delay in (0.0, args.delay_ms / 1000):
                with LatencyProxy(address, delay) as proxy:
                    agreed &= report(proxy, root, twenty, today, args.repeat)
    if not agreed:
        print("pinbot and the skopeo loop chose different tags: the timings compare nothing")
    return 0 if agreed else 1


def report(proxy: LatencyProxy, root: Path, twenty: World, today: World, repeat: int) -> bool:
    """Print one table; True when both tools chose the same tags in every run."""

    cold, warm, yard_cold, yard_warm = [], [], [], []
    for n in range(repeat):
        cache = root / f"cache-{proxy.delay}-{n}"
        cold.append(time_pinbot(proxy, "bench/twenty", twenty, cache, None))
        warm_cache = root / f"warm-{proxy.delay}-{n}"
        time_pinbot(proxy, "bench/today", today, warm_cache, PIN)  # fills the cache
        warm.append(time_pinbot(proxy, "bench/today", today, warm_cache, PIN))
        yard_cold.append(time_skopeo(proxy, "bench/twenty", twenty, root, "none"))
        yard_warm.append(time_skopeo(proxy, "bench/today", today, root, PIN))
    newer = 3 * (70 - 26)  # releases 1.26.0 .. 1.69.2: every one newer than the pin, and the pin
    cold_floor = 1 + 3 * 21  # one tag page; index + platform manifest + config per candidate
    warm_floor = 1 + newer  # one tag page; one HEAD per examined candidate
    label = "loopback" if proxy.delay == 0 else f"+{proxy.delay * 1000:.0f} ms per round trip"
    print(f"\n## {label} (median of {repeat})")
    print(
        "| scan | pinbot s | skopeo loop s | speed-up | pinbot requests (x floor) |"
        " most in a run | floor | skopeo requests | answers |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    row("cold, answer 21 releases down", cold, yard_cold, cold_floor)
    row(f"warm, nothing qualifies ({newer} examined)", warm, yard_warm, warm_floor)
    sys.stdout.flush()
    chosen = {r.answer for r in cold + yard_cold}, {r.answer for r in warm + yard_warm}
    return chosen == ({f"{ANSWER}-python"}, {"none"})


def median(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]


def row(name: str, ours_runs: list[Run], theirs_runs: list[Run], floor: int) -> None:
    """The median run of each tool, and the most requests any pinbot run made: the work done
    past the answer (candidates already in flight) varies from run to run."""
    ours, theirs = median(ours_runs), median(theirs_runs)
    most = max(r.requests for r in ours_runs)
    print(
        f"| {name} | {ours.seconds:.2f} | {theirs.seconds:.2f} | "
        f"{theirs.seconds / ours.seconds:.1f}x | {ours.requests} ({ours.requests / floor:.2f}x) "
        f"| {most} ({most / floor:.2f}x) | {floor} | {theirs.requests} | "
        f"{ours.answer} / {theirs.answer} |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
