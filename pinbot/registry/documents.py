"""What a registry or a layout says, checked before it is believed: manifests, indexes and
config blobs.

`Source` is what the scan reads from: a subclass fetches raw bytes (over HTTP in `transport`, from
disk in `layouts`), this module checks every manifest and blob against its digest, refuses a
document of the wrong shape (exit 3, naming what was wrong) and reads an image's facts from it.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pinbot import httpclient, output
from pinbot.errors import ExternalError, UsageError
from pinbot.model import DIGEST_RE, SHA_RE, ImageFacts, ImageName

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
_BUILD_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,254}\Z")
_CREATED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(?:Z|[+-][0-9:]+)?\Z")


class NotFound(UsageError):
    """The registry has no such repository, tag or digest."""


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
        data = json_object(body, f"{self.name}: manifest {reference}")
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
        config = json_object(self.blob(digest), f"{self.name}: config {digest}")
        _check_config(config, f"{self.name}: config {digest}")
        return config


def json_object(body: bytes, what: str) -> dict[str, Any]:
    data = httpclient.json_answer(body, what, "a registry document")
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


def tag_list(data: dict[str, Any], what: str) -> list[str]:
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
