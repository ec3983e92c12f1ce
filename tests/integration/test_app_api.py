"""The app server client's manners, against a local HTTP server that counts and refuses.

The released app server allows 10 requests/s per client, delays the next 10 by a second and
answers 429 (Retry-After: 1) beyond; these tests pin pinbot's side of that: pacing across
threads and keys, and a refused POST sent again after Retry-After.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from pinbot.probe.http import AppApi


class Counting(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[float, str, str, dict[str, str]]]] = []
    refuse_first_post = True

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        Counting.seen.append((time.monotonic(), self.command, self.path, dict(self.headers)))
        if self.command == "POST" and Counting.refuse_first_post:
            Counting.refuse_first_post = False
            self._send(429, {"message": "Too many requests"}, {"Retry-After": "1"})
        elif self.path.startswith("/api/v1/settings") and self.command == "GET":
            self._send(404, {"error": "Settings not found"})
        elif self.path.startswith("/api/v1/sandboxes?") and self.command == "GET":
            self._send(200, [{"id": "s1", "status": "RUNNING"}])
        else:
            self._send(200, {"success": True})

    do_GET = do_POST = do_DELETE = _answer

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Counting.seen = []
    Counting.refuse_first_post = True
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_requests_to_one_app_server_stay_under_ten_a_second_across_threads_and_keys(
    server: str,
) -> None:
    apis = [AppApi(server, f"key-{n}", 10, "bearer") for n in range(3)]

    def hammer(api: AppApi) -> None:
        for _ in range(10):
            api.sandbox("s1")

    threads = [threading.Thread(target=hammer, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times = [t for t, *_ in Counting.seen]
    assert len(times) == 30
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 10


def test_a_post_refused_with_429_is_sent_again_after_its_retry_after(server: str) -> None:
    api = AppApi(server, "key", 10, "bearer")
    api.set_agent({"agent_kind": "acp", "acp_server": "codex"})
    posts = [(t, path) for t, method, path, _ in Counting.seen if method == "POST"]
    assert [path for _, path in posts] == ["/api/v1/settings", "/api/v1/settings"]
    assert posts[1][0] - posts[0][0] >= 0.9  # waited out Retry-After: 1


def test_a_fresh_server_has_no_settings_yet_and_that_is_not_an_error(server: str) -> None:
    assert AppApi(server, "key", 10, "bearer").settings() is None


def test_the_sandbox_delete_names_the_sandbox_in_the_query(server: str) -> None:
    AppApi(server, "key", 10, "bearer").delete_sandbox("abc123")
    assert [(m, p) for _, m, p, _ in Counting.seen] == [
        ("DELETE", "/api/v1/sandboxes/abc123?sandbox_id=abc123")
    ]


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [("bearer", "Authorization", "Bearer k-1"), ("session-key", "X-Session-API-Key", "k-1")],
)
def test_the_key_goes_in_the_header_the_server_takes(
    server: str, auth: str, header: str, value: str
) -> None:
    AppApi(server, "k-1", 10, auth).sandbox("s1")
    headers = Counting.seen[0][3]
    assert headers[header] == value
    other = "X-Session-API-Key" if header == "Authorization" else "Authorization"
    assert other not in headers
