"""pinbot scan against the skopeo loops a release engineer would otherwise write.

Same registry world, same run: a Distribution registry on loopback holding ghcr-like
repositories, behind a ghcr-like front (testing's GhcrLike) that lists 10,000 tags per
repository 100 at a time with relative `Link`s (honouring a larger `n`) and adds `--delay-ms` to
every round trip and every new connection. `twenty` has its first capable release 21 releases
down (cold scan); `today` has no capable release newer than the pin (warm scan, today's
reality); `sweep` has the capability at one release, chosen per run, 1 to 60 releases down.

Yardsticks (docs/benchmarks.md): the smarter loop (`skopeo list-tags`, then per release newest first
`skopeo inspect --config`, and `--raw` only for a tag whose route file is present) and, as a
second column, the loop that runs `--raw` before `--config` for every tag. The floor time is
interpreter start-up (`python -c pass`, measured in the same run) plus the floor's round trips
at the delay: one new connection, the tag-list pages in a row, then every candidate at once
(index, platform manifest, config in a row: three) cold, or one `HEAD` each warm. Exits 1 when
the tools ever choose different tags.

    python benchmarks/scan_vs_skopeo.py [--delay-ms 20] [--repeat 5] [--depths 1-60]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The test kit (testing/, at the root of the checkout) is not installed: import it from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinbot.config import ROUTE_FILE
from pinbot.demo.builds import Build, World, publish
from pinbot.demo.registry import ImageSpec, RegistryWriter
from pinbot.demo.sdk import FIXED_ENV
from pinbot.demo.services import registry_server
from pinbot.model import ImageName
from pinbot.registry import PAGE_SIZE, RegistrySource
from testing.ghcr import GhcrLike

PIN = "1.26.0-python"
ANSWER = "1.63.0"  # the one capable release in `twenty`: 21 releases down from 1.69.2
LISTED = 10_000  # tags each repository lists, as ghcr's agent-server repository does and more
FLOOR_PAGES = math.ceil(LISTED / PAGE_SIZE)
_LOOP_HEAD = r"""
set -u
reg=$1 repo=$2 sdk=$3 pin=$4
skopeo list-tags --tls-verify=false "docker://$reg/$repo" \
  | grep -oE '"[0-9]+\.[0-9]+\.[0-9]+-python"' | tr -d '"' | sort -rV > tags.txt
routes() { git -C "$sdk" cat-file -e "$1:ROUTE_FILE" 2>/dev/null; }
build_sha() {
  skopeo inspect --tls-verify=false --config "docker://$reg/$repo:$1" \
    | grep -oE 'OPENHANDS_BUILD_GIT_SHA=[0-9a-f]{40}' | cut -d= -f2
}
"""
SMART_LOOP = (
    _LOOP_HEAD
    + r"""
while read -r tag; do
  sha=$(build_sha "$tag")
  if [ -n "$sha" ] && routes "$sha"; then
    case "$(skopeo inspect --tls-verify=false --raw "docker://$reg/$repo:$tag")" in
      *'"arm64"'*) echo "$tag"; exit 0 ;;
    esac
  fi
  [ "$tag" = "$pin" ] && break
done < tags.txt
exit 1
"""
)
OLD_LOOP = (
    _LOOP_HEAD
    + r"""
while read -r tag; do
  raw=$(skopeo inspect --tls-verify=false --raw "docker://$reg/$repo:$tag")
  case "$raw" in *'"arm64"'*) ;; *) [ "$tag" = "$pin" ] && break; continue ;; esac
  sha=$(build_sha "$tag")
  if [ -n "$sha" ] && routes "$sha"; then echo "$tag"; exit 0; fi
  [ "$tag" = "$pin" ] && break
