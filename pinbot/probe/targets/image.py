"""`--image REF`: run a candidate agent-server image by digest on a persistent volume.

A recycle removes the container and starts a new one on the same volume. Containers run on the
host network (engines here have no bridge), bounded in memory, never privileged, and are always
removed; the volume goes too unless --keep. The containers are run through `pinbot.docker`.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from pinbot import docker
from pinbot.docker import Image
from pinbot.probe.targets.agent_server import OwnServer
from pinbot.probe.targets.base import Mask
from pinbot.probe.waiting import Progress, StepFailed

VOLUME_MOUNT = "/workspace"
# What the vendors' agents inside the image need to reach their models, passed on from pinbot's
# environment when set (never on a command line): the workflows' upgrade probe sets them.
VENDOR_KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL")


def vendor_keys() -> dict[str, str]:
    return {name: os.environ[name] for name in VENDOR_KEYS if os.environ.get(name)}


LABEL = {"pinbot.probe": "1"}


class DockerServer(OwnServer):
    working_dir = f"{VOLUME_MOUNT}/project"

    def __init__(
        self,
        images: dict[str, Image],
        side: str,
        memory: str,
        timeout: float,
        progress: Progress,
        mask: Mask,
    ) -> None:
        super().__init__(side, timeout, progress, mask)
        self.images = images
        self.memory = memory
        self.volume = f"pinbot-probe-{uuid.uuid4().hex[:12]}"
        self.container: Any = None

    @property
    def image(self) -> Image:
        return self.images[self.side]

    def _launch(self) -> None:
        try:
            with docker.failures(f"docker run {self.image.by_digest}"):
                self.container = docker.create(
                    self.image.client,
                    self.image.by_digest,
                    ["--port", str(self.port)],
                    self.memory,
                    LABEL,
                    environment={"OH_SESSION_API_KEYS_0": self.key, **vendor_keys()},
                    volumes={self.volume: {"bind": VOLUME_MOUNT, "mode": "rw"}},
                )
                self.container.start()
        except docker.DockerError as exc:
            raise StepFailed(str(exc)) from None

    def _launched(self) -> bool:
        return self.container is not None

    def _exited(self) -> str | None:
        if docker.has_exited(self.container):
            return f"the container exited: {docker.logs_tail(self.container, 5)}"
        return None

    def named(self, side: str) -> str | None:
        """The image's tag (`1.58.2-python` says 1.58.2), when it names a release."""
        name = self.images[side].ref.split("@")[0]
        tag = name.rpartition(":")[2] if ":" in name.rpartition("/")[2] else ""
        version = tag.split("-")[0]
        return version if version[:1].isdigit() else None

    def _halt(self) -> None:
        if self.container is not None:
            docker.remove(self.container)
            self.container = None

    def stop(self, keep: bool) -> None:
        self._halt()
        if not keep:
            docker.remove_volume(self.image.client, self.volume)

    def identity(self) -> str | None:
        """The container's id and start time: a replaced container has a new one."""
        if self.container is None:
            return None
        self.container.reload()
        started = (self.container.attrs.get("State") or {}).get("StartedAt")
        return f"container {self.container.id} started {started}"
