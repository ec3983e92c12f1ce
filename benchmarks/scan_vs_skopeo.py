"""pinbot scan against its floor and against the skopeo loop, on ghcr-shaped worlds.

A Distribution registry on loopback holds the releases; a ghcr-like front (testing's GhcrLike)
lists them among branch-build tags up to the shape's tag count, a page at a time (ghcr's
`n` honoured, or pages of 100 whatever `n` asks), and adds `--delay-ms` to every round trip and
every new connection (TCP_NODELAY, many connections at once). Every release's SDK commit carries
a file of its own (`depth/VERSION`, gone in the next commit): with `route_file` set to one of
them, that release is the only capable one, so one world serves every answer depth, and
`depth/none` makes nothing qualify (every release examined: today's reality on ghcr).

The floor (docs/benchmarks.md) is start-up plus the fewest round trips the answer needs at pinbot's
concurrency limit: one new connection, the tag-list pages in a row, then the candidates in
rounds of `concurrency` (three requests in a row for an index: index, platform manifest,
config; two for a single manifest) cold, or in rounds of the HEAD window (one `HEAD` each)
warm. Start-up is pinbot's own, from its launch to its first connection (the proxy notes the
time), measured in every run: the floor is what pinbot's schedule could reach with the same
start-up on the same machine at the same moment. The interpreter's bare start-up (`python -c
pass`) is printed beside it. Source checks read a local SDK clone: no round trip.

The yardstick: the smarter loop a release engineer would write (`skopeo list-tags`, then per
release newest first `skopeo inspect --config`, and `--raw` only for a tag whose route file is
present) on the same world, in the same run. Exits 1 when the tools ever choose different tags.

    python benchmarks/scan_vs_skopeo.py [--shapes] [--delay-ms 20] [--repeat 3] [--depths 1-60]
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The test kit (testing/, at the root of the checkout) is not installed: import it from here.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinbot.config import Settings
from pinbot.demo.registry import ImageSpec, RegistryWriter
from pinbot.demo.sdk import FIXED_ENV
from pinbot.demo.services import registry_server
from pinbot.engine import HEAD_WIDTH
from pinbot.registry.transport import PAGE_SIZE
from testing.ghcr import GhcrLike

CONCURRENCY = Settings().concurrency
DEPTHS = (1, 5, 21, 60, None)  # None: nothing qualifies, every release is examined
SMART_LOOP = r"""
set -u
reg=$1 repo=$2 sdk=$3 route=$4 raw=$5
skopeo list-tags --tls-verify=false "docker://$reg/$repo" \
  | grep -oE '"[0-9]+\.[0-9]+\.[0-9]+-python"' | tr -d '"' | sort -rV > tags.txt
while read -r tag; do
  sha=$(skopeo inspect --tls-verify=false --config "docker://$reg/$repo:$tag" \
    | grep -oE 'OPENHANDS_BUILD_GIT_SHA=[0-9a-f]{40}' | cut -d= -f2)
  if [ -n "$sha" ] && git -C "$sdk" cat-file -e "$sha:$route" 2>/dev/null; then
    [ "$raw" = 0 ] && { echo "$tag"; exit 0; }
    case "$(skopeo inspect --tls-verify=false --raw "docker://$reg/$repo:$tag")" in
      *'"arm64"'*) echo "$tag"; exit 0 ;;
    esac
  fi
done < tags.txt
exit 1
"""


@dataclass(frozen=True)
class Shape:
    """A registry world: how many tags it lists, how many are releases of the variant (the
    candidates), whether a release is a multi-arch index, and the most tags a page holds."""

    listed: int
    releases: int
    index: bool = True
    page: int = PAGE_SIZE

    @property
    def name(self) -> str:
        kind = "indexes" if self.index else "single manifests"
        pages = "one page" if self.pages == 1 else f"pages of {self.page}"
        return f"{self.listed:,} tags, {self.releases} releases, {kind}, {pages}"

    @property
    def chain(self) -> int:
        """Requests in a row to examine one candidate cold."""
        return 3 if self.index else 2

    @property
    def pages(self) -> int:
        return math.ceil(self.listed / min(self.page, PAGE_SIZE))

    def examined(self, depth: int | None) -> int:
        return depth or self.releases

    def floor_rounds(self, depth: int | None, warm: bool) -> int:
        """Round trips at the floor: a new connection, the pages, the candidates' rounds."""
        examined = self.examined(depth)
        if warm:
            return 1 + self.pages + math.ceil(examined / HEAD_WIDTH)
        return 1 + self.pages + self.chain * math.ceil(examined / CONCURRENCY)

    def floor_requests(self, depth: int | None, warm: bool) -> int:
        return self.pages + self.examined(depth) * (1 if warm else self.chain)


