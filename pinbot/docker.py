"""Docker: every container pinbot runs, through the docker SDK.

Containers run on the host network (the engines pinbot targets may have no bridge), bounded in
memory and processes, never privileged, labelled, and always removed. What the SDK or its HTTP
transport raises becomes one `DockerError` whose message says what failed, on one line.
`docker` itself is imported only when a container is wanted (start-up time of every other
command).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pinbot import cleanup
from pinbot.errors import ExternalError
from pinbot.model import ImageName, ImageRef

MANAGED_LABEL = cleanup.MANAGED_LABEL  # what a dead run's reap asks of a container
PIDS_LIMIT = 1024


class DockerError(ExternalError):
    """The engine (or the way to it) failed; the message is one line saying what failed."""


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@contextlib.contextmanager
def failures(what: str) -> Iterator[None]:
    """Turn whatever the docker SDK raises inside into DockerError("<what> failed (why)")."""
    import docker.errors
    import requests

    try:
        yield
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise DockerError(f"{what} failed ({one_line(exc)})") from None


def client_factory(timeout: float) -> Callable[[], Any]:
    """A factory for clients of the engine named by DOCKER_HOST (or the local socket)."""

    def connect() -> Any:
        import docker

        return docker.from_env(timeout=int(max(60.0, timeout)))

    return connect


def connect(factory: Callable[[], Any]) -> Any:
    import docker.errors

    try:
        return factory()
    except docker.errors.DockerException as exc:
        raise DockerError(
            f"cannot reach the Docker engine ({exc}): start dockerd or set DOCKER_HOST"
        ) from None


def has_image(client: Any, ref: str) -> bool:
    import docker.errors
    import requests

    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise DockerError(f"the Docker engine failed ({exc}): is dockerd running?") from None
    return True


def create(
    client: Any,
    ref: str,
    command: list[str],
    memory: str,
    labels: Mapping[str, str],
    environment: Mapping[str, str] | None = None,
    volumes: Mapping[str, Mapping[str, str]] | None = None,
) -> Any:
    """A container of `ref` (not started), on the host network, bounded, unprivileged."""
    container = client.containers.create(
        ref,
        command=command,
        detach=True,
        network_mode="host",
        environment=dict(environment or {}),
        volumes={name: dict(bind) for name, bind in (volumes or {}).items()},
        mem_limit=memory,
        pids_limit=PIDS_LIMIT,
        privileged=False,
        labels={MANAGED_LABEL: "1", **labels},
    )
    cleanup.track_container(container.id)  # removed even if pinbot is interrupted or killed
    return container


def has_exited(container: Any) -> bool:
    container.reload()
    return container.status in ("exited", "dead")


def logs_tail(container: Any, lines: int) -> str:
    return bytes(container.logs(tail=lines)).decode(errors="replace").strip()


def remove(container: Any) -> None:
    """Remove `container`, running or not; gone already is fine."""
    import docker.errors

    try:
        container.remove(force=True)
        cleanup.untrack_container(container.id)
    except docker.errors.NotFound:
        cleanup.untrack_container(container.id)  # already gone
    except docker.errors.DockerException as exc:
        raise DockerError(
            f"could not remove container {container.short_id} ({one_line(exc)}): "
            f"remove it with 'docker rm -f {container.short_id}'"
        ) from None


def remove_volume(client: Any, name: str) -> None:
    import docker.errors

    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(name).remove(force=True)


class Image:
    """An image pulled and pinned to its digest (the probe's `--image REF`)."""

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
