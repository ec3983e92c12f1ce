"""The one way pinbot makes an HTTP session: bounded retries that honour Retry-After (capped),
and environment settings read once.

Used by the registry client, the package index client, the SDK's GitHub contents client and the
probe's API clients; `fetch` is the bounded request the registry and the package index make
(a total deadline, a cap on the decoded body).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pinbot.errors import ExternalError

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

MAX_RETRY_AFTER = 30.0
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
CHUNK = 16384


class CappedRetry(Retry):
    """urllib3 Retry with a capped Retry-After: a server asking for an hour cannot hang us."""

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, MAX_RETRY_AFTER)


def session(
    base_url: str,
    *,
    retries: int = 4,
    read: int = 2,
    backoff: float = 0.3,
    methods: Collection[str] = ("GET", "HEAD"),
    pool: int = 10,
) -> requests.Session:
    """A session for `base_url`: idempotent `methods` retry on connection errors, 408, 429, 5xx."""
    retry = CappedRetry(
        total=retries,
        connect=retries,
        read=read,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset(methods),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    http = requests.Session()
    adapter = Adapter(max_retries=retry, pool_connections=4, pool_maxsize=pool)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    # requests re-reads proxy settings from the whole environment on every request, a
    # millisecond each on a CI runner; a scan makes hundreds. Read them once, for this server
    # (HTTPS_PROXY/NO_PROXY still apply), with the CA bundle variables requests would honour.
    http.trust_env = False
    http.proxies = requests.utils.get_environ_proxies(base_url)
    http.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return http


# Deadlines. A socket timeout bounds one read, not a request: a server sending a byte a second
# never trips it. A request run inside `deadline(seconds)` has its sockets shut down by one
# watchdog thread when the time is up, headers and body alike, and `abort_all` shuts every
# socket pinbot has open at once (Ctrl-C during a stuck read).


class _Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadlines: dict[int, float] = {}
        self._sockets: dict[int, list[socket.socket]] = {}
        self._expired: set[int] = set()
        self._counter = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._wake_at = 0.0  # when the watchdog wakes next, at the latest

    def begin(self, seconds: float) -> int:
        with self._cond:
            key = next(self._counter)
            at = self._deadlines[key] = time.monotonic() + seconds
            self._sockets[key] = []
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pinbot-deadlines")
                self._thread.daemon = True
                self._thread.start()
            if at < self._wake_at:  # else the watchdog wakes in time: no thread switch a request
                self._cond.notify()
            return key

    def watch(self, key: int, sock: socket.socket) -> None:
        with self._cond:
            if key in self._expired:
                _shut(sock)
            elif key in self._sockets:
                self._sockets[key].append(sock)

    def end(self, key: int) -> bool:
        """Stop watching; True if the deadline had passed (its sockets were shut down)."""
        with self._cond:
            self._deadlines.pop(key, None)
            self._sockets.pop(key, None)
            expired = key in self._expired
            self._expired.discard(key)
            return expired

    def expired(self, key: int) -> bool:
        with self._cond:
            return key in self._expired

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for key, at in list(self._deadlines.items()):
                    if at <= now:
                        self._expired.add(key)
                        del self._deadlines[key]
                        for sock in self._sockets.get(key, []):
                            _shut(sock)
                self._wake_at = min(self._deadlines.values(), default=now + 60)
                self._cond.wait(max(self._wake_at - now, 0.01))


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()
_current = threading.local()
_open: weakref.WeakSet[urllib3.connection.HTTPConnection] = weakref.WeakSet()


class DeadlineExceeded(Exception):
    """A request did not finish within its deadline (its sockets were shut down)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Callable[[], bool]]:
    """Requests made by this thread inside the block end within `seconds`; yields a function
    that says whether the time is up (a failed read then means the deadline, not the server)."""
    key = _WATCHDOG.begin(max(seconds, 0.0))
    previous = getattr(_current, "key", None)
    _current.key = key
    try:
        yield lambda: _WATCHDOG.expired(key)
    finally:
        _current.key = previous
        _WATCHDOG.end(key)


_aborted = threading.Event()


def abort_all() -> None:
    """Shut down every connection pinbot has open, and every one it opens from now on (a
    retry must not start a new wait): blocked reads in any thread return now."""
    _aborted.set()
    for connection in list(_open):
        if connection.sock is not None:
            _shut(connection.sock)


def reset() -> None:
    """A new run (in the same process) may talk again."""
    _aborted.clear()


def _watch(connection: urllib3.connection.HTTPConnection) -> None:
    _open.add(connection)
    if _aborted.is_set() and connection.sock is not None:
        _shut(connection.sock)
    key = getattr(_current, "key", None)
    if key is not None and connection.sock is not None:
        _WATCHDOG.watch(key, connection.sock)


