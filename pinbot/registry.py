"""Read images from an OCI distribution registry or an OCI image layout, trusting nothing.

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
import hashlib
import json
import os
import re
import threading
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from pinbot import httpclient, output
from pinbot.errors import ExternalError, UsageError
from pinbot.model import DIGEST_RE, SHA_RE, ImageFacts, ImageName, is_loopback_host

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
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
_BUILD_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,254}\Z")
_CREATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(?:Z|[+-][0-9:]+)?\Z")
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class NotFound(UsageError):
    """The registry has no such repository, tag or digest."""


NETWORK_ERRORS = httpclient.NETWORK_ERRORS
Reply = httpclient.Reply


@dataclass(frozen=True)
class Manifest:
    media_type: str
    digest: str
    data: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or "manifests" in self.data


class Source(ABC):
    """What the scan reads from; subclasses fetch raw bytes, this class checks and interprets."""

    name: ImageName
    where: str  # names the registry (or layout) in messages

    @abstractmethod
    def tags(self) -> list[str]:
        """Every tag of the repository, in the source's order."""

    @abstractmethod
    def resolve(self, tag: str) -> str:
        """The digest a tag points at now (cheapest possible request)."""

    def open_ahead(self, count: int) -> None:  # noqa: B027 - a layout has nothing to open
        """Open `count` connections now, for requests about to go out side by side."""

    @abstractmethod
    def _manifest_bytes(self, reference: str) -> tuple[bytes, str | None, str | None]:
        """(body, media type, digest the server claims) for a tag or digest."""

    @abstractmethod
    def _blob_bytes(self, digest: str) -> bytes:
        """The raw bytes of a blob, unchecked (blob() checks them)."""

    def manifest(self, reference: str) -> Manifest:
        body, media_type, claimed = self._manifest_bytes(reference)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        expected = reference if DIGEST_RE.match(reference) else claimed
        if expected and expected != digest:
            raise ExternalError(
                f"{self.name}: manifest {reference} has digest {digest}, expected {expected}; "
                "the registry or a proxy altered it — refusing to trust it"
            )
        data = _json(body, f"{self.name}: manifest {reference}")
        _check_manifest(data, f"{self.name}: manifest {reference}")
        media = data.get("mediaType", "")
        return Manifest(media_type or (media if isinstance(media, str) else ""), digest, data)

    def blob(self, digest: str) -> bytes:
        body = self._blob_bytes(digest)
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        if actual != digest:
            raise ExternalError(
                f"{self.name}: blob {digest} arrived with digest {actual}; refusing to trust it"
            )
        return body

    def facts(
        self,
        reference: str,
        platforms: tuple[str, ...],
        checkpoint: Callable[[], None] = lambda: None,
    ) -> ImageFacts:
        """Digest, platforms and build identity of the image a tag or digest names.

        `checkpoint` runs before each further request: it may raise to abandon the work."""
        top = self.manifest(reference)
        if top.is_index:
            available = _index_platforms(top.data)
            chosen = next((available[p] for p in platforms if p in available), None)
            chosen = chosen or next(iter(available.values()), None)
            if chosen is None:
                return ImageFacts(top.digest, ())
            checkpoint()
            platform_manifest = self.manifest(chosen)
            checkpoint()
            return _facts(top.digest, tuple(available), self._config(platform_manifest))
        checkpoint()
        config = self._config(top)
        platform = f"{config.get('os', 'linux')}/{config.get('architecture', 'unknown')}"
        return _facts(top.digest, (platform,), config)

    def _config(self, manifest: Manifest) -> dict[str, Any]:
        descriptor = manifest.data.get("config") or {}
        digest = descriptor.get("digest", "")
        if not DIGEST_RE.match(digest):
            raise ExternalError(f"{self.name}: manifest {manifest.digest} names no config blob")
        config = _json(self.blob(digest), f"{self.name}: config {digest}")
        _check_config(config, f"{self.name}: config {digest}")
        return config


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise ExternalError(f"{what} is not valid JSON (truncated answer?); try again") from None
    except RecursionError:
        raise ExternalError(f"{what} nests JSON too deep to be a registry document") from None
    if not isinstance(data, dict):
        raise ExternalError(f"{what} is not a JSON object")
    return data


# Structural checks: a registry document of the wrong shape is the registry's fault (exit 3,
# naming what was wrong), never a crash in the code that reads it.


def _malformed(what: str, problem: str) -> ExternalError:
    return ExternalError(f"{what} is malformed: {problem}; the registry sent a broken document")


def _is_str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _check_manifest(data: dict[str, Any], what: str) -> None:
    entries = data.get("manifests")
    if entries is not None:
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise _malformed(what, "'manifests' is not a list of objects")
        for entry in entries:
            if not isinstance(entry.get("digest"), str):
                raise _malformed(what, "a 'manifests' entry has no string 'digest'")
            _check_platform(entry.get("platform") or {}, what)
            if not _is_str_map(entry.get("annotations") or {}):
                raise _malformed(what, "'annotations' is not an object of strings")
    config = data.get("config")
    if config is not None and not (
        isinstance(config, dict) and isinstance(config.get("digest"), str)
    ):
        raise _malformed(what, "'config' is not a descriptor with a string 'digest'")


def _check_config(data: dict[str, Any], what: str) -> None:
    inner = data.get("config") or {}
    if not isinstance(inner, dict):
        raise _malformed(what, "'config' is not an object")
    env = inner.get("Env") or []
    if not isinstance(env, list) or not all(isinstance(item, str) for item in env):
        raise _malformed(what, "'config.Env' is not a list of strings")
    if not _is_str_map(inner.get("Labels") or {}):
        raise _malformed(what, "'config.Labels' is not an object of strings")
    if not isinstance(data.get("created", ""), str):
        raise _malformed(what, "'created' is not a string")
    _check_platform({k: data[k] for k in ("os", "architecture", "variant") if k in data}, what)