done < tags.txt
exit 1
"""
)


def releases(minors: range, routes_at: str | None = None) -> list[Build]:
    return [
        Build(version=f"1.{m}.{p}", routes=f"1.{m}.{p}" == routes_at)
        for m in minors
        for p in range(3)
    ]


def builds(answer: str | None) -> list[Build]:
    """Oldest first: 210 releases (3 variants, per-arch tags) and 150 main builds."""
    older, newer = releases(range(0, 26)), releases(range(26, 70), routes_at=answer)
    return [*older[:40], *[Build() for _ in range(150)], *older[40:], *newer]


@dataclass
class Run:
    seconds: float
    requests: int
    answer: str


@dataclass
class Worlds:
    twenty: World
    today: World
    sweep: Sweep


@dataclass
class Sweep:
    """Releases 1.0.0 .. 1.23.2 whose SDK commits each carry a file of their own
    (`depth/VERSION`, gone in the next commit): with `route_file` set to one of them, that
    release is the only capable one, so one world serves every answer depth."""

    sdk: Path
    versions: list[str]  # newest first

    @property
    def tags(self) -> list[str]:
        return [f"{v}-python{arch}" for v in self.versions for arch in ("", "-amd64", "-arm64")]

    def route_file(self, depth: int) -> str:
        return f"depth/{self.versions[depth - 1]}"


def publish_sweep(address: str, repository: str, root: Path) -> Sweep:
    versions = [f"1.{m}.{p}" for m in range(24) for p in range(3)]  # oldest first
    sdk = root / "sdk-sweep"
    shas = _marker_sdk(sdk, versions)
    writer = RegistryWriter(address, repository)
    for number, (version, sha) in enumerate(zip(versions, shas, strict=True)):
        created = f"2026-01-{1 + number // 24:02d}T{number % 24:02d}:00:00Z"
        writer.publish(ImageSpec([f"{version}-python"], sha, created))
    return Sweep(sdk, versions[::-1])


def _marker_sdk(path: Path, versions: list[str]) -> list[str]:
    env = {**os.environ, **FIXED_ENV}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    stream = bytearray()
    for number, version in enumerate(versions):
        message = f"release {version}\n".encode()
        stream += f"commit refs/heads/main\nmark :{number + 1}\n".encode()
        stream += f"committer sdk <sdk@example.invalid> {1_700_000_000 + number} +0000\n".encode()
        stream += f"data {len(message)}\n".encode() + message
        if number:
            stream += f"from :{number}\nD depth/{versions[number - 1]}\n".encode()
        stream += f"M 100644 inline depth/{version}\ndata 0\n\n".encode()
    marks = path / "marks"
    subprocess.run(
        ["git", "fast-import", "--quiet", f"--export-marks={marks}"],
        cwd=path,
        input=bytes(stream),
        check=True,
        env=env,
    )
    found = dict(line.split() for line in marks.read_text().splitlines())
    marks.unlink()
    return [found[f":{n + 1}"] for n in range(len(versions))]


def padding(world_tags: list[str]) -> dict[str, str]:
    """Branch-build tags up to LISTED, each naming an existing image (ghcr's list is mostly
    such builds): the listing is ghcr's size and every listed tag resolves."""
    target = world_tags[0]
    missing = max(0, LISTED - len(set(world_tags)))
    return {f"pr-{n:05d}-python": target for n in range(missing)}


def time_pinbot(
    proxy: GhcrLike, repo: str, sdk: Path, cache: Path, current: str | None, config: Path | None
) -> Run:
    argv = [sys.executable, "-m", "pinbot"] + (["--config", str(config)] if config else [])
    argv += ["scan", "--image", f"{proxy.address}/{repo}", "--sdk", str(sdk)]
    argv += ["--current", current] if current else []
    env = {**os.environ, "PINBOT_CACHE_DIR": str(cache)}
    return _timed(proxy, argv, env)


def time_loop(loop: str, proxy: GhcrLike, repo: str, world: World, workdir: Path, pin: str) -> Run:
    script = loop.replace("ROUTE_FILE", ROUTE_FILE)
    argv = ["bash", "-c", script, "loop", proxy.address, repo, str(world.sdk), pin]
    return _timed(proxy, argv, {**os.environ}, cwd=workdir)


