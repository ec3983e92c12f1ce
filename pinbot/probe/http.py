"""HTTP clients for the OpenHands app server (`/api/v1`) and an agent server (`/api/...`).

Every request has a timeout and a total deadline (`REQUEST_BUDGET` timeouts, retries included:
a server sending a byte a second cannot hold the probe); a reply is read up to `MAX_BODY` and
must be JSON of the shape the caller reads (objects where objects are read, lists of objects
where lists are), so a server that lies about its shape is an `ApiError`, never a crash.
Idempotent calls (GET, DELETE) are retried on 408/429/5xx with back-off that honours
Retry-After; connection failures are retried for every method (nothing was sent). Errors become
`ApiError` (exit 3) with a message that names the server and what to do. Keys travel in headers
only and never appear in a message.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from pinbot import httpclient
from pinbot.errors import ExternalError

MAX_PAGES = 1000
MAX_BODY = 16 << 20  # a page of events is tens of KB
REQUEST_BUDGET = 4  # a request, retries included, may take this many timeouts
BROKEN = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
APP_RATE = 8.0  # requests/s to one app server: under its 10/s limit (then delays, then 429)
# The fields of an event and of a conversation the probe reads: what the item is, the field it
# reads as an object, those it reads as strings.
Fields = tuple[str, str, tuple[str, ...]]
EVENT_FIELDS: Fields = ("an event", "action", ("kind", "tool_name"))
CONVERSATION_FIELDS: Fields = (
    "a conversation",
    "agent_state",
    ("execution_status", "last_user_message_id"),
)


class ApiError(ExternalError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def make_session(base_url: str, retries: int = 3) -> requests.Session:
    return httpclient.session(
        base_url, retries=retries, read=retries, backoff=0.2, methods=("GET", "DELETE", "HEAD")
    )


class Api:
    """One server: base URL, auth header, timeout, and how to advise on a refused key."""

    what = "server"
    key_advice = "check the key"

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.timeout = timeout
        self.http = make_session(self.base_url)

    def call(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        url = self.base_url + path
        self.pace()
        try:
            status, reason, data = self.fetch(method, url, self.timeout, json=body, params=params)
        except requests.ConnectionError as exc:
            raise ApiError(
                f"the {self.what} at {self.base_url} does not answer ({_reason(exc)}): "
                "check the URL and that the server is running"
            ) from None
        except requests.Timeout:
            raise ApiError(
                f"the {self.what} at {self.base_url} did not answer {method} {path} "
                f"within {self.timeout:.0f}s"
            ) from None
        except requests.RequestException as exc:  # retries used up, a broken reply, ...
            raise ApiError(
                f"{method} {path} on the {self.what} at {self.base_url} failed: {exc}"
            ) from None
        return self._decode(method, path, status, reason, data)

    def fetch(self, method: str, url: str, timeout: float, **kwargs: Any) -> tuple[int, str, bytes]:
        """(status, reason, body): the body read to its end within the request's deadline and
        up to MAX_BODY, or an ApiError that says which bound the server broke."""
        what = f"{method} {url.removeprefix(self.base_url)}"
        budget = timeout * REQUEST_BUDGET
        with httpclient.deadline(budget) as expired:
            try:
                with self.http.request(
                    method, url, headers=self.headers, timeout=timeout, stream=True, **kwargs
                ) as response:
                    data = httpclient.read_body(response, MAX_BODY, what)
                    if expired():
                        raise httpclient.DeadlineExceeded  # the body may have been cut short
                    return response.status_code, str(response.reason or ""), data
            except httpclient.BodyTooLarge as exc:
                raise ApiError(exc.told(f"the {self.what} at {self.base_url}")) from None
            except (httpclient.DeadlineExceeded, *BROKEN) as exc:
                if isinstance(exc, requests.RequestException) and not expired():
                    raise
                if not (expired() or isinstance(exc, httpclient.DeadlineExceeded)):
                    # a body cut short, as requests would have said had it read it
                    raise requests.exceptions.ChunkedEncodingError(exc) from None
                raise ApiError(
                    f"the {self.what} at {self.base_url} did not finish answering {what} within "
                    f"{budget:.0f} s (it answers too slowly or not at all): check the server"
                ) from None

    def pace(self) -> None:
        """Wait before a request when the server limits its clients' rate (`Pacer`)."""

    def _decode(self, method: str, path: str, status: int, reason: str, data: bytes) -> Any:
        if status in (401, 403):
            raise ApiError(
                f"the {self.what} at {self.base_url} refused the key (HTTP {status} "
                f"on {method} {path}): {self.key_advice}",
                status,
            )
        if status >= 400:
            advice = (
                f"; the {self.what} failed: check its logs, then re-run" if status >= 500 else ""
            )
            raise ApiError(
                f"the {self.what} answered {method} {path} with HTTP {status}: "
                f"{_detail(data, reason)}{advice}",
                status,
            )
        if not data:
            return None
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise ApiError(
                f"the {self.what} at {self.base_url} answered {method} {path} with something "
                "that is not JSON (or nests too deep): check the server"
            ) from None

    def object(self, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        """`call` whose answer must be a JSON object (nothing: an empty one)."""
        found = self.call(method, path, body, **kwargs)
        if found is None:
            return {}
        if not isinstance(found, dict):
            raise self.wrong_shape(method, path, "not a JSON object")
        return found

    def objects(self, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        """`call` whose answer must be a list of JSON objects (nothing: an empty one)."""
        found = self.call(method, path, **kwargs)
        if found is None:
            return []
        if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
            raise self.wrong_shape(method, path, "not a list of JSON objects")
        return found

    def wrong_shape(self, method: str, path: str, problem: str) -> ApiError:
        return ApiError(
            f"the {self.what} at {self.base_url} answered {method} {path} with {problem}: "
            "check the server"
        )

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a `{items, next_page_id}` search, with a loop guard."""
        return follow_pages(lambda page_id: self._page(path, params, page_id))

    def _page(self, path: str, params: dict[str, Any], page_id: str | None) -> dict[str, Any]:
        query = dict(params, page_id=page_id) if page_id else dict(params)
        page = self.object("GET", path, params=query)
        items, following = page.get("items") or [], page.get("next_page_id")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise self.wrong_shape("GET", path, "'items' that are not a list of objects")
        if following is not None and not isinstance(following, str):
            raise self.wrong_shape("GET", path, "a 'next_page_id' that is not a string")
        for item in items:
            self.check_fields(path, item, EVENT_FIELDS)
        return page

    def check_fields(self, path: str, item: dict[str, Any], fields: Fields) -> None:
        """The fields of `item` the probe reads (`EVENT_FIELDS`, ...), of the types it reads
        them as; else GET `path` answered with the wrong shape."""
        what, an_object, strings = fields
        if not isinstance(item.get(an_object) or {}, dict):
            raise self.wrong_shape("GET", path, f"{what} whose {an_object!r} is not an object")
        for key in strings:
            if not isinstance(item.get(key) or "", str):
                raise self.wrong_shape("GET", path, f"{what} whose {key!r} is not a string")


def follow_pages(fetch: Callable[[str | None], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    page_id: str | None = None
    for _ in range(MAX_PAGES):
        found = fetch(page_id)
        yield from found.get("items") or []
        page_id = found.get("next_page_id")
        if not page_id:
            return
        if page_id in seen:
            raise ApiError(f"the server repeated page id {page_id!r}: its paging loops")
        seen.add(page_id)
    raise ApiError(f"the server returned more than {MAX_PAGES} pages of events")


class AppRetry(httpclient.CappedRetry):
    """Also retry a POST refused with 429: the server turned it away unread, so it is safe."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429:
            return bool(self.total)
        return bool(super().is_retry(method, status_code, has_retry_after))


def _app_adapter() -> HTTPAdapter:
    retry = AppRetry(
        total=4,
        connect=3,
        read=3,
        status=4,
        backoff_factor=0.5,
        status_forcelist=httpclient.RETRY_STATUSES,
        allowed_methods=frozenset(("GET", "DELETE", "HEAD")),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    return httpclient.Adapter(max_retries=retry, pool_connections=4, pool_maxsize=10)


def _reason(exc: Exception) -> str:
    text = str(exc)
    for known in ("Connection refused", "Name or service not known", "timed out"):
        if known in text:
            return known.lower()
    return type(exc).__name__


def _detail(data: bytes, reason: str) -> str:
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return data[:200].decode("utf-8", "replace") or reason
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:200]
    return str(body)[:200]


def message(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}], "run": True}