HEADLINE = Shape(1_800, 60)  # the world of issue 25: ghcr's list, 60 releases newer than a pin
SHAPES = (
    Shape(100, 30),
    HEADLINE,
    Shape(1_800, 60, index=False),
    Shape(1_800, 60, page=100),
    Shape(10_000, 60),
    Shape(10_000, 60, page=100),
)
QUICK = (Shape(100, 6),)


@dataclass
class World:
    """A published repository whose one capable release is chosen per run by `route_file`."""

    repository: str
    sdk: Path
    versions: list[str]  # newest first
    tags: list[str]  # every tag upstream has

    def route_file(self, depth: int | None) -> str:
        return f"depth/{self.versions[depth - 1]}" if depth else "depth/none"

    def answer(self, depth: int | None) -> str:
        return f"{self.versions[depth - 1]}-python" if depth else "none"


def publish_world(address: str, root: Path, releases: int, index: bool) -> World:
    repository = f"bench/r{releases}-{'index' if index else 'single'}"
    versions = [f"1.{n // 3}.{n % 3}" for n in range(releases)]  # oldest first
    sdk = root / repository.replace("/", "-")
    shas = _marker_sdk(sdk, versions)
    writer = RegistryWriter(address, repository)
    tags: list[str] = []
    for number, (version, sha) in enumerate(zip(versions, shas, strict=True)):
        created = f"2026-01-{1 + number // 24:02d}T{number % 24:02d}:00:00Z"
        spec = ImageSpec([f"{version}-python"], sha, created, arch_tags=index)
        (writer.publish if index else writer.publish_manifest)(spec)
        tags += [spec.tags[0], *([f"{spec.tags[0]}-amd64", f"{spec.tags[0]}-arm64"] * index)]
    return World(repository, sdk, versions[::-1], tags)


def _marker_sdk(path: Path, versions: list[str]) -> list[str]:
    """An SDK history with one commit per release, each adding `depth/VERSION` and removing
    the previous one; returns the commits, oldest first."""
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
        cwd=path, input=bytes(stream), check=True, env=env,
    )  # fmt: skip
    found = dict(line.split() for line in marks.read_text().splitlines())
    marks.unlink()
    return [found[f":{n + 1}"] for n in range(len(versions))]


def padding(world: World, listed: int) -> dict[str, str]:
    """Branch-build tags up to `listed`, each naming an existing image (ghcr's list is mostly
    such builds): the listing is the shape's size and every listed tag resolves."""
    missing = max(0, listed - len(world.tags))
    return {f"pr-{n:05d}-python": world.tags[0] for n in range(missing)}


@dataclass
class Run:
    seconds: float
    requests: int
    rounds: int  # round trips in a row, as the proxy saw them (testing.proxy)
    answer: str
    startup: float  # launch to first connection

    def times_floor(self, rounds: int, delay: float) -> float:
        return self.seconds / (self.startup + rounds * delay)


