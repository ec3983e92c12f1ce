"""Read images from an OCI distribution registry over HTTP(S), trusting nothing.

Every manifest and blob is checked against its digest. Every request has a timeout; idempotent
requests back off on 408/429/5xx and honour Retry-After (capped, so no answer can hang a run).
Tag lists follow `Link: <...>; rel="next"` with a loop guard. Plain HTTP only for loopback hosts.

Credentials stay with their origin: they go only to the endpoint's own scheme, host and port
(TLS, or true loopback), and only when the token is configured for that registry
(`PINBOT_REGISTRY_TOKEN_HOST`, default ghcr.io). A `Link` or a redirect to another origin is
refused (a blob may be fetched from another https origin without credentials: ghcr redirects
blob downloads to its storage host, and a blob is checked against its digest). A token service
(`realm`) on plain HTTP to a non-loopback host gets nothing; one on another host gets no
credentials.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import requests

from pinbot import httpclient, output
from pinbot.errors import ExternalError, UsageError
from pinbot.model import DIGEST_RE, ImageName, is_loopback_host
from pinbot.registry.documents import ACCEPT, NotFound, Source, json_object, tag_list

MAX_PAGES = 1000
# ghcr pages 100 tags at a time unless asked for more, and its agent-server repository lists
# thousands: ask for big pages, or the listing alone costs a round trip per hundred tags.
PAGE_SIZE = 10_000
MAX_TAGS = 100_000
MAX_REDIRECTS = 5
# Bounds on what one answer may be (decoded: a gzip bomb is cut off at the cap) and on how long
# a request (retries included) and a command's registry traffic may take, in http_timeouts.
MAX_MANIFEST = 4 << 20  # the distribution spec lets registries refuse bigger manifests
MAX_BLOB = 16 << 20  # a config blob: tens of KB in practice
MAX_PAGE = 16 << 20
MAX_TOKEN_ANSWER = 64 << 10
REQUEST_BUDGET = 4
COMMAND_BUDGET = 40
TOKEN_HOST_ENV = "PINBOT_REGISTRY_TOKEN_HOST"
DEFAULT_TOKEN_HOST = "ghcr.io"
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,8192}\Z")  # RFC 6750 b64token, bounded
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistrySource(Source):
    """OCI distribution API over HTTP(S), with the anonymous (or credentialed) bearer-token flow."""

    def __init__(
        self,
        name: ImageName,
        endpoint: str | None = None,
        timeout: float = 30.0,
        pool: int = 8,
        session: requests.Session | None = None,
        mask: Callable[[str], None] = lambda secret: None,
    ) -> None:
        self.name = name
        self.mask = mask  # every credential we read or derive: never printed, masked in CI
        self.base = _base_url(endpoint or name.registry)
        # What to check when it cannot be reached: the --registry-url given, or else offer one.
        self._reach_advice = (
            "check the URL and the network (it is the --registry-url given)"
            if endpoint
            else "check the URL and the network, or pass --registry-url to use a mirror"
        )
        self.where = f"the registry at {self.base}"
        self.origin = origin(self.base)
        self.timeout = timeout
        self._command_end = time.monotonic() + timeout * COMMAND_BUDGET
        self.session = session or httpclient.session(self.base, pool=pool)
        self._credentials = _credentials(self.origin)
        self._auth: str | None = _initial_auth(self.origin)
        self._lock = threading.Lock()

    def tags(self) -> list[str]:
        url: str | None = f"{self.base}/v2/{self.name.repository}/tags/list?n={PAGE_SIZE}"
        seen: set[str] = set()
        tags: list[str] = []
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise ExternalError(
                    f"{self.name}: tag list pagination loops at {url}; giving up: the registry's "
                    "paging is broken, try again later or read a mirror with --registry-url"
                )
            seen.add(url)
            response = self._request("GET", url, what="tag list", limit=MAX_PAGE)
            what = f"{self.name}: tag list"
            tags.extend(tag_list(json_object(response.content, what), what))
            if len(tags) > MAX_TAGS:
                raise ExternalError(
                    f"{self.name}: the registry at {self.base} lists more than {MAX_TAGS} tags; "
                    "refusing to read on (a registry that never ends its tag list)"
                )
            url = self._next_page(response.headers.get("Link", ""), url)
        return tags

    def open_ahead(self, count: int) -> None:
        httpclient.open_ahead(self.session, self.base, count, self.timeout)

    def _next_page(self, header: str, current: str) -> str | None:
        url = _next_link(header, current)
        if url is not None and origin(url) != self.origin:
            raise ExternalError(
                f"{self.name}: the registry at {self.base} sent a tag-list Link to another "
                f"origin ({_show_origin(url)}); refusing to follow it (a registry pages within "
                "itself); check --registry-url"
            )
        return url

    def resolve(self, tag: str) -> str:
        response = self._request("HEAD", self._manifest_url(tag), what=f"tag {tag}", accept=ACCEPT)
        digest = response.headers.get("Docker-Content-Digest", "")
        return digest if DIGEST_RE.match(digest) else self.manifest(tag).digest

    def _manifest_bytes(self, reference: str) -> tuple[bytes, str | None, str | None]:
        url = self._manifest_url(reference)
        response = self._request(
            "GET", url, what=f"manifest {reference}", accept=ACCEPT, limit=MAX_MANIFEST
        )
        media_type = response.headers.get("Content-Type", "").split(";")[0] or None
        return response.content, media_type, response.headers.get("Docker-Content-Digest") or None

    def _blob_bytes(self, digest: str) -> bytes:
        url = f"{self.base}/v2/{self.name.repository}/blobs/{digest}"
        return self._request("GET", url, what=f"blob {digest}", limit=MAX_BLOB).content

    def _manifest_url(self, reference: str) -> str:
        return f"{self.base}/v2/{self.name.repository}/manifests/{reference}"

    def _request(
        self, method: str, url: str, what: str, accept: str = "*/*", limit: int = MAX_MANIFEST
    ) -> httpclient.Reply:
        response = self._follow(method, url, what, accept, limit)
        if response.status_code == 401 and self._authenticate(response):
            response = self._follow(method, url, what, accept, limit)
        return self._checked(response, what)

    def _follow(
        self, method: str, url: str, what: str, accept: str, limit: int
    ) -> httpclient.Reply:
        """Send, following at most MAX_REDIRECTS redirects, none of them to another origin
        (except a blob's, over https and without credentials)."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(method, url, what, accept=accept, limit=limit)
            if not response.is_redirect:
                return response
            url = self._redirect_target(url, response.headers.get("Location", ""), what)
        raise ExternalError(
            f"{self.name}: the registry at {self.base} redirected the {what} more than "
            f"{MAX_REDIRECTS} times; refusing to go on"
        )

    def _redirect_target(self, current: str, location: str, what: str) -> str:
        target = urllib.parse.urljoin(current, location)
        there = origin(target)
        if there == self.origin:
            return target
        if what.startswith("blob ") and there[0] == "https":
            return target  # ghcr: its storage host; _send gives it no credentials
        raise ExternalError(
            f"{self.name}: the registry at {self.base} redirected the {what} to another origin "
            f"({_show_origin(target)}); refusing to follow it"
        )

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        accept: str = "*/*",
        limit: int = 0,
        params: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> httpclient.Reply:
        """One request, its body read (at most `limit` bytes, decoded; none for a redirect or
        an error), all of it within the request's share of the command's deadline."""
        headers = {"Accept": accept}
        if self._auth and auth is None and origin(url) == self.origin:
            headers["Authorization"] = self._auth
        budget = min(self.timeout * REQUEST_BUDGET, self._command_end - time.monotonic())
        if budget <= 0:
            raise self._too_slow(what, self.timeout * COMMAND_BUDGET, "this command allows")
        try:
            return httpclient.fetch(
                self.session, method, url, what=what, budget=budget, timeout=self.timeout,
                limit=limit, headers=headers, params=params, auth=auth,
            )  # fmt: skip
        except httpclient.BodyTooLarge as exc:
            told = exc.told(f"{self.name}: the registry at {self.base}", f"the {exc.what}")
            raise ExternalError(told) from None
        except httpclient.DeadlineExceeded:
            raise self._too_slow(what, budget, "a request may take") from None
        except httpclient.NETWORK_ERRORS as exc:
            if isinstance(exc, requests.exceptions.RetryError):
                raise ExternalError(
                    f"{self.name}: {what} kept failing after retries; try again later"
                ) from None
            raise ExternalError(
                f"{self.name}: cannot reach {self.base} ({type(exc).__name__}); "
                f"{self._reach_advice}"
            ) from None

    def _too_slow(self, what: str, seconds: float, bound: str) -> ExternalError:
        return ExternalError(
            f"{self.name}: the registry at {self.base} did not deliver the {what} within the "
            f"{seconds:.0f} s {bound} (it answers too slowly or not at all); check the URL and "
            "the network, try again later, or raise http_timeout"
        )

    def _checked(self, response: httpclient.Reply, what: str) -> httpclient.Reply:
        status = response.status_code
        if status < 400:
            return response
        where = f"{self.name}: {what}"
        if status == 404:
            raise NotFound(f"{where} not found (404); check the image name and tag")
        if status == 401:
            raise ExternalError(
                f"{where}: the registry refused our credentials (401); set PINBOT_REGISTRY_TOKEN "
                "to a token that may pull this repository"
            )
        if status == 403:
            raise ExternalError(
                f"{where}: access denied (403); set PINBOT_REGISTRY_TOKEN to a token that may "
                f"pull {self.name.repository}"
            )
        raise ExternalError(f"{where}: registry answered {status} after retries; try again later")

    def _authenticate(self, response: httpclient.Reply) -> bool:
        """Answer a `WWW-Authenticate` challenge (Bearer token flow or Basic); False if we can't."""
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        credentials = self._credentials
        if credentials:
            self.mask(credentials.partition(":")[2])
        if scheme.lower() == "basic" and credentials:
            with self._lock:
                self._auth = "Basic " + base64.b64encode(credentials.encode()).decode()
            return True
        if scheme.lower() != "bearer" or "realm" not in params:
            return False
        realm = self._realm(params["realm"])
        query = {k: params[k] for k in ("service", "scope") if k in params}
        query.setdefault("scope", f"repository:{self.name.repository}:pull")
        user, _, secret = (credentials or "").partition(":")
        # The realm is the registry's own token service on its host (ghcr.io/token); a realm
        # elsewhere is asked anonymously: the token was configured for this registry only.
        same_host = (
            urllib.parse.urlsplit(realm).hostname == urllib.parse.urlsplit(self.base).hostname
        )
        auth = (user, secret) if credentials and same_host else None
        answer = self._send(
            "GET", realm, "token answer", params=query, auth=auth, limit=MAX_TOKEN_ANSWER
        )
        if answer.status_code != 200:
            raise ExternalError(
                f"{self.name}: token service answered {answer.status_code}; set "
                "PINBOT_REGISTRY_TOKEN if the repository is private"
            )
        token_data = json_object(answer.content, f"{self.name}: token answer")
        token = token_data.get("token") or token_data.get("access_token")
        if not token:
            raise ExternalError(f"{self.name}: token service gave no token")
        if not isinstance(token, str) or not _TOKEN.match(token):
            raise ExternalError(
                f"{self.name}: token service {_show_origin(realm)} sent a token that is not a "
                "bearer token (wrong type, spaces or control characters); refusing to use it"
            )
        self.mask(token)  # derived, so the runner does not know it: ::add-mask:: it
        with self._lock:
            self._auth = f"Bearer {token}"
        return True

    def _realm(self, realm: str) -> str:
        """The token service URL a challenge names, if we may talk to it at all."""
        parsed = urllib.parse.urlsplit(realm)
        secure = parsed.scheme == "https" or (
            parsed.scheme == "http" and is_loopback_host(parsed.netloc)
        )
        if not secure or not parsed.hostname or parsed.username is not None:
            raise ExternalError(
                f"{self.name}: the registry at {self.base} asked us to fetch a token from "
                f"{_show_origin(realm)}, which is not https (or loopback); refusing to send "
                "anything there"
            )
        return realm


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL: what credentials are bound to."""
    parsed = urllib.parse.urlsplit(url)
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        port = -1
    return parsed.scheme.lower(), (parsed.hostname or "").lower(), port


def _show_origin(url: str) -> str:
    scheme, host, port = origin(url)
    return output.one_line(f"{scheme}://{host}:{port}", 200)


def _base_url(endpoint: str) -> str:
    url = endpoint if "://" in endpoint else None
    if url is None:
        scheme = "http" if is_loopback_host(endpoint) else "https"
        url = f"{scheme}://{endpoint}"
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https"):
        raise UsageError(
            f"registry URL {endpoint!r} must start with https:// (or http:// on loopback)"
        )
    if parsed.username is not None or parsed.password is not None:
        raise UsageError(
            f"registry URL {output.one_line(endpoint, 200)!r} carries credentials; remove them "
            "and set PINBOT_REGISTRY_TOKEN (with PINBOT_REGISTRY_TOKEN_HOST) instead"
        )
    if not parsed.hostname or parsed.query or parsed.fragment:
        raise UsageError(f"registry URL {endpoint!r} needs a host and no query; e.g. https://HOST")
    if parsed.scheme == "http" and not is_loopback_host(parsed.netloc):
        raise UsageError(
            f"registry URL {endpoint!r} uses plain HTTP to a non-loopback host; use https://"
        )
    return url.rstrip("/")


def _next_link(header: str, current: str) -> str | None:
    match = _LINK_NEXT.search(header)
    return urllib.parse.urljoin(current, match.group(1)) if match else None


def token_host() -> str:
    """The registry PINBOT_REGISTRY_TOKEN is for: PINBOT_REGISTRY_TOKEN_HOST, else ghcr.io."""
    return (os.environ.get(TOKEN_HOST_ENV) or DEFAULT_TOKEN_HOST).strip().lower()


def _token_for(endpoint: tuple[str, str, int]) -> str | None:
    """PINBOT_REGISTRY_TOKEN, if the endpoint is the registry it is configured for."""
    token = os.environ.get("PINBOT_REGISTRY_TOKEN")
    if not token:
        return None
    scheme, host, port = endpoint
    wanted = origin(f"{scheme}://{token_host()}")
    return token if wanted[1:] == (host, port) else None


def _initial_auth(endpoint: tuple[str, str, int]) -> str | None:
    token = _token_for(endpoint)
    return f"Bearer {token}" if token else None


def _credentials(endpoint: tuple[str, str, int]) -> str | None:
    """user:secret for the endpoint: PINBOT_REGISTRY_TOKEN if it is configured for this registry,
    else docker's config.json `auths` entry for this very host."""
    token = _token_for(endpoint)
    if token:
        return f"pinbot:{token}"
    scheme, host, port = endpoint
    default_port = 443 if scheme == "https" else 80
    registry = host if port == default_port else f"{host}:{port}"
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        auths = json.loads((config_dir / "config.json").read_text()).get("auths", {})
    except (OSError, ValueError, AttributeError):
        return None
    entry = auths.get(registry) or auths.get(f"https://{registry}") or {}
    encoded = entry.get("auth") if isinstance(entry, dict) else None
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded).decode()
    except ValueError:
        return None
