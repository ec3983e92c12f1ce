"""The openapi detector against a real Docker engine and a real registry.

The images are busybox stand-ins (testing.images) pushed to the session's registry and
removed locally, so every check pulls by digest as it would from ghcr.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pinbot.capability import ImageFacts, OpenapiDetector, make_detectors
from pinbot.config import BLOB_ROUTE, OpenapiSettings, Settings
from pinbot.docker import MANAGED_LABEL
from testing.images import build_agent_image, push_image

BUILD_SHA = "3" * 40
STARTUP = 3.0


@dataclass(frozen=True)
class World:
    repository: str
    digests: dict[str, str]  # routes / bare / hung -> pushed digest


@pytest.fixture(scope="session")
def world(docker_client: Any, registry: str) -> Iterator[World]:
    repository = f"{registry}/openhands/agent-server"
    kinds = {
        "routes": {"routes": True},
        "bare": {"routes": False},
        "hung": {"routes": True, "healthy": False},
    }
    digests = {}
    for kind, options in kinds.items():
        tag = f"{repository}:{kind}-python"
        image_id = build_agent_image(docker_client, tag, build_sha=BUILD_SHA, **options)
        digests[kind] = push_image(docker_client, tag)
        docker_client.images.remove(image_id, force=True)
    yield World(repository, digests)
    for digest in digests.values():
        _forget(docker_client, f"{repository}@{digest}")


def _forget(client: Any, ref: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(ref, force=True)


@pytest.fixture
def detector(world: World) -> OpenapiDetector:
    settings = Settings().replace(openapi=OpenapiSettings(startup_timeout=STARTUP, memory="256m"))
    (made,) = make_detectors(settings, ["openapi"], None, world.repository, Path("cache"))
    assert isinstance(made, OpenapiDetector)
    return made


@pytest.fixture(autouse=True)
def no_leftover_containers(docker_client: Any, world: World) -> Iterator[None]:
    yield
    # Other suites may share the engine: count only containers made from this world's images.
    leftovers = [
        c.short_id
        for c in docker_client.containers.list(all=True, filters={"label": f"{MANAGED_LABEL}=1"})
        if c.labels.get("pinbot.digest") in world.digests.values()
    ]
    assert leftovers == []


def facts(digest: str) -> ImageFacts:
    return ImageFacts(digest, ("linux/amd64",), build_sha=BUILD_SHA)


def test_an_image_serving_the_routes_passes(detector: OpenapiDetector, world: World) -> None:
    digest = world.digests["routes"]
    evidence = detector.check(facts(digest))
    assert evidence.result == "pass", evidence.detail
    assert evidence.detail == (
        f"{world.repository}@{digest} /openapi.json has GET {BLOB_ROUTE}; PUT {BLOB_ROUTE}"
    )


def test_an_image_without_the_routes_fails_naming_them(
    detector: OpenapiDetector, world: World
) -> None:
    evidence = detector.check(facts(world.digests["bare"]))
    assert evidence.result == "fail"
    assert evidence.detail.endswith(f"/openapi.json lacks GET {BLOB_ROUTE}; PUT {BLOB_ROUTE}")


def test_an_image_that_never_gets_healthy_is_an_error_within_the_bound(
    detector: OpenapiDetector, world: World
) -> None:
    started = time.monotonic()
    evidence = detector.check(facts(world.digests["hung"]))
    elapsed = time.monotonic() - started
    assert evidence.result == "error"
    assert evidence.detail.startswith(f"/health did not answer within {STARTUP:g}s")
    assert STARTUP <= elapsed < STARTUP + 10


def test_a_digest_the_registry_lacks_is_an_error(detector: OpenapiDetector, world: World) -> None:
    missing = "sha256:" + "0" * 64
    evidence = detector.check(facts(missing))
    assert evidence.result == "error"
    assert evidence.detail.startswith(f"pulling {world.repository}@{missing} failed")
    assert "check that the digest exists there" in evidence.detail


def test_an_unreachable_engine_is_an_error(world: World) -> None:
    import docker

    def unreachable() -> Any:
        return docker.DockerClient(base_url="unix:///nonexistent/docker.sock", timeout=2)

    detector = OpenapiDetector(unreachable, world.repository, Settings())
    evidence = detector.check(facts(world.digests["routes"]))
    assert evidence.result == "error"
    assert evidence.detail.startswith("cannot reach the Docker engine")


def test_a_container_that_exits_is_an_error_without_waiting_out_the_bound(
    detector: OpenapiDetector, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hold the port the detector will hand out, so the server cannot bind it and exits.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        monkeypatch.setattr("pinbot.capability.free_port", lambda: taken.getsockname()[1])
        started = time.monotonic()
        evidence = detector.check(facts(world.digests["routes"]))
    assert evidence.result == "error"
    assert evidence.detail.startswith("the container exited (code 1) before /health answered")
    assert "in use" in evidence.detail
    assert time.monotonic() - started < STARTUP