@dataclass
class Bench:
    proxy: GhcrLike
    root: Path
    runs: int = 0
    ready: set[str] = field(default_factory=set)  # worlds the proxy has answered in full

    def warm_up(self, world: World, index: bool) -> None:
        """Every answer a run may need, once through the proxy, so that it remembers them and
        every measured run sees the same registry (testing.proxy's `remember`)."""
        if world.repository not in self.ready:
            self.pinbot(world, self.config(world, None, index), self.fresh_cache())
            self.loop(world, None, index)
            self.ready.add(world.repository)

    def config(self, world: World, depth: int | None, index: bool) -> Path:
        path = self.root / f"config-{world.repository.replace('/', '-')}-{depth}.toml"
        platforms = "" if index else 'platforms = ["linux/amd64"]\n'
        path.write_text(f'route_file = "{world.route_file(depth)}"\n{platforms}')
        return path

    def pinbot(self, world: World, config: Path, cache: Path) -> Run:
        argv = [sys.executable, "-m", "pinbot", "--config", str(config), "scan"]
        argv += ["--image", f"{self.proxy.address}/{world.repository}", "--sdk", str(world.sdk)]
        return self._timed(argv, {**os.environ, "PINBOT_CACHE_DIR": str(cache)})

    def fresh_cache(self) -> Path:
        self.runs += 1
        return self.root / f"cache-{self.runs}"

    def loop(self, world: World, depth: int | None, index: bool) -> Run:
        args = [self.proxy.address, world.repository, str(world.sdk), world.route_file(depth)]
        argv = ["bash", "-c", SMART_LOOP, "loop", *args, "1" if index else "0"]
        return self._timed(argv, {**os.environ}, cwd=self.root)

    def _timed(self, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> Run:
        self.proxy.reset()
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode not in (0, 1) or self.proxy.first is None:
            raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
        proxy = self.proxy
        return Run(seconds, proxy.total, proxy.rounds, _answer(done.stdout), proxy.first - start)


def _answer(stdout: str) -> str:
    """The tag a run chose, from pinbot's `selected: REPO:TAG@DIGEST` or the loop's bare tag."""
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    if match := re.search(r":([^:@/]+)@sha256:", last):
        return match.group(1)
    return "none" if not last or last.startswith("nothing qualifies") else last


@dataclass
class Row:
    """One shape at one answer depth: cold and warm pinbot runs, and the loop's."""

    shape: Shape
    depth: int | None
    expected: str
    cold: list[Run] = field(default_factory=list)
    warm: list[Run] = field(default_factory=list)
    loop: list[Run] = field(default_factory=list)

    @property
    def agreed(self) -> bool:
        return {r.answer for r in self.cold + self.warm + self.loop} == {self.expected}


def measure(bench: Bench, world: World, shape: Shape, depth: int | None, repeat: int) -> Row:
    bench.warm_up(world, shape.index)
    config = bench.config(world, depth, shape.index)
    row = Row(shape, depth, world.answer(depth))
    for _ in range(repeat):
        cache = bench.fresh_cache()
        row.cold.append(bench.pinbot(world, config, cache))
        row.warm.append(bench.pinbot(world, config, cache))
    row.loop.append(bench.loop(world, depth, shape.index))
    return row


def median_run(runs: Sequence[Run], rounds: int, delay: float) -> Run:
    """The run with the median multiple of its floor."""
    ordered = sorted(runs, key=lambda r: r.times_floor(rounds, delay))
    return ordered[len(ordered) // 2]


def cells(row: Row, warm: bool, delay: float) -> tuple[str, float, float]:
    """(table cells, multiple of the floor, seconds) of the median cold or warm run."""
    rounds = row.shape.floor_rounds(row.depth, warm)
    runs = row.warm if warm else row.cold
    run = median_run(runs, rounds, delay)
    floor = run.startup + rounds * delay
    times = run.times_floor(rounds, delay)
    wanted = row.shape.floor_requests(row.depth, warm)
    most = max(r.requests for r in runs)
    text = (
        f"{run.seconds:.3f} s | {floor:.3f} s | **{times:.2f}x** | {run.rounds} / {rounds} | "
        f"{run.requests}{'' if most == run.requests else f' (most {most})'} / {wanted}"
    )
    return text, times, run.seconds


def print_header(delay: float, repeat: int) -> None:
    print(
        f"\n## +{delay * 1000:.0f} ms a round trip (median of {repeat}; concurrency "
        f"{CONCURRENCY}, HEAD window {HEAD_WIDTH}; load average {load()} at the start)\n"
    )
    print(
        "| world | answer | cold | floor | x floor | rounds / floor | requests / floor | warm | "
        "floor | x floor | rounds / floor | requests / floor | skopeo loop | loop requests | "
        "cold speed-up | warm speed-up |"
    )
    print("|---" * 16 + "|")


def print_row(row: Row, delay: float) -> tuple[float, float]:
    cold, cold_x, cold_s = cells(row, False, delay)
    warm, warm_x, warm_s = cells(row, True, delay)
    loop = row.loop[len(row.loop) // 2]
    depth = f"{row.depth} down" if row.depth else "none"
    print(
        f"| {row.shape.name} | {depth} | {cold} | {warm} | {loop.seconds:.2f} s | "
        f"{loop.requests} | {loop.seconds / cold_s:.1f}x | {loop.seconds / warm_s:.1f}x |"
    )
    sys.stdout.flush()
    return cold_x, warm_x


def load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def interpreter_startup() -> float:
    """The bare interpreter's start-up, for comparison with pinbot's own."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def table(
    bench: Bench, worlds: dict[tuple[int, bool], World], shapes: Sequence[Shape], args: Args
) -> bool:
    """Print the shapes table; True when every tool chose the expected tag in every run."""
    delay = bench.proxy.delay
    print_header(delay, args.repeat)
    agreed, worst = True, (0.0, 0.0)
    startups: list[float] = []
    for shape in shapes:
        world = worlds[shape.releases, shape.index]
        bench.proxy.extra[world.repository] = padding(world, shape.listed)
        bench.proxy.max_page = shape.page
        for depth in [d for d in args.depths_shown if d is None or d <= shape.releases]:
            row = measure(bench, world, shape, depth, args.repeat)
            agreed &= row.agreed
            cold_x, warm_x = print_row(row, delay)
            worst = (max(worst[0], cold_x), max(worst[1], warm_x))
            startups += [r.startup for r in row.cold + row.warm]
    print(
        f"\nWorst: cold {worst[0]:.2f}x, warm {worst[1]:.2f}x the floor. pinbot's start-up to "
        f"its first connection: median {statistics.median(startups):.3f} s (bare interpreter "
        f"{interpreter_startup():.3f} s). Load average at the end: {load()}."
    )
    return agreed


def sweep(bench: Bench, world: World, shape: Shape, depths: range) -> None:
    """Cold scans with the answer at each depth: requests and time against the floor."""
    bench.proxy.extra[world.repository] = padding(world, shape.listed)
    bench.proxy.max_page = shape.page
    bench.warm_up(world, shape.index)
    delay = bench.proxy.delay
    found: list[tuple[int, Run]] = []
    for depth in depths:
        run = bench.pinbot(world, bench.config(world, depth, shape.index), bench.fresh_cache())
        if run.answer != world.answer(depth):
            raise SystemExit(f"sweep depth {depth}: pinbot chose {run.answer}")
        found.append((depth, run))
    ratios = [(r.requests / shape.floor_requests(d, False), d, r.requests) for d, r in found]
    times = [(r.times_floor(shape.floor_rounds(d, False), delay), d) for d, r in found]
    worst = max(ratios)
    at = ", ".join(f"{d}: {r.seconds:.2f} s" for d, r in found if d in (1, 5, 10, 21, 40, 60))
    print(
        f"\nCold over answer depths {depths.start}-{depths.stop - 1} ({shape.name}; one run "
        f"each, load {load()}): requests {statistics.mean(r for r, *_ in ratios):.3f}x the "
        f"floor on average (mean of per-depth ratios), worst {worst[0]:.2f}x (depth {worst[1]}: "
        f"{worst[2]} requests); time {statistics.mean(t for t, _ in times):.2f}x the floor on "
        f"average, worst {max(times)[0]:.2f}x (depth {max(times)[1]}); times {at}"
    )
    sys.stdout.flush()


@dataclass
class Args:
    delay: float
    repeat: int
    shapes: Sequence[Shape]
    depths_shown: Sequence[int | None]
    sweep: range | None


def parse(argv: Sequence[str] | None) -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument(
        "--repeat", type=int, default=3, help="pinbot runs per measurement (median reported)"
    )
    parser.add_argument(
        "--shapes", action="store_true", help="every world shape, not only issue 25's world"
    )
    parser.add_argument("--depths", default="1-60", help="answer depths for the cold sweep")
    parser.add_argument("--no-sweep", action="store_true", help="skip the cold sweep")
    parser.add_argument(
        "--quick", action="store_true", help="one small world, one run: does it still work?"
    )
    args = parser.parse_args(argv)
    first, _, last = args.depths.partition("-")
    depths = range(int(first), int(last or first) + 1)
    if args.quick:
        return Args(args.delay_ms / 1000, 1, QUICK, (1, None), None)
    shapes = SHAPES if args.shapes else (HEADLINE,)
    shown = DEPTHS if args.shapes else (21, None)
    return Args(args.delay_ms / 1000, args.repeat, shapes, shown, None if args.no_sweep else depths)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    for tool in ("docker-registry", "skopeo", "git"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: run ./scripts/dev setup")
    with tempfile.TemporaryDirectory(prefix="pinbot-bench-") as tmp:
        root = Path(tmp)
        with registry_server(root / "registry") as address:
            print("publishing the worlds ...", file=sys.stderr)
            kinds = {(s.releases, s.index) for s in args.shapes}
            kinds |= {(HEADLINE.releases, True)} if args.sweep else set()
            worlds = {kind: publish_world(address, root, *kind) for kind in sorted(kinds)}
            with GhcrLike(address, args.delay, remember=True) as proxy:
                bench = Bench(proxy, root)
                agreed = table(bench, worlds, args.shapes, args)
                if args.sweep is not None:
                    sweep(bench, worlds[HEADLINE.releases, True], HEADLINE, args.sweep)
    if not agreed:
        print("pinbot and the skopeo loop chose different tags: the timings compare nothing")
    return 0 if agreed else 1


if __name__ == "__main__":
    raise SystemExit(main())