def _timed(proxy: GhcrLike, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> Run:
    proxy.reset()
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return Run(seconds, proxy.total, _answer(done.stdout))


def _answer(stdout: str) -> str:
    """The tag a run chose, from pinbot's `selected: REPO:TAG@DIGEST` or the loop's bare tag."""
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    if match := re.search(r":([^:@/]+)@sha256:", last):
        return match.group(1)
    return "none" if not last or last.startswith("nothing qualifies") else last


def start_up() -> float:
    """Interpreter start-up: what no Python tool can avoid."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def listing(proxy: GhcrLike, repo: str) -> tuple[Run, Run]:
    """The tag list alone: pinbot's (large pages) and `skopeo list-tags` (ghcr's 100)."""
    source = RegistrySource(ImageName.parse(f"{proxy.address}/{repo}"), pool=1)
    proxy.reset()
    start = time.perf_counter()
    tags = source.tags()
    ours = Run(time.perf_counter() - start, proxy.total, str(len(tags)))
    argv = ["skopeo", "list-tags", "--tls-verify=false", f"docker://{proxy.address}/{repo}"]
    theirs = _timed(proxy, argv, {**os.environ})
    return ours, theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per measurement; the median is reported"
    )
    parser.add_argument("--depths", default="1-60", help="answer depths for the request sweep")
    parser.add_argument("--loopback", action="store_true", help="also measure with no delay")
    parser.add_argument("--no-old-loop", action="store_true", help="skip the second yardstick")
    args = parser.parse_args()
    first, _, last = args.depths.partition("-")
    depths = range(int(first), int(last or first) + 1)
    for tool in ("docker-registry", "skopeo", "git"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: run ./scripts/dev setup")
    with tempfile.TemporaryDirectory(prefix="pinbot-bench-") as tmp:
        root = Path(tmp)
        with registry_server(root / "registry") as address:
            print("publishing the world ...", file=sys.stderr)
            worlds = Worlds(
                twenty=publish(
                    RegistryWriter(address, "bench/twenty"), root / "sdk-twenty", builds(ANSWER)
                ),
                today=publish(
                    RegistryWriter(address, "bench/today"), root / "sdk-today", builds(None)
                ),
                sweep=publish_sweep(address, "bench/sweep", root),
            )
            extra = {
                "bench/twenty": padding(worlds.twenty.tags),
                "bench/today": padding(worlds.today.tags),
                "bench/sweep": padding(worlds.sweep.tags),
            }
            agreed = True
            delays = ([0.0] if args.loopback else []) + [args.delay_ms / 1000]
            for delay in delays:
                with GhcrLike(address, delay, extra) as proxy:
                    agreed &= report(proxy, root, worlds, args.repeat, not args.no_old_loop)
                    sweep(proxy, root, worlds.sweep, depths)
    if not agreed:
        print("pinbot and a skopeo loop chose different tags: the timings compare nothing")
    return 0 if agreed else 1


@dataclass
class Case:
    name: str
    pinbot: list[Run]
    smart: list[Run]
    old: list[Run]
    floor_requests: int
    chain: int  # requests in a row per candidate at the floor: 3 cold, 1 (the HEAD) warm
    answer: str


def report(proxy: GhcrLike, root: Path, worlds: Worlds, repeat: int, old_loop: bool) -> bool:
    """Print one table; True when every tool chose the expected tag in every run."""
    newer = 3 * (70 - 26)  # releases 1.26.0 .. 1.69.2: every one newer than the pin, and the pin
    cold = Case("cold, answer 21 down", [], [], [], FLOOR_PAGES + 3 * 21, 3, f"{ANSWER}-python")
    warm = Case(f"warm, none ({newer} examined)", [], [], [], FLOOR_PAGES + newer, 1, "none")
    starts: list[float] = []
    lists: list[tuple[Run, Run]] = []
    for n in range(repeat):
        starts.append(start_up())
        cache = root / f"cache-{proxy.delay}-{n}"
        cold.pinbot.append(time_pinbot(proxy, "bench/twenty", worlds.twenty.sdk, cache, None, None))
        warm_cache = root / f"warm-{proxy.delay}-{n}"
        time_pinbot(proxy, "bench/today", worlds.today.sdk, warm_cache, PIN, None)  # fills it
        warm.pinbot.append(
            time_pinbot(proxy, "bench/today", worlds.today.sdk, warm_cache, PIN, None)
        )
        cold.smart.append(time_loop(SMART_LOOP, proxy, "bench/twenty", worlds.twenty, root, "none"))
        warm.smart.append(time_loop(SMART_LOOP, proxy, "bench/today", worlds.today, root, PIN))
        if old_loop:
            cold.old.append(time_loop(OLD_LOOP, proxy, "bench/twenty", worlds.twenty, root, "none"))
            warm.old.append(time_loop(OLD_LOOP, proxy, "bench/today", worlds.today, root, PIN))
        lists.append(listing(proxy, "bench/today"))
    start = statistics.median(starts)
    label = "loopback" if proxy.delay == 0 else f"+{proxy.delay * 1000:.0f} ms per round trip"
    print(f"\n## {label} (median of {repeat}; interpreter start-up {start:.3f} s)\n")
    print(
        "| scan | pinbot | floor | pinbot - floor | smarter loop | speed-up | old loop | speed-up |"
        " pinbot requests (x floor) | most in a run | floor | smarter loop requests | answers |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case in (cold, warm):
        # One new connection, the pages in a row, then every candidate at once.
        row(case, start + (1 + FLOOR_PAGES + case.chain) * proxy.delay)
    ours = median(r for r, _ in lists)
    theirs = median(t for _, t in lists)
    print(
        f"\nTag list ({ours.answer} tags): pinbot {ours.requests} request(s) (n={PAGE_SIZE}), "
        f"{ours.seconds:.3f} s in-process; `skopeo list-tags` {theirs.requests} requests "
        f"(ghcr's 100 a page), {theirs.seconds:.2f} s"
    )
    sys.stdout.flush()
    return all(
        {r.answer for r in case.pinbot + case.smart + case.old} == {case.answer}
        for case in (cold, warm)
    )


def median(runs: Iterable[Run]) -> Run:
    ordered = sorted(runs, key=lambda r: r.seconds)
    return ordered[len(ordered) // 2]


def row(case: Case, floor_seconds: float) -> None:
    """The median run of each tool, and the most requests any pinbot run made: the work done
    past the answer (candidates already in flight) varies from run to run."""
    ours, smart = median(case.pinbot), median(case.smart)
    old = f"{median(case.old).seconds:.2f} s" if case.old else "-"
    old_x = f"{median(case.old).seconds / ours.seconds:.1f}x" if case.old else "-"
    most = max(r.requests for r in case.pinbot)
    floor = case.floor_requests
    answers = " / ".join(sorted({r.answer for r in case.pinbot + case.smart + case.old}))
    print(
        f"| {case.name} | {ours.seconds:.3f} s | {floor_seconds:.3f} s | "
        f"+{ours.seconds - floor_seconds:.3f} s ({ours.seconds / floor_seconds:.2f}x) | "
        f"{smart.seconds:.2f} s | **{smart.seconds / ours.seconds:.1f}x** | {old} | {old_x} | "
        f"{ours.requests} ({ours.requests / floor:.2f}x) | {most} ({most / floor:.2f}x) | "
        f"{floor} | {smart.requests} | {answers} |"
    )


def sweep(proxy: GhcrLike, root: Path, world: Sweep, depths: range) -> None:
    """Cold scans with the answer at each depth: requests against the floor, and the time."""
    ratios: list[tuple[float, int, int, int, float]] = []
    for depth in depths:
        config = root / f"sweep-{depth}.toml"
        config.write_text(f'route_file = "{world.route_file(depth)}"\n')
        cache = root / f"sweep-cache-{proxy.delay}-{depth}"
        run = time_pinbot(proxy, "bench/sweep", world.sdk, cache, None, config)
        expected = f"{world.versions[depth - 1]}-python"
        if run.answer != expected:
            raise SystemExit(f"sweep depth {depth}: pinbot chose {run.answer}, not {expected}")
        floor = FLOOR_PAGES + 3 * depth
        ratios.append((run.requests / floor, depth, run.requests, floor, run.seconds))
    mean = statistics.mean(r for r, *_ in ratios)
    worst = max(ratios)
    times = {depth: seconds for _, depth, _, _, seconds in ratios}
    at = ", ".join(f"{d}: {times[d]:.2f} s" for d in (1, 10, 21, 40, 60) if d in times)
    print(
        f"\nCold requests over answer depths {depths.start}-{depths.stop - 1}: mean "
        f"{mean:.3f}x the floor, worst {worst[0]:.2f}x (depth {worst[1]}: {worst[2]} requests, "
        f"floor {worst[3]}); one run each, times {at}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