class _HTTPConnection(urllib3.connection.HTTPConnection):
    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        _watch(self)
        return super().getresponse()


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        _watch(self)
        return super().getresponse()


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def own_pool(http: requests.Session, url: str) -> urllib3.HTTPConnectionPool | None:
    """The connection pool `http` sends `url`'s requests through, when the transport is pinbot's
    own `Adapter`, direct (no proxy) and as requests ships it: then `fetch` and `open_ahead` use
    the pool itself. None when a proxy is set or a test has replaced the adapter's `send` (the
    `responses` fake): requests then carries every request, so the replacement sees them all."""
    adapter = http.get_adapter(url)
    if not isinstance(adapter, Adapter) or http.proxies:
        return None
    if getattr(HTTPAdapter.send, "__module__", None) != "requests.adapters":
        return None
    target = requests.PreparedRequest()
    target.url = url  # all the adapter reads to choose a pool
    try:
        pool = adapter.get_connection_with_tls_context(target, http.verify, None)
    except (ValueError, requests.RequestException, urllib3.exceptions.HTTPError):
        return None  # the request itself, through requests, will say what is wrong
    return pool if isinstance(pool, urllib3.HTTPConnectionPool) else None


def open_ahead(http: requests.Session, url: str, count: int, timeout: float) -> None:
    """Open up to `count` more connections to `url`'s server in the background, each left idle
    in `http`'s pool: requests about to go out side by side then find them open and pay no
    handshake (a TCP, and often a TLS, round trip) of their own. Best effort: a connection that
    does not open is put back closed, and the request that takes it opens its own."""
    pool = own_pool(http, url)
    if pool is None:
        return
    # Taken out of the pool all at once, or a thread would take back one already opened.
    for connection in [pool._get_conn() for _ in range(count)]:
        threading.Thread(target=_open_one, args=(pool, connection, timeout), daemon=True).start()


def _open_one(
    pool: urllib3.HTTPConnectionPool,
    connection: BaseHTTPConnection,
    timeout: float,
) -> None:
    try:
        if not connection.is_connected:
            connection.timeout = timeout
            connection.connect()
    except Exception:  # best effort, in the background: the request that takes it will see
        connection.close()
    finally:
        pool._put_conn(connection)


class Adapter(HTTPAdapter):
    """An HTTPAdapter whose connections the deadline watchdog and abort_all can reach."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> urllib3.PoolManager:
        manager: urllib3.PoolManager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        return manager


NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


@dataclass(frozen=True)
class Reply:
    """A server's answer, its body already read within the deadline and the size cap."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def is_redirect(self) -> bool:
        return self.status_code in (301, 302, 303, 307, 308) and "Location" in self.headers


def fetch(
    http: requests.Session,
    method: str,
    url: str,
    *,
    what: str,
    budget: float,
    timeout: float,
    limit: int,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
) -> Reply:
    """One request, redirects not followed, its body read (decoded, at most `limit` bytes; none
    for HEAD, a redirect or an error status), all of it, retries included, within `budget`
    seconds. Raises BodyTooLarge, DeadlineExceeded (whatever error the time being up caused),
    or one of NETWORK_ERRORS."""
    request = _Request(method, url, dict(headers or {}), params, auth, timeout, limit, what)
    with deadline(budget) as expired:
        try:
            pool = own_pool(http, url)
            reply = _through_pool(http, pool, request) if pool else _through_requests(http, request)
        except NETWORK_ERRORS:
            if expired():
                raise DeadlineExceeded from None
            raise
        if expired():
            raise DeadlineExceeded  # the body may have been cut short
        return reply


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    params: Mapping[str, str] | None
    auth: tuple[str, str] | None
    timeout: float
    limit: int
    what: str

    def wants_body(self, status: int) -> bool:
        return self.method != "HEAD" and status < 300


def _through_requests(http: requests.Session, request: _Request) -> Reply:
    with http.request(
        request.method, request.url, headers=request.headers, params=request.params,
        auth=request.auth, timeout=request.timeout, allow_redirects=False, stream=True,
    ) as response:  # fmt: skip
        wanted = request.wants_body(response.status_code)
        body = read_body(response, request.limit, request.what) if wanted else b""
    return Reply(response.status_code, response.headers, body)


