"""The nouns shared by every command. Pure data: no I/O here."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pinbot.errors import UsageError

TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\Z")
SHA_RE = re.compile(r"[0-9a-f]{40}\Z")
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}\Z")
# A branch or ref name git accepts (the subset pinbot needs: no "..", "//", "@{", leading "-").
# A name ending in ".lock" is git's own lock file, never a branch.
BRANCH_RE = re.compile(r"(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/-]+(?<![/.])(?<!\.lock)\Z")
# OCI distribution spec: path components of lowercase alphanumerics joined by separators.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*\Z")
HOST_RE = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?\Z")

Result = Literal["pass", "fail", "error", "skip"]


def _matching(pattern: re.Pattern[str], value: str, what: str, fix: str) -> str:
    """`value` when `pattern` matches all of it; otherwise bad input naming it and the fix."""
    if not pattern.match(value):
        raise UsageError(f"{what} {value!r} {fix}")
    return value


def validate_tag(tag: str, what: str = "tag") -> str:
    return _matching(
        TAG_RE,
        tag,
        what,
        "is not a valid image tag: use letters, digits, '_', '.' and '-' (at most 128, not "
        "starting with '.' or '-')",
    )


def validate_sha(sha: str, what: str = "commit sha") -> str:
    fix = "is not a full commit sha: give all 40 lowercase hex digits"
    return _matching(SHA_RE, sha, what, fix)


def validate_branch(name: str, what: str = "branch") -> str:
    """A branch name git accepts and no git command can take for an option."""
    return _matching(BRANCH_RE, name, what, "is not a valid branch name")


def validate_digest(digest: str, what: str = "digest") -> str:
    return _matching(
        DIGEST_RE, digest, what, "is not a digest: expected sha256: and 64 lowercase hex"
    )


def is_loopback_host(host: str) -> bool:
    """True only for a loopback address: `localhost`, 127.0.0.0/8 or ::1, with or without a
    port. Parsed, not prefix-matched: `127.0.0.1.evil.example` and `127.0.0.1@evil.example` are
    other hosts."""
    if "@" in host or "/" in host:
        return False
    name = host
    if host.startswith("["):
        name, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not re.fullmatch(r":[0-9]+", rest)):
            return False
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
        if not port.isdigit():
            return False
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ImageName:
    """Where an image repository lives: `host/name`, or an OCI image layout (`oci:DIR`)."""

    registry: str
    repository: str
    layout: Path | None = None

    @classmethod
    def parse(cls, text: str) -> ImageName:
        if text.startswith("oci:"):
            directory = text[4:]
            if not directory:
                raise UsageError("image 'oci:' names no directory: write oci:PATH/TO/LAYOUT")
            path = Path(directory)
            return cls(registry="", repository=path.name.lower() or "layout", layout=path)
        host, _, repository = text.partition("/")
        if not repository or not ("." in host or ":" in host or host == "localhost"):
            raise UsageError(
                f"image {text!r} has no registry host: write it as HOST/NAME, "
                "e.g. ghcr.io/openhands/agent-server or localhost:5000/agent-server"
            )
        if not HOST_RE.match(host):
            raise UsageError(f"image {text!r}: {host!r} is not a registry host name")
        if not REPOSITORY_RE.match(repository):
            raise UsageError(
                f"image {text!r}: repository {repository!r} must be lowercase letters, digits "
                "and separators ('.', '_', '-', '/')"
            )
        return cls(registry=host, repository=repository)

    @property
    def plain_http(self) -> bool:
        return is_loopback_host(self.registry)

    def __str__(self) -> str:
        if self.layout is not None:
            return f"oci:{self.layout}"
        return f"{self.registry}/{self.repository}"


@dataclass(frozen=True)
class ImageRef:
    """A tag and/or digest within an ImageName."""

    name: ImageName
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str, default_name: ImageName | None = None) -> ImageRef:
        """Parse `NAME:TAG`, `NAME@DIGEST`, `NAME:TAG@DIGEST`, or a bare TAG/DIGEST."""
        rest, _, digest = text.partition("@")
        if digest:
            validate_digest(digest, f"digest in {text!r}")
        if text.startswith("sha256:") and not digest:
            return cls(_need(default_name, text), None, validate_digest(text))
        name_part, tag = _split_tag(rest)
        name = ImageName.parse(name_part) if name_part else _need(default_name, text)
        if tag is not None:
            validate_tag(tag, f"tag in {text!r}")
        if tag is None and not digest:
            raise UsageError(f"image reference {text!r} has neither a tag nor a digest")
        return cls(name, tag, digest or None)

    def __str__(self) -> str:
        text = str(self.name)
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _split_tag(text: str) -> tuple[str, str | None]:
    """`host:5000/name:tag` -> (`host:5000/name`, `tag`); a bare `tag` -> ('', `tag`)."""
    if "/" not in text and not text.startswith("oci:"):
        return "", text or None
    head, slash, last = text.rpartition("/")
    if ":" in last:
        last, _, tag = last.partition(":")
        return f"{head}{slash}{last}", tag
    return text, None


def _need(name: ImageName | None, text: str) -> ImageName:
    if name is None:
        raise UsageError(f"image reference {text!r} names no repository: write NAME:TAG")
    return name


@dataclass(frozen=True)
class Evidence:
    detector: str
    result: Result
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"detector": self.detector, "result": self.result, "detail": self.detail}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        return cls(str(data["detector"]), data["result"], str(data["detail"]))

    @property
    def summary(self) -> str:
        return f"{self.detector}: {self.detail}"


def deciding(evidence: Sequence[Evidence]) -> Evidence | None:
    """The evidence that decided a verdict: the first that did not pass, else the last that did."""
    against = [e for e in evidence if e.result not in ("pass", "skip")]
    return against[0] if against else (evidence[-1] if evidence else None)


@dataclass(frozen=True)
class Verdict:
    """Whether the image at `digest` carries `capability`, and why we think so."""

    digest: str
    capability: str
    result: Result
    evidence: tuple[Evidence, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result == "pass"


@dataclass(frozen=True)
class Candidate:
    """One tag the scan looked at (or decided not to), in the order it ranks them."""

    tag: str
    version: str | None
    digest: str | None = None
    build_sha: str | None = None
    created: str | None = None
    verdict: str = "not-examined"
    evidence: tuple[Evidence, ...] = field(default=())

    @property
    def deciding(self) -> Evidence | None:
        return deciding(self.evidence)

    def to_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "digest": self.digest,
            "version": self.version,
            "build_sha": self.build_sha,
            "verdict": self.verdict,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True)
class ImageFacts:
    """What the registry says about the image a tag resolved to (no pull needed)."""

    digest: str
    platforms: tuple[str, ...]
    build_sha: str | None = None
    build_ref: str | None = None
    created: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageFacts:
        return cls(
            digest=data["digest"],
            platforms=tuple(data["platforms"]),
            build_sha=data.get("build_sha"),
            build_ref=data.get("build_ref"),
            created=data.get("created"),
        )