class AgentServerApi(Api):
    what = "agent server"
    key_advice = "set PINBOT_SESSION_API_KEY to one of the server's OH_SESSION_API_KEYS_*"

    def __init__(self, base_url: str, session_key: str | None, timeout: float = 30.0) -> None:
        headers = {"X-Session-API-Key": session_key} if session_key else {}
        super().__init__(base_url, headers, timeout)

    def health(self) -> bool:
        """Up and answering; a refused connection (or a stalled answer) is just 'not yet'."""
        try:
            return self.fetch("GET", f"{self.base_url}/health", 2.0)[0] == 200
        except (requests.RequestException, ApiError):
            return False

    def server_info(self) -> dict[str, Any]:
        return self.object("GET", "/server_info")

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.object("POST", "/api/conversations", body)

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        path = f"/api/conversations/{conversation_id}"
        found = self.object("GET", path)
        self.check_fields(path, found, CONVERSATION_FIELDS)
        return found

    def send(self, conversation_id: str, text: str) -> None:
        self.call("POST", f"/api/conversations/{conversation_id}/events", message(text))

    def events(self, conversation_id: str) -> list[dict[str, Any]]:
        path = f"/api/conversations/{conversation_id}/events/search"
        return list(self.pages(path, {"limit": 100}))

    def delete(self, conversation_id: str) -> None:
        self.call("DELETE", f"/api/conversations/{conversation_id}")


