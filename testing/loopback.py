"""A threaded HTTP/1.1 server on a free loopback port, run as a context manager: what the test
kit's proxies (testing.proxy) and hostile servers (testing.hostile) are built on."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

# Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog is 5: a client opening a few dozen connections at once (a
    # warm scan's round of HEADs) would see SYNs dropped and retried a second later, a delay no
    # registry adds. Accept like a real server does.
    request_queue_size = 1024
    daemon_threads = True


class Loopback:
    """Serves `_handler()` on `host` from `__enter__` to `__exit__`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._lock = threading.Lock()
        self._server = _Server((host, 0), self._handler())
        # A short poll interval: shutting a server down should not cost half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
