"""Small stand-ins for the agent-server image, for tests and the demo.

A busybox-static root whose entrypoint takes the agent server's `--port N` and serves
`/health`, `/server_info` and an `/openapi.json` with or without the blob routes. Made with
`docker import`, so no base image, no build context and no network are needed.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from typing import Any

from pinbot.config import BLOB_ROUTE
from pinbot.errors import ExternalError

_APPLETS = ("sh", "httpd", "sleep", "cat", "head", "tr")

_ENTRYPOINT = """\
#!/bin/sh
# Parse the agent server's arguments: only --port matters here.
port=8000
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --port=*) port="${1#--port=}"; shift ;;
    *) shift ;;
  esac
done
"""
_SERVE = 'exec /bin/httpd -f -p "127.0.0.1:$port" -h /www\n'
# Never answers /health: stands for a server that hangs during start-up.
_HANG = "exec /bin/sleep 2147483647\n"
# Holds N bytes in a shell variable before serving: a server too big for its memory bound.
_HOG = "hog=$(head -c {size} /dev/zero | tr '\\0' x)\n"


def openapi_document(routes: bool) -> dict[str, Any]:
    """An OpenAPI document shaped like the agent server's, with or without the blob routes."""
    ok = {"responses": {"200": {"description": "OK"}}}
    paths: dict[str, Any] = {
        "/health": {"get": ok},
        "/server_info": {"get": ok},
        "/api/conversations": {"get": ok, "post": ok},
    }
    if routes:
        paths[BLOB_ROUTE] = {"get": ok, "put": ok}
    return {"openapi": "3.1.0", "info": {"title": "OpenHands Agent Server"}, "paths": paths}


def rootfs(*, build_sha: str | None, routes: bool, healthy: bool, hog: int = 0) -> bytes:
    """The image's root filesystem as a tar archive (`hog`: bytes to hold before serving)."""
    busybox = shutil.which("busybox")
    if busybox is None:
        raise ExternalError("busybox is not installed: install busybox-static to build images")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for applet in _APPLETS:
            _add(tar, f"bin/{applet}", link="busybox")
        start = _HOG.format(size=hog) if hog else ""
        start += _SERVE if healthy else _HANG
        _add(tar, "entrypoint.sh", _ENTRYPOINT + start, mode=0o755)
        _add(tar, "www/health", '{"status":"ok"}')
        _add(tar, "www/server_info", json.dumps({"build_git_sha": build_sha}))
        _add(tar, "www/openapi.json", json.dumps(openapi_document(routes)))
        _add(tar, "tmp", directory=True)
    return buffer.getvalue()


def _add(
    tar: tarfile.TarFile,
    name: str,
    text: str = "",
    *,
    mode: int = 0o644,
    link: str | None = None,
    directory: bool = False,
) -> None:
    info = tarfile.TarInfo(name)
    data = text.encode()
    if link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, link
    elif directory:
        info.type, info.mode = tarfile.DIRTYPE, 0o1777
    else:
        info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data) if info.isfile() else None)


def build_agent_image(
    client: Any,
    repository_tag: str,
    *,
    build_sha: str | None,
    routes: bool,
    healthy: bool = True,
    build_ref: str | None = None,
    hog: int = 0,
) -> str:
    """`docker import` a stand-in agent-server image as `repository_tag`; returns its id."""
    changes = ['ENTRYPOINT ["/bin/sh", "/entrypoint.sh"]']
    if build_sha is not None:
        changes.append(f"ENV OPENHANDS_BUILD_GIT_SHA={build_sha}")
    if build_ref is not None:
        changes.append(f"ENV OPENHANDS_BUILD_GIT_REF={build_ref}")
    repository, tag = _split(repository_tag)
    answer = client.api.import_image_from_data(
        rootfs(build_sha=build_sha, routes=routes, healthy=healthy, hog=hog),
        repository=repository,
        tag=tag,
        changes=changes,
    )
    image_id = json.loads(answer.strip().splitlines()[-1]).get("status", "")
    if not image_id.startswith("sha256:"):
        raise ExternalError(f"docker import of {repository_tag} failed: {answer.strip()}")
    return str(image_id)


def push_image(client: Any, repository_tag: str) -> str:
    """Push to a (loopback) registry; returns the manifest digest the registry stored."""
    repository, tag = _split(repository_tag)
    digest = None
    for event in client.images.push(repository, tag=tag, stream=True, decode=True):
        if "error" in event:
            raise ExternalError(f"pushing {repository_tag} failed: {event['error']}")
        digest = event.get("aux", {}).get("Digest", digest)
    if digest is None:
        raise ExternalError(f"pushing {repository_tag} reported no digest")
    return str(digest)


def _split(repository_tag: str) -> tuple[str, str]:
    repository, _, tag = repository_tag.rpartition(":")
    if "/" in tag or not repository:
        return repository_tag, "latest"  # the only colon was a registry port
    return repository, tag
