"""How a scan spends round trips (docs/benchmarks.md), counted by a proxy before a real registry.

A warm scan confirms what the cache predicts in one round of `HEAD`s, and nothing more; a cold
scan's look-ahead grows with depth. The proxy holds every request `DELAY` seconds (`ROUND` while
a warm round is watched), so requests that were sent together are seen in flight together.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pinbot.config import Settings
from pinbot.demo.builds import releases
from pinbot.demo.registry import ImageSpec, RegistryWriter
from pinbot.engine import Engine, lookahead
from testing.cli import pinbot
from testing.proxy import FaultProxy, LatencyProxy, Rule
from testing.worlds import Images, publish_to

DELAY = 0.1
ROUND = 0.6  # long enough for twenty threads to send their HEADs on a loaded machine
DEPTH = 20  # 1.39.2 down to 1.33.1, the one release with the routes


def world_builds() -> list:
    builds = releases(range(30, 40))
    return [b if b.version != "1.33.1" else type(b)(version="1.33.1", routes=True) for b in builds]


@pytest.fixture
def world(registry: str, tmp_path: Path, request: pytest.FixtureRequest) -> Images:
    # Each test gets its own repository: some move or add tags.
    return publish_to(registry, f"schedule/{request.node.name[:40]}", world_builds(), tmp_path)


def scan(proxy: LatencyProxy, world: Images, capsys: pytest.CaptureFixture[str]) -> dict:
    proxy.reset()
    image = f"{proxy.address}/{world.repository}"
    report: dict = pinbot("--json", "scan", "--image", image, "--sdk", str(world.world.sdk)).data
    return report


def test_cold_scan_stays_within_its_lookahead_of_the_floor(world, capsys) -> None:
    with LatencyProxy(world.registry, DELAY) as proxy:
        report = scan(proxy, world, capsys)

    assert report["selected"]["tag"] == "1.33.1-python"
    assert len(report["candidates"]) == DEPTH
    floor = 1 + 3 * DEPTH  # one tag page; index, platform manifest and config per candidate
    # What was in flight behind the answer is spent: at most the look-ahead there, less one.
    assert floor <= proxy.total <= floor + 3 * (lookahead(DEPTH, Settings().concurrency) - 1)
    assert proxy.requests["GET tags"] == 1


def test_warm_scan_confirms_every_examined_tag_in_one_round_of_heads(world, capsys) -> None:
    with LatencyProxy(world.registry, DELAY) as proxy:
        scan(proxy, world, capsys)
        proxy.delay = ROUND
        report = scan(proxy, world, capsys)

    assert report["selected"]["tag"] == "1.33.1-python"
    assert dict(proxy.requests) == {"GET tags": 1, "HEAD manifests": DEPTH}
    # All in flight at once: one round trip, not DEPTH / window. (The one HEAD that reuses the
    # tag list's connection skips the connection's round trip and may be answered first.)
    assert proxy.peak >= DEPTH - 1


def test_a_release_newer_than_the_cache_is_examined_beside_the_round(world, capsys) -> None:
    with LatencyProxy(world.registry, DELAY) as proxy:
        scan(proxy, world, capsys)
        newest = world.world.shas["1.39.2-python"]  # a new release, still without the routes
        spec = ImageSpec(["1.40.0-python"], newest, "2026-12-01T00:00:00Z", arch_tags=False)
        RegistryWriter(world.registry, world.repository).publish(spec)
        proxy.delay = ROUND
        report = scan(proxy, world, capsys)

    assert report["selected"]["tag"] == "1.33.1-python"
    assert report["candidates"][0]["tag"] == "1.40.0-python"
    # The new tag costs its three reads; each cached one its HEAD; nothing past the answer.
    assert dict(proxy.requests) == {
        "GET tags": 1,
        "GET manifests": 2,
        "GET blobs": 1,
        "HEAD manifests": DEPTH,
    }
    assert proxy.peak >= DEPTH


def test_a_predicted_answer_that_moved_is_examined_again_and_the_scan_goes_on(
    world, capsys
) -> None:
    with LatencyProxy(world.registry, DELAY) as proxy:
        image = f"{proxy.address}/{world.repository}"
        scanned = pinbot("scan", "--all", "--image", image, "--sdk", str(world.world.sdk))
        assert scanned.code == 0  # every release is cached now
        moved = world.world.shas["1.33.0-python"]  # 1.33.1 now names a new build without routes
        RegistryWriter(world.registry, world.repository).publish(
            ImageSpec(["1.33.1-python"], moved, "2026-12-01T00:00:00Z")
        )
        report = scan(proxy, world, capsys)

    assert report["selected"] is None
    older = 10  # 1.33.0 down to 1.30.0: cached, confirmed once the predicted answer failed
    assert dict(proxy.requests) == {
        "GET tags": 1,
        "HEAD manifests": DEPTH + older,
        "GET manifests": 2,  # the moved tag's new index and platform manifest
        "GET blobs": 1,
    }


def test_a_tag_list_that_fails_beside_the_warm_round_is_one_clear_error(
    world, capsys, monkeypatch
) -> None:
    stray: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: stray.append(args.exc_value))
    with FaultProxy(world.registry, DELAY) as proxy:
        scan(proxy, world, capsys)  # the cache knows every tag: the next scan's HEADs go early
        proxy.add(Rule("GET", r"/tags/list", status=404))
        # The race, forced: the warm round is between two HEADs when the reader gives up.
        monkeypatch.setattr(Engine, "_expected", predicts_after_the_reader_gave_up())
        image = f"{proxy.address}/{world.repository}"
        failed = pinbot("scan", "--image", image, "--sdk", str(world.world.sdk))
        time.sleep(2 * DELAY)  # what was still in flight has ended

    assert failed.code == 2
    assert "tag list not found" in failed.error_line()
    assert stray == []  # no thread went on starting examinations into a pool shut down


def predicts_after_the_reader_gave_up() -> Callable[[Engine, str], str | None]:
    """Engine._expected that holds the warm round's second prediction until the scan stops
    (the reader has failed and shut the pool down), then predicts as before."""
    real = Engine._expected
    calls = itertools.count()

    def expected(engine: Engine, tag: str) -> str | None:
        if next(calls) == 1:
            assert engine._stop.wait(10), "the scan never stopped"
            time.sleep(DELAY)  # the pool is shut down right after the stop is set
        return real(engine, tag)

    return expected
