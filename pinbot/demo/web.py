"""A tiny JSON-over-HTTP server on the standard library, shared by the stand-in servers."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Reply(Exception):
    """Raise from a route to answer with `status` and a JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler, match: re.Match[str]) -> None:
        parts = urlsplit(handler.path)
        self.query = parse_qs(parts.query)
        self.params = match.groupdict()
        self.headers = handler.headers
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        self.body: Any = json.loads(raw) if raw else {}

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        """Repeated (`ids=a&ids=b`) or comma-separated (`ids=a,b`) values."""
        return [v for value in self.query.get(name, []) for v in value.split(",") if v]


Route = tuple[str, re.Pattern[str], Callable[[Request], tuple[int, Any]]]


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.before: Callable[[str, str, Request], None] | None = None

    def add(self, method: str, pattern: str) -> Callable[[Any], Any]:
        def register(func: Callable[[Request], tuple[int, Any]]) -> Any:
            self.routes.append((method, re.compile(pattern + r"\Z"), func))
            return func

        return register

    def dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> tuple[int, Any]:
        path = urlsplit(handler.path).path
        for verb, pattern, func in self.routes:
            match = pattern.match(path)
            if match and verb == method:
                request = Request(handler, match)
                if self.before is not None:
                    self.before(method, path, request)
                return func(request)
        return 404, {"detail": f"no route {method} {path}"}


def serve(router: Router, port: int) -> ThreadingHTTPServer:
    """Serve `router` on 127.0.0.1:`port` in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes: without this, each kept-alive answer waits
        # for the client's delayed ACK (40 ms), which the real servers do not make anyone wait.
        disable_nagle_algorithm = True

        def _handle(self, method: str) -> None:
            try:
                status, body = router.dispatch(self, method)
            except Reply as reply:
                status, body = reply.status, reply.body
            except Exception as exc:  # a stand-in bug or a dead sandbox: say so, like a 500 would
                status, body = 500, {"detail": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read the probe's output, not ours

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def page(items: list[Any], request: Request, cap: int) -> dict[str, Any]:
    """`{items, next_page_id}` paging by offset, at most `cap` items a page."""
    start = int(request.arg("page_id") or 0)
    limit = min(int(request.arg("limit") or 100), cap)
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return {"items": chunk, "next_page_id": str(start + limit) if more else None}
