"""A loopback HTTP reverse proxy that counts requests and adds latency to each round trip.

It stands for a registry across the internet (DESIGN.md §6): every request, and every new
connection (a TCP handshake is a round trip too), waits `delay` seconds before it is forwarded.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class LatencyProxy:
    def __init__(self, upstream: str, delay: float = 0.0) -> None:
        self.upstream = upstream  # host:port
        self.delay = delay
        self.requests: Counter[str] = Counter()
        self.connections = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.connections = 0

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy.connections += 1
                time.sleep(proxy.delay)
                self.upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                with proxy._lock:
                    proxy.requests[f"{self.command} {self.path.split('/')[-2]}"] += 1
                time.sleep(proxy.delay)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                # Clients may repeat a header (skopeo sends one Accept per media type): keep all.
                headers = {
                    key: ", ".join(self.headers.get_all(key) or [])
                    for key in dict.fromkeys(self.headers.keys())
                    if key.lower() not in HOP_BY_HOP
                }
                self.upstream.request(self.command, self.path, body=body, headers=headers)
                answer = self.upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(key, value)
                # A HEAD answer keeps the upstream length: it describes the body it did not send.
                length_header = answer.getheader("Content-Length", "0")
                self.send_header(
                    "Content-Length", length_header if self.command == "HEAD" else str(len(data))
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _forward

        return Handler
