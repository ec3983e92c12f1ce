"""The GitHub backend's waiting, against a loopback server (`responses` does not sleep)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pinbot.config import ROUTE_FILE
from pinbot.github.contents import GithubContents

SHA = "2" * 40


class Flaky(BaseHTTPRequestHandler):
    """429 with Retry-After: 1 on the first request, then a listing with the route file."""

    requests: list[float] = []  # noqa: RUF012 - shared on purpose, reset per test

    def do_GET(self) -> None:
        self.requests.append(time.monotonic())
        if len(self.requests) == 1:
            self.send_response(429)
            self.send_header("Retry-After", "1")
            body = b'{"message": "slow down"}'
        else:
            self.send_response(200)
            name = ROUTE_FILE.rsplit("/", 1)[1]
            body = json.dumps([{"name": name, "type": "file"}]).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    Flaky.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("GITHUB_API_URL", url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


def test_a_429_is_retried_after_the_time_github_asks_for(api: str) -> None:
    assert GithubContents("OpenHands/software-agent-sdk", timeout=5).has_file(SHA, ROUTE_FILE)
    first, second = Flaky.requests
    assert second - first >= 1.0