class Pacer:
    """At most `rate` requests per second, shared by every thread (and key) of one client."""

    def __init__(self, rate: float) -> None:
        self.gap = 1.0 / rate
        self.lock = threading.Lock()
        self.next = 0.0

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next)
            self.next = start + self.gap
        time.sleep(start - now)


_PACERS: dict[str, Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(base_url: str) -> Pacer:
    """The app server counts requests per client, not per key: one pacer per server."""
    with _PACERS_LOCK:
        return _PACERS.setdefault(base_url, Pacer(APP_RATE))


# How an app server takes its key: OpenHands API keys as a bearer token; a server started with
# SESSION_API_KEY accepts only that key, in X-Session-API-Key.
APP_AUTH = {"bearer": "Authorization", "session-key": "X-Session-API-Key"}


class AppApi(Api):
    what = "app server"

    def __init__(
        self, base_url: str, api_key: str, timeout: float = 30.0, auth: str = "bearer"
    ) -> None:
        header = APP_AUTH[auth]
        value = f"Bearer {api_key}" if auth == "bearer" else api_key
        super().__init__(base_url.rstrip("/") + "/api/v1", {header: value}, timeout)
        self.key_advice = (
            "set PINBOT_APP_API_KEY to an API key of this app server (OpenHands: Settings → "
            "API Keys), or, for a server started with SESSION_API_KEY, to that key with "
            "--app-auth session-key"
            if auth == "bearer"
            else "set PINBOT_APP_API_KEY to the SESSION_API_KEY the app server was started "
            "with, or use --app-auth bearer for an API key"
        )
        self.pacer = pacer_for(self.base_url)
        for scheme in ("http://", "https://"):
            self.http.mount(scheme, _app_adapter())

    def pace(self) -> None:
        self.pacer.wait()

    def settings(self) -> dict[str, Any] | None:
        """The account's settings; None on a fresh server (404 until settings are saved once)."""
        try:
            return self.object("GET", "/settings")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def set_agent(self, diff: dict[str, Any]) -> None:
        self.call("POST", "/settings", {"agent_settings_diff": diff})

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.object("POST", "/app-conversations", body)

    def start_task(self, task_id: str) -> dict[str, Any] | None:
        found = self.objects("GET", "/app-conversations/start-tasks", params={"ids": task_id})
        return found[0] if found else None

    def send(self, conversation_id: str, text: str) -> None:
        self.call("POST", f"/app-conversations/{conversation_id}/send-message", message(text))

    def events(self, conversation_id: str, since: str | None = None) -> list[dict[str, Any]]:
        """The app's stored events of a conversation, from `since` (the server's time) on."""
        params: dict[str, Any] = {"limit": 100}
        if since:
            params["timestamp__gte"] = since
        return list(self.pages(f"/conversation/{conversation_id}/events/search", params))

    def sandbox(self, sandbox_id: str) -> dict[str, Any] | None:
        found = self.objects("GET", "/sandboxes", params={"id": sandbox_id})
        return found[0] if found else None

    def pause(self, sandbox_id: str) -> None:
        self.call("POST", f"/sandboxes/{sandbox_id}/pause")

    def resume(self, sandbox_id: str) -> None:
        self.call("POST", f"/sandboxes/{sandbox_id}/resume")

    def delete_sandbox(self, sandbox_id: str) -> None:
        # the released server reads the id from the query (422 without it), not from the path
        self.call("DELETE", f"/sandboxes/{sandbox_id}", params={"sandbox_id": sandbox_id})

    def delete_conversation(self, conversation_id: str) -> None:
        self.call("DELETE", f"/app-conversations/{conversation_id}")
