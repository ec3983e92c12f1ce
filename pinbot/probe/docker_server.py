"""`--image REF`: run a candidate agent-server image by digest on a persistent volume.

A recycle removes the container and starts a new one on the same volume. Containers run on the
host network (engines here have no bridge), bounded in memory, never privileged, and are always
removed; the volume goes too unless --keep. `docker` is imported only here, only when used.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from typing import Any

from pinbot.errors import ExternalError
from pinbot.model import ImageName, ImageRef
from pinbot.net import free_port
from pinbot.probe.http import AgentServerApi
from pinbot.probe.targets import Mask, wait_healthy
from pinbot.probe.waiting import Progress, StepFailed

VOLUME_MOUNT = "/workspace"
LABEL = {"pinbot.probe": "1"}


class Image:
    """The image under test, pulled and pinned to its digest (shared by every agent)."""

    def __init__(self, ref: str, registry_url: str | None) -> None:
        import docker

        parsed = ImageRef.parse(ref)
        self.ref = ref
        self.pull_name = _pull_name(parsed.name, registry_url)
        try:
            self.client = docker.from_env(timeout=60)
            self.digest = parsed.digest or self._pull(parsed.tag or "latest")
            if parsed.digest:
                self.client.images.pull(self.pull_name, tag=parsed.digest)
        except docker.errors.DockerException as exc:
            raise ExternalError(f"docker could not pull {ref}: {exc}") from None

    def _pull(self, tag: str) -> str:
        image = self.client.images.pull(self.pull_name, tag=tag)
        for repo_digest in image.attrs.get("RepoDigests") or []:
            name, _, digest = repo_digest.partition("@")
            if name == self.pull_name:
                return str(digest)
        raise ExternalError(f"docker pulled {self.ref} but reports no digest for {self.pull_name}")

    @property
    def by_digest(self) -> str:
        return f"{self.pull_name}@{self.digest}"

    def identity(self) -> dict[str, Any]:
        return {"ref": self.ref, "digest": self.digest}


def _pull_name(name: ImageName, registry_url: str | None) -> str:
    if not registry_url:
        return str(name)
    host = registry_url.split("://", 1)[-1].rstrip("/")
    return f"{host}/{name.repository}"


class DockerServer:
    how = "replace the container"
    working_dir = f"{VOLUME_MOUNT}/project"

    def __init__(
        self, image: Image, memory: str, timeout: float, progress: Progress, mask: Mask
    ) -> None:
        self.image = image
        self.memory = memory
        self.timeout = timeout
        self.progress = progress
        self.port = free_port()
        self.key = secrets.token_urlsafe(24)
        mask(self.key)
        self.api = AgentServerApi(f"http://127.0.0.1:{self.port}", self.key)
        self.volume = f"pinbot-probe-{uuid.uuid4().hex[:12]}"
        self.container: Any = None

    def up(self) -> None:
        if self.container is None:
            self._start()

    def _start(self) -> None:
        import docker

        try:
            self.container = self.image.client.containers.run(
                self.image.by_digest,
                command=["--port", str(self.port)],
                detach=True,
                network_mode="host",
                environment={"OH_SESSION_API_KEYS_0": self.key},
                volumes={self.volume: {"bind": VOLUME_MOUNT, "mode": "rw"}},
                mem_limit=self.memory,
                privileged=False,
                labels=LABEL,
            )
        except docker.errors.DockerException as exc:
            raise StepFailed(f"docker could not run {self.image.by_digest}: {exc}") from None
        wait_healthy(self.api, self.timeout, self.progress, self._exited)

    def _exited(self) -> str | None:
        self.container.reload()
        if self.container.status in ("exited", "dead"):
            return f"the container exited: {self.container.logs(tail=5).decode(errors='replace')}"
        return None

    def recycle(self) -> None:
        self._remove()
        self._start()

    def _remove(self) -> None:
        import docker

        if self.container is not None:
            with contextlib.suppress(docker.errors.NotFound):
                self.container.remove(force=True)
            self.container = None

    def stop(self, keep: bool) -> None:
        import docker

        self._remove()
        if not keep:
            with contextlib.suppress(docker.errors.NotFound):
                self.image.client.volumes.get(self.volume).remove(force=True)

    def identity(self) -> str | None:
        """The container's id and start time: a replaced container has a new one."""
        if self.container is None:
            return None
        self.container.reload()
        started = (self.container.attrs.get("State") or {}).get("StartedAt")
        return f"container {self.container.id} started {started}"
