"""Loopback HTTP reverse proxies: one that adds latency, one that also injects faults.

`LatencyProxy` stands for a registry across the internet (docs/benchmarks.md): every request, and
every new connection (a TCP handshake is a round trip too), waits `delay` seconds before it is
forwarded. With `remember`, a GET or HEAD the upstream answered 200 is answered from memory the
next time: the benchmarks' worlds do not change while they are measured, and a Distribution
registry on a loaded 2-core machine takes 3-10 ms a request (30+ ms each for 60 HEADs at once)
on top of `delay`, a cost of this machine that is not the registry latency being modelled.
`rounds` counts round trips in a row: a request (or a new connection) is one round deeper than
the deepest answer sent before it arrived.

`FaultProxy` adds rules: a request whose method and path match a rule gets the rule's answer
(a status, headers, a body, a delay, a stalled body or a dropped connection) instead of, or on
top of, the upstream's — how the fault tests make a real registry misbehave.
"""

from __future__ import annotations

import http.client
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from testing.loopback import HOP_BY_HOP, Loopback

Answer = tuple[int, list[tuple[str, str]], bytes]


@dataclass
class Rule:
    """What to do to requests whose method is `method` ("*": any) and path matches `path`.

    With `status`, the rule answers by itself; without, the upstream answers and the rule
    overrides `headers` and passes the body through `body` (bytes replace it, a function
    rewrites it). `delay` waits before answering, `drop` closes the connection without an
    answer, `stall` sends the headers and half the body, waits that long and hangs up.
    `times` applies the rule that many times, then lets requests through untouched."""

    method: str
    path: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | Callable[[bytes], bytes] | None = None
    delay: float = 0.0
    drop: bool = False
    stall: float = 0.0
    times: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        spent = self.times is not None and self.hits >= self.times
        return not spent and self.method in ("*", method) and re.search(self.path, path) is not None

    def answer(self, upstream: Answer | None) -> Answer:
        status, headers, data = upstream or (self.status or 200, [], b"")
        if self.status is not None:
            status = self.status
        if callable(self.body):
            data = self.body(data)
        elif self.body is not None:
            data = self.body
        names = {name.lower() for name in self.headers}
        kept = [(k, v) for k, v in headers if k.lower() not in names]
        return status, [*kept, *self.headers.items()], data


class LatencyProxy(Loopback):
    def __init__(self, upstream: str, delay: float = 0.0, remember: bool = False) -> None:
        self.upstream = upstream  # host:port
        self.delay = delay
        self.remember = remember
        self._answers: dict[tuple[str, str, str], Answer] = {}  # (method, path, Accept) -> 200
        self.requests: Counter[str] = Counter()
        self.connections = 0
        self.in_flight = 0
        self.peak = 0  # the most requests in flight at once since the last reset
        # When the first connection since the last reset arrived (time.perf_counter): how long
        # a client took to start up before its first round trip.
        self.first: float | None = None
        self.rounds = 0  # the deepest request since the last reset (see the module's doc)
        self._epoch = 0  # resets so far: a connection from before the last one counts no round
        super().__init__()

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.connections = 0
            self.peak = 0
            self.first = None
            self.rounds = 0
            self._epoch += 1

    def rule_for(self, method: str, path: str) -> Rule | None:
        """The fault to apply to this request: none here (see FaultProxy)."""
        return None

    def local(self, method: str, path: str) -> Answer | None:
        """An answer the proxy gives by itself, without asking upstream: none here (see
        testing's GhcrLike, which lists tags the way ghcr does)."""
        return None

    def upstream_path(self, path: str) -> str:
        """Where upstream a request goes: where it was sent, here."""
        return path

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes; with Nagle on, the body waits for the
            # client's delayed ACK (40 ms on Linux) and every kept-alive request pays it on top
            # of `delay`. A registry across the internet does not add that: turn Nagle off.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy.connections += 1
                    proxy.first = proxy.first or time.perf_counter()
                    self.depth = (proxy._epoch, proxy.rounds + 1)  # the handshake's round trip
                time.sleep(proxy.delay)
                self.upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                with proxy._lock:
                    proxy.requests[f"{self.command} {self.path.split('/')[-2]}"] += 1
                    proxy.in_flight += 1
                    proxy.peak = max(proxy.peak, proxy.in_flight)
                    epoch, handshake = self.depth
                    depth = max(proxy.rounds, handshake if epoch == proxy._epoch else 0) + 1
                try:
                    self._answer()
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1
                        proxy.rounds = max(proxy.rounds, depth)

            def _answer(self) -> None:
                time.sleep(proxy.delay)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                local = proxy.local(self.command, self.path)
                if local is not None:
                    self._send(*local)
                    return
                rule = proxy.rule_for(self.command, self.path)
                if rule is None:
                    self._send(*self._upstream(body))
                    return
                time.sleep(rule.delay)
                if rule.drop:
                    self.close_connection = True  # hang up without a word
                    return
                upstream = None if rule.status is not None else self._upstream(body)
                self._send(*rule.answer(upstream), stall=rule.stall)

            def _upstream(self, body: bytes | None) -> Answer:
                # Clients may repeat a header (skopeo sends one Accept per media type): keep all.
                headers = {
                    key: ", ".join(self.headers.get_all(key) or [])
                    for key in dict.fromkeys(self.headers.keys())
                    if key.lower() not in HOP_BY_HOP
                }
                path = proxy.upstream_path(self.path)
                key = (self.command, path, headers.get("Accept", ""))
                if proxy.remember and (known := proxy._answers.get(key)):
                    return known
                self.upstream.request(self.command, path, body=body, headers=headers)
                answer = self.upstream.getresponse()
                data = answer.read()
                kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP]
                if proxy.remember and answer.status == 200 and self.command in ("GET", "HEAD"):
                    proxy._answers[key] = (answer.status, kept, data)
                return answer.status, kept, data

            def _send(
                self, status: int, headers: list[tuple[str, str]], data: bytes, stall: float = 0.0
            ) -> None:
                self.send_response(status)
                for key, value in headers:
                    if key.lower() != "content-length":
                        self.send_header(key, value)
                # A HEAD answer keeps the upstream length: it describes the body it did not send.
                given = dict((k.lower(), v) for k, v in headers).get("content-length", "0")
                self.send_header(
                    "Content-Length", given if self.command == "HEAD" else str(len(data))
                )
                self.end_headers()
                if self.command == "HEAD":
                    return
                if stall:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    time.sleep(stall)
                    self.close_connection = True
                    return
                self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _forward

        return Handler


class FaultProxy(LatencyProxy):
    """A LatencyProxy whose rules (first match wins) make the upstream misbehave on purpose."""

    def __init__(self, upstream: str, delay: float = 0.0) -> None:
        super().__init__(upstream, delay)
        self.rules: list[Rule] = []

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def rule_for(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    return rule
        return None

    def __enter__(self) -> FaultProxy:
        super().__enter__()
        return self
