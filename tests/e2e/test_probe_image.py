"""`pinbot probe --image`: a candidate image run by digest, then removed with its volume.

The test image is busybox httpd serving /health and /server_info only, so the probe gets as far
as starting a conversation and must then report an error and leave nothing behind.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.cli import pinbot
from testing.services import missing_service

SHA = "fedcba9876543210fedcba9876543210fedcba98"
ENTRY = '#!/bin/busybox sh\nexec /bin/busybox httpd -f -p "127.0.0.1:$2" -h /www\n'


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def health_only_image(
    registry: str, docker_client: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    busybox = shutil.which("busybox")
    if busybox is None:
        missing_service("busybox (Debian package busybox-static), for the test image")
    rootfs = tmp_path_factory.mktemp("image") / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        _add(tar, "bin/busybox", Path(busybox).read_bytes(), 0o755)
        _add(tar, "entry.sh", ENTRY.encode(), 0o755)
        _add(tar, "www/health", b'{"status": "ok"}')
        _add(tar, "www/server_info", json.dumps({"build_git_sha": SHA}).encode())
    name = f"{registry}/probe/agent-server:health-only"
    entrypoint = 'ENTRYPOINT ["/bin/busybox", "sh", "/entry.sh"]'
    subprocess.run(
        ["docker", "import", "-c", entrypoint, str(rootfs), name], check=True, capture_output=True
    )
    subprocess.run(["docker", "push", name], check=True, capture_output=True)
    image_id = docker_client.images.get(name).id
    yield name
    # The tag and the by-digest pull share one image: removing it leaves the store as it was.
    docker_client.images.remove(image_id, force=True)


def probe_leftovers(docker_client: Any) -> set[str]:
    """The probe's containers and volumes on the engine (another run's may be there too)."""
    label = {"label": "pinbot.probe=1"}
    containers = {c.id for c in docker_client.containers.list(all=True, filters=label)}
    volumes = {v.name for v in docker_client.volumes.list() if v.name.startswith("pinbot-probe-")}
    return containers | volumes


def test_image_probe_runs_by_digest_and_removes_container_and_volume(
    health_only_image: str, docker_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before = probe_leftovers(docker_client)
    code, out, _ = pinbot(
        "--json", "probe", "--target", "agent-server", "--image", health_only_image,
        "--agents", "codex", "--timeout", "20",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 3
    assert data["image"]["digest"].startswith("sha256:")
    assert data["agents"][0]["step"] == "start"
    assert probe_leftovers(docker_client) - before == set()
