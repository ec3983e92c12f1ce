"""Commits and where they live: the nouns the git and GitHub seams share (DESIGN.md §2:
nouns two seams share live in the core), so neither seam imports the other.

pinbot's commit trailers and how a message's trailers are read, a commit as both seams report
it, the refusals of a tree entry that is not a regular file, and which remotes are GitHub's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from pinbot.errors import UsageError

IMAGE_TRAILER = "Pinbot-Image"
DIGEST_TRAILER = "Pinbot-Digest"
_TRAILER = re.compile(r"(?P<key>[A-Za-z0-9][A-Za-z0-9-]*):\s+(?P<value>.*)\Z")
_SCP = re.compile(r"^[^/@\s]+@(?P<host>[^:/\s]+):(?P<path>.+)$")


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    subject: str
    trailers: Mapping[str, str] = field(default_factory=dict)

    @property
    def by_pinbot(self) -> bool:
        return IMAGE_TRAILER in self.trailers


def parse_trailers(message: str) -> dict[str, str]:
    """`Key: value` lines of a message's last paragraph, as `git log %(trailers)` reads them
    (for commits that come from GitHub's API rather than from git)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return {}
    found: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        match = _TRAILER.match(line)
        if match is None:
            return {}  # git takes the block only when every line is a trailer
        found[match["key"]] = match["value"].strip()
    return found


def trailers(image: str, digest: str | None, extra: Mapping[str, str] | None = None) -> str:
    """The trailer block of a commit pinbot makes: the image, its digest, then `extra`."""
    lines = [f"{IMAGE_TRAILER}: {image}"]
    if digest:
        lines.append(f"{DIGEST_TRAILER}: {digest}")
    lines += [f"{key}: {value}" for key, value in (extra or {}).items()]
    return "\n".join(lines)


LOCK_NAMES = ("poetry.lock", "uv.lock")


def lock_paths(paths: Iterable[str]) -> list[str]:
    """The lock files among `paths`, sorted (a lock anywhere in the tree may lock the pins)."""
    return sorted(p for p in paths if p.rpartition("/")[2] in LOCK_NAMES)


def short(sha: str) -> str:
    return sha[:12]


def refuse_symlink(path: str, commit: str, where: str) -> UsageError:
    return UsageError(
        f"{path} at {short(commit)} in {where} is a symbolic link; pinbot reads and edits only "
        "regular files in the tree: make it a regular file, or point the config at the real one"
    )


def refuse_submodule(path: str, commit: str, where: str) -> UsageError:
    return UsageError(
        f"{path} at {short(commit)} in {where} is a submodule, not a file; pinbot reads and "
        "edits only regular files in the tree: point the config at a regular file"
    )


@dataclass(frozen=True)
class GitHubRepo:
    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


def github_repo(url: str) -> GitHubRepo | None:
    """owner/name when `url` is a GitHub remote (github.com, or $GITHUB_SERVER_URL's host)."""
    scp = _SCP.match(url)
    host, path = (scp["host"], scp["path"]) if scp else _host_path(url)
    if host is None or host.lower() not in _github_hosts():
        return None
    parts = path.strip("/").removesuffix(".git").split("/")
    return GitHubRepo(parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


def _host_path(url: str) -> tuple[str | None, str]:
    parsed = urlparse(url)
    return (
        (parsed.hostname, parsed.path) if parsed.scheme in ("https", "http", "ssh") else (None, "")
    )


def _github_hosts() -> set[str]:
    hosts = {"github.com"}
    server = urlparse(os.environ.get("GITHUB_SERVER_URL", "")).hostname
    return hosts | {server.lower()} if server else hosts


def github_token() -> str | None:
    """GITHUB_TOKEN, else GH_TOKEN (none when empty)."""
    return os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN") or None
