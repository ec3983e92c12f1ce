"""A real Distribution registry on a free loopback port, for tests, benchmarks and the demo."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pinbot import cleanup
from pinbot.net import free_port, wait_for_http


def registry_binary() -> str | None:
    """Debian's `docker-registry` (the Distribution registry), or upstream's `registry`."""
    return shutil.which("docker-registry") or shutil.which("registry")


@contextmanager
def registry_server(root: Path) -> Iterator[str]:
    """Serve a registry with its storage under `root`; yields `127.0.0.1:PORT`."""
    binary = registry_binary()
    if binary is None:
        raise FileNotFoundError("docker-registry is not installed (Debian package docker-registry)")
    root.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    config = root / "registry.yml"
    config.write_text(
        # Debian's shipped configuration caches blob descriptors in memory; so do we.
        "version: 0.1\nlog:\n  level: error\nstorage:\n  cache:\n    blobdescriptor: inmemory\n"
        "  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {address}\n"
    )
    with (root / "registry.log").open("w") as log:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    cleanup.track_process(proc.pid)  # killed by the next run if the demo is killed
    try:
        wait_for_http(f"http://{address}/v2/", proc)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)
