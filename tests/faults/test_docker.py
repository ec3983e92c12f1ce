"""Docker faults during `pinbot check --detectors openapi`: the real engine, the real registry.

The stand-in images (busybox) are pushed to the session's registry and removed locally, so
every check pulls by digest. Each fault must end in exit 3 with advice, leave no container
behind and cache no verdict (an undecided check is never remembered).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.cli import pinbot
from testing.images import build_agent_image, push_image
from testing.matrix import Fault, Row, Run, check
from testing.proxy import FaultProxy, Rule

AREA = "docker"
REPOSITORY = "faults/agent-server"
SHA = "4" * 40


def fault(name: str, says: str, outcome: str, **options: Any) -> Fault:
    return Fault(AREA, name, 3, says, outcome, options)


FAULTS = [
    fault(
        "the Docker daemon is down (DOCKER_HOST names a dead socket)",
        "start dockerd or set DOCKER_HOST",
        "undecided, exit 3: says to start dockerd or set DOCKER_HOST",
        image="routes", dead_daemon=True,
    ),
    fault(
        "pulling the image fails",
        "check that the digest exists there",
        "undecided, exit 3: says to check the digest and the engine's access to the registry",
        image="routes", pull_fails=True,
    ),
    fault(
        "the container never gets healthy",
        "raise openapi.startup_timeout",
        "gives up after openapi.startup_timeout and removes the container",
        image="hung", config='[openapi]\nstartup_timeout = 2.0\n',
    ),
    fault(
        "the container runs out of memory",
        "raise openapi.memory",
        "sees the OOM kill at once, says to raise openapi.memory, removes the container",
        image="hog", config='[openapi]\nmemory = "16m"\n',
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def pushed(docker_client: Any, registry: str) -> Iterator[dict[str, str]]:
    """kind -> digest in the registry: routes (healthy), hung (never healthy), hog (too big)."""
    kinds = {
        "routes": {"routes": True},
        "hung": {"routes": True, "healthy": False},
        "hog": {"routes": True, "hog": 256 * 1024 * 1024},
    }
    digests = {}
    for kind, options in kinds.items():
        name = f"{registry}/{REPOSITORY}:{kind}-python"
        image_id = build_agent_image(docker_client, name, build_sha=SHA, **options)
        digests[kind] = push_image(docker_client, name)
        docker_client.images.remove(image_id, force=True)
    yield digests
    for image in docker_client.images.list():
        if any(REPOSITORY in name for name in image.attrs.get("RepoDigests") or []):
            with contextlib.suppress(Exception):
                docker_client.images.remove(image.id, force=True)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_docker_fault(
    fault: Fault, row: Row, capsys, docker_client, registry, pushed, tag: str, temp: Path,
    tmp_path: Path, monkeypatch,
) -> None:  # fmt: skip
    options = fault.options
    settings = 'detectors = ["openapi"]\nplatforms = ["linux/amd64"]\n'
    (tmp_path / "pinbot.toml").write_text(settings + options.get("config", ""))
    if options.get("dead_daemon"):
        monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with FaultProxy(registry) as proxy:
        refused = proxy.add(Rule("GET", r"/manifests/sha256:", status=404))
        endpoint = proxy.address if options.get("pull_fails") else registry
        argv = ["--json", "check", f"{options['image']}-python"]
        code, out, err = pinbot(
            *[*argv, "--image", f"{registry}/{REPOSITORY}", "--registry-url", endpoint]
        )
        ours = [f"{address}/{REPOSITORY}" for address in (registry, proxy.address)]

    cached = list(Path(os.environ["PINBOT_CACHE_DIR"]).glob("v1/verdicts/*"))
    row.state = "no container left, no verdict cached" if not cached else f"cached: {cached}"
    row.data_lost = bool(cached)
    check(fault, row, Run(code, out, err), tag, temp, docker_client, ours)
    assert not cached
    assert refused.hits > 0 or not options.get("pull_fails")