# What an image's platform may be called (`linux`, `amd64`, `arm64`, `v8`, `ppc64le`, `unknown`):
# the name is shown, cached and compared with the config's platforms, so a registry's ANSI
# escape or newline in it is refused with the document rather than skipped: a registry that
# sends it is broken or hostile, and a platform quietly dropped would change the verdict.
_PLATFORM_PART = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}\Z")


def _check_platform(platform: Any, what: str) -> None:
    if not isinstance(platform, dict):
        raise _malformed(what, "a 'platform' is not an object")
    for key in ("os", "architecture", "variant"):
        value = platform.get(key)
        if value is None or (key == "variant" and value == ""):
            continue
        if not isinstance(value, str) or not _PLATFORM_PART.match(value):
            shown = output.one_line(repr(value), 60)
            raise _malformed(
                what, f"platform {key} {shown} is not a platform name ([a-z0-9._-], 1-32)"
            )


def _check_tags(data: dict[str, Any], what: str) -> list[str]:
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise _malformed(what, "'tags' is not a list of strings")
    return tags


def _index_platforms(index: dict[str, Any]) -> dict[str, str]:
    """platform -> manifest digest, skipping attestation and unknown/unknown entries."""
    found: dict[str, str] = {}
    for entry in index.get("manifests", []):
        annotations = entry.get("annotations") or {}
        platform = entry.get("platform") or {}
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        name = f"{platform.get('os', 'unknown')}/{platform.get('architecture', 'unknown')}"
        if platform.get("variant"):
            name += f"/{platform['variant']}"
        if name != "unknown/unknown" and DIGEST_RE.match(entry.get("digest", "")):
            found.setdefault(name, entry["digest"])
    return found


def _facts(digest: str, platforms: tuple[str, ...], config: dict[str, Any]) -> ImageFacts:
    inner = config.get("config") or {}
    env = dict(item.partition("=")[::2] for item in inner.get("Env") or [])
    labels = inner.get("Labels") or {}
    sha = env.get("OPENHANDS_BUILD_GIT_SHA") or labels.get("org.opencontainers.image.revision")
    ref = env.get("OPENHANDS_BUILD_GIT_REF")
    created = config.get("created")
    # What the image says goes into commit messages, PR bodies and the cache: only values of
    # the expected form (a sha with a newline and a forged trailer is no build sha at all).
    return ImageFacts(
        digest=digest,
        platforms=platforms,
        build_sha=sha.lower() if sha and SHA_RE.match(sha.lower()) else None,
        build_ref=ref if ref and _BUILD_REF.match(ref) else None,
        created=created if created and _CREATED.match(created) else None,
    )


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
            tags.extend(_check_tags(_json(response.content, what), what))
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
    ) -> Reply:
        response = self._follow(method, url, what, accept, limit)
        if response.status_code == 401 and self._authenticate(response):
            response = self._follow(method, url, what, accept, limit)
        return self._checked(response, what)

    def _follow(self, method: str, url: str, what: str, accept: str, limit: int) -> Reply:
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
    ) -> Reply:
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
        except NETWORK_ERRORS as exc:
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

    def _checked(self, response: Reply, what: str) -> Reply:
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

    def _authenticate(self, response: Reply) -> bool:
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
        token_data = _json(answer.content, f"{self.name}: token answer")
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


class LayoutSource(Source):
    """An OCI image layout on disk (`oci:DIR`): index.json names tags, blobs/ holds content."""

    def __init__(self, name: ImageName) -> None:
        assert name.layout is not None
        self.name = name
        self.root = name.layout
        self.where = f"the OCI layout {self.root}"
        if not (self.root / "index.json").is_file():
            raise UsageError(f"{self.root} is not an OCI image layout (no index.json)")
        index = _json((self.root / "index.json").read_bytes(), f"{self.root}/index.json")
        self._tags: dict[str, str] = {}
        for entry in index.get("manifests", []):
            tag = (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name")
            if tag and DIGEST_RE.match(entry.get("digest", "")):
                self._tags[tag] = entry["digest"]

    def tags(self) -> list[str]:
        return list(self._tags)

    def resolve(self, tag: str) -> str:
        if tag not in self._tags:
            raise NotFound(f"{self.name}: tag {tag} not found in the layout's index.json")
        return self._tags[tag]

    def _manifest_bytes(self, reference: str) -> tuple[bytes, str | None, str | None]:
        digest = reference if DIGEST_RE.match(reference) else self.resolve(reference)
        return self._blob_bytes(digest), None, digest

    def _blob_bytes(self, digest: str) -> bytes:
        path = self.root / "blobs" / "sha256" / digest.partition(":")[2]
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{self.name}: blob {digest} missing from the layout") from None


def open_source(
    name: ImageName,
    endpoint: str | None,
    timeout: float,
    pool: int,
    mask: Callable[[str], None] = lambda secret: None,
) -> Source:
    """Where reads for `name` go: its layout, a layout given as `--registry-url oci:DIR` (a
    mirror on disk), or a registry endpoint. `mask` hears of every credential it reads."""
    if name.layout is not None:
        return LayoutSource(name)
    if endpoint and endpoint.startswith("oci:"):
        return LayoutSource(ImageName.parse(endpoint))
    return RegistrySource(name, endpoint, timeout=timeout, pool=pool, mask=mask)
