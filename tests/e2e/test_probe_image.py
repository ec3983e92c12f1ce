"""`pinbot probe --image`: a candidate image run by digest, then removed with its volume.

The test image is the busybox stand-in of testing.images: it serves /health and /server_info but
no conversation API, so the probe gets as far as starting a conversation and must then report an
error and leave nothing behind.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from testing.cli import pinbot
from testing.images import build_agent_image, push_image
from testing.services import missing_service

SHA = "fedcba9876543210fedcba9876543210fedcba98"


@pytest.fixture(scope="module")
def health_only_image(registry: str, docker_client: Any) -> Iterator[str]:
    """A stand-in agent server that answers /health and /server_info, and no conversation."""
    if shutil.which("busybox") is None:
        missing_service("busybox (Debian package busybox-static), for the test image")
    name = f"{registry}/probe/agent-server:health-only"
    image_id = build_agent_image(docker_client, name, build_sha=SHA, routes=False)
    push_image(docker_client, name)
    yield name
    # The tag and the by-digest pull share one image: removing it leaves the store as it was.
    docker_client.images.remove(image_id, force=True)


def probe_leftovers(docker_client: Any, image: str) -> set[str]:
    """The probe's containers of `image` and its volumes (another run's volumes may be there
    too, so compare with what was there before)."""
    repository = image.rpartition(":")[0]
    label = {"label": "pinbot.probe=1"}
    containers = {
        c.id
        for c in docker_client.containers.list(all=True, filters=label)
        if str(c.attrs["Config"]["Image"]).startswith(f"{repository}@")
    }
    volumes = {v.name for v in docker_client.volumes.list() if v.name.startswith("pinbot-probe-")}
    return containers | volumes


def test_image_probe_runs_by_digest_and_removes_container_and_volume(
    health_only_image: str, docker_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before = probe_leftovers(docker_client, health_only_image)
    code, out, _ = pinbot(
        "--json", "probe", "--target", "agent-server", "--image", health_only_image,
        "--agents", "codex", "--timeout", "20",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 3
    assert data["image"]["digest"].startswith("sha256:")
    assert data["agents"][0]["step"] == "start"
    assert probe_leftovers(docker_client, health_only_image) - before == set()
