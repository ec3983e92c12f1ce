"""Loopback helpers shared by the places that start servers: detectors, probes, worlds."""

from __future__ import annotations

import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    """A loopback port nobody listens on now (the caller binds it soon after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Until `url` answers at all; RuntimeError if `proc` exits first or time runs out."""
    import urllib.request  # only the servers' starters need it; keep it out of start-up

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered at {url} within {timeout:.0f}s")


@contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[None]:
    """Serve with `server` from a daemon thread until the block ends, then shut it down."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