def _through_pool(
    http: requests.Session, pool: urllib3.HTTPConnectionPool, request: _Request
) -> Reply:
    """The request straight through pinbot's own pool, with the session's headers and the
    adapter's retries: what requests would send, without its per-request work (a scan makes
    hundreds, and a warm one sends sixty HEADs at once)."""
    adapter = http.get_adapter(request.url)
    retries = adapter.max_retries if isinstance(adapter, HTTPAdapter) else None
    try:
        response = pool.urlopen(
            request.method, _path(request), headers=_headers(http, request), retries=retries,
            timeout=urllib3.Timeout(connect=request.timeout, read=request.timeout),
            redirect=False, assert_same_host=False, preload_content=False, decode_content=False,
        )  # fmt: skip
    except urllib3.exceptions.HTTPError as exc:
        raise _as_requests_error(exc) from exc
    try:
        body = _body(response, request)
    except BaseException:
        response.close()
        raise
    finally:
        response.release_conn()
    return Reply(response.status, response.headers, body)


def _headers(http: requests.Session, request: _Request) -> dict[str, str]:
    """The session's headers (User-Agent, Accept-Encoding, ...) under the request's own."""
    headers = requests.structures.CaseInsensitiveDict(http.headers)
    headers.update(request.headers)
    if request.auth:
        headers.update(urllib3.util.make_headers(basic_auth=":".join(request.auth)))
    return {name: value for name, value in headers.items() if isinstance(value, str)}


def _body(response: urllib3.BaseHTTPResponse, request: _Request) -> bytes:
    """The body read, or none: a HEAD's connection goes back to the pool open; a body left
    unread (an error's, a redirect's) closes its connection."""
    if request.wants_body(response.status):
        return _read(response.headers, response, request.limit, request.what)
    if request.method == "HEAD":
        response.drain_conn()
    else:
        response.close()
    return b""


def _path(request: _Request) -> str:
    parts = urllib.parse.urlsplit(request.url)
    query = "&".join(
        part for part in (parts.query, urllib.parse.urlencode(request.params or {})) if part
    )
    return (parts.path or "/") + (f"?{query}" if query else "")


def _as_requests_error(exc: urllib3.exceptions.HTTPError) -> requests.RequestException:
    """urllib3's error as requests names it (the names pinbot's messages show)."""
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    if isinstance(reason, urllib3.exceptions.ResponseError):
        return requests.exceptions.RetryError(exc)
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return requests.exceptions.ConnectTimeout(exc)
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
        return requests.exceptions.ReadTimeout(exc)
    if isinstance(reason, urllib3.exceptions.SSLError):
        return requests.exceptions.SSLError(exc)
    return requests.exceptions.ConnectionError(exc)


def json_answer(body: bytes, what: str, kind: str) -> Any:
    """The JSON a server sent as `what` (meant to be `kind`), or an error that says so."""
    try:
        return json.loads(body)
    except ValueError:
        raise ExternalError(f"{what} is not valid JSON (truncated answer?); try again") from None
    except RecursionError:
        raise ExternalError(f"{what} nests JSON too deep to be {kind}") from None


def read_body(response: requests.Response, limit: int, what: str) -> bytes:
    """The decoded body of a streamed response, refusing more than `limit` bytes (a gzip bomb
    stays small: urllib3 decodes at most what each read asks for)."""
    try:
        return _read(response.headers, response.raw, limit, what)
    except BodyTooLarge:
        response.close()
        raise


def _read(
    headers: Mapping[str, str], raw: urllib3.BaseHTTPResponse, limit: int, what: str
) -> bytes:
    declared = headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit and not headers.get("Content-Encoding"):
        raise BodyTooLarge(what, limit)
    parts: list[bytes] = []
    size = 0
    for chunk in raw.stream(CHUNK, decode_content=True):
        size += len(chunk)
        if size > limit:
            raw.close()
            raise BodyTooLarge(what, limit)
        parts.append(chunk)
    return b"".join(parts)


class BodyTooLarge(Exception):
    """A response body over its size cap: `what` it was and the `limit` in bytes."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"more than {size_text(limit)} for the {what}")
        self.what = what
        self.limit = limit

    def told(self, sender: str, what: str | None = None) -> str:
        """The error as pinbot says it: `sender` (who sent it) sent more than the cap for `what`."""
        cap = size_text(self.limit)
        return (
            f"{sender} sent more than {cap} for {what or self.what}; pinbot stops reading at {cap}"
        )


def size_text(limit: int) -> str:
    """A cap as people say it: `16 MiB`, `64 KiB`."""
    if limit >= 1 << 20 and limit % (1 << 20) == 0:
        return f"{limit >> 20} MiB"
    if limit >= 1 << 10 and limit % (1 << 10) == 0:
        return f"{limit >> 10} KiB"
    return f"{limit} bytes"
