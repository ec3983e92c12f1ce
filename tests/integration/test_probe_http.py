"""The probe's HTTP clients turn every way a server can fail into an ExternalError (exit 3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pinbot.errors import ExternalError
from pinbot.probe.http import AgentServerApi


class _Broken(BaseHTTPRequestHandler):
    """Says it sends a body of 100 bytes and sends 5: a reply requests cannot read."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b'{"a":')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def broken_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_reply_cut_short_is_an_external_error_not_a_crash(broken_server: str) -> None:
    api = AgentServerApi(broken_server, None, timeout=5)
    with pytest.raises(
        ExternalError, match=f"GET /server_info on the agent server at {broken_server} failed"
    ):
        api.server_info()
