"""A hostile world of our own on loopback: a registry that lies, and a host that listens.

`Liar` stands in front of the real Distribution registry and answers some requests itself
(first matching rule wins): a Link or redirect to another origin, a token realm elsewhere, a
trickle of one byte a second, a gzip bomb, malformed JSON. `Listener` is the other origin
(127.0.0.2: loopback, yet another host): it records every request and what credentials it
carried, so a test can prove that nothing reached it.
"""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from testing.loopback import HOP_BY_HOP, Loopback


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass
class Answer:
    """What a rule sends: a status, headers and a body (bytes, or chunks sent with `pause`
    seconds between them). `raw` replaces the whole response, status line included, sent a
    byte every `pause` seconds (a trickle of headers)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    pause: float = 0.0
    raw: bytes | None = None


Rule = Callable[[Seen], Answer | None]


class Server(Loopback):
    """A threaded HTTP/1.1 server on `host`; subclasses decide the answers."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.seen: list[Seen] = []
        super().__init__(host)

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def answer(self, request: Seen, body: bytes | None) -> Answer:
        return Answer(404)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Seen(self.command, self.path, headers)
                with server._lock:
                    server.seen.append(request)
                body = self._body()
                try:
                    self._send(server.answer(request, body))
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up: that is the point

            def _body(self) -> bytes | None:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    parts = []  # git sends big requests in chunks
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(parts)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else None

            def _send(self, answer: Answer) -> None:
                if answer.raw is not None:
                    for byte in answer.raw:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(answer.pause)
                    self.close_connection = True
                    return
                chunks = [answer.body] if isinstance(answer.body, bytes) else answer.body
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                if "Content-Length" in answer.headers:
                    pass  # a HEAD answer: the length of the body it does not send
                elif isinstance(answer.body, bytes):
                    self.send_header("Content-Length", str(len(answer.body)))
                else:
                    self.close_connection = True  # length unknown: the end is the close
                self.end_headers()
                if self.command == "HEAD":
                    return
                for chunk in chunks:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    time.sleep(answer.pause)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

        return Handler


class Listener(Server):
    """Another origin: answers every request with `reply` and remembers it."""

    def __init__(self, host: str = "127.0.0.2", reply: Answer | None = None) -> None:
        super().__init__(host)
        self.reply = reply or Answer(200, {"Content-Type": "application/json"}, b"{}")

    def answer(self, request: Seen, body: bytes | None) -> Answer:
        return self.reply

    def __enter__(self) -> Listener:
        super().__enter__()
        return self


class Ruled(Server):
    """A server some of whose answers come from rules a test sets (`on`)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.rules: list[tuple[str, str, Rule]] = []

    def on(self, method: str, path: str, rule: Rule) -> None:
        """Requests with `method` ("*": any) whose path matches the regex `path` go to `rule`
        (None from it: the server answers as it would)."""
        self.rules.append((method, path, rule))

    def ruled(self, request: Seen) -> Answer | None:
        for method, path, rule in self.rules:
            if method in ("*", request.method) and re.search(path, request.path):
                given = rule(request)
                if given is not None:
                    return given
        return None


class Liar(Ruled):
    """The real registry at `upstream` (host:port), except where a rule answers instead."""

    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.upstream = upstream

    def answer(self, request: Seen, body: bytes | None) -> Answer:
        return self.ruled(request) or self.forward(request, body)

    def forward(self, request: Seen, body: bytes | None) -> Answer:
        connection = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {k: v for k, v in request.headers.items() if k not in HOP_BY_HOP}
        connection.request(request.method, request.path, body=body, headers=headers)
        reply = connection.getresponse()
        data = reply.read()
        connection.close()
        kept = {k: v for k, v in reply.getheaders() if k.lower() not in HOP_BY_HOP}
        kept.pop("Content-Length", None)
        if request.method == "HEAD":
            return Answer(
                reply.status,
                {**kept, "Content-Length": reply.getheader("Content-Length", "0")},
                b"",
            )
        return Answer(reply.status, kept, data)

    def __enter__(self) -> Liar:
        super().__enter__()
        return self


def trickle(data: bytes) -> Iterator[bytes]:
    """`data` a byte at a time (the Answer's `pause` sets the rate)."""
    for byte in data:
        yield bytes([byte])
