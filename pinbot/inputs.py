"""Validation at the edge: one argparse type per kind of value a flag (or PINBOT_<FLAG>) takes.

Each returns the value in the form the commands use, or raises ArgumentTypeError with a message
that names the value and says what to write instead; the CLI turns that into exit 2 with the flag
in front. Nothing here touches the network: existence of a remote is for the seams to find out.
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from pinbot import config
from pinbot.errors import UsageError
from pinbot.model import BRANCH_RE, HOST_RE, SHA_RE, ImageName, ImageRef, validate_tag

T = TypeVar("T")
AGENT_RE = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_GITHUB_SHORT = re.compile(r"github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
# `scheme://...` or scp-like `user@host:path`; anything else is a filesystem path.
_GIT_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/\s]+@[^/\s]+:")
MAX_SECONDS = 24 * 3600.0


def _bad(message: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(message)


def reads_files(check: Callable[[str], T]) -> Callable[[str], T]:
    """Marks a type whose answer depends on the filesystem (not on the text alone), so a
    static check of a workflow's command lines knows to leave it to run time."""
    check.reads_files = True  # type: ignore[attr-defined]
    return check


def _from_usage(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a validator that raises UsageError (its message is kept)."""

    def parse(text: str) -> T:
        try:
            return check(text)
        except UsageError as exc:
            raise _bad(str(exc)) from None

    parse.__name__ = check.__name__
    return parse


def http_url(text: str) -> str:
    """An http(s) URL with a host and, when given, a numeric port."""
    hint = "write it like http://127.0.0.1:3000 or https://app.example.com"
    parts = urllib.parse.urlsplit(text.strip())
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in text)
    ):
        raise _bad(f"{text!r} is not an http(s) URL: {hint}")
    try:
        parts.port  # noqa: B018  # urllib checks the port only when asked
    except ValueError:
        raise _bad(f"{text!r} has no valid port number after the host: {hint}") from None
    return text.strip().rstrip("/")


def index_url(text: str) -> str:
    """A simple package index (PEP 503): an http(s) URL, kept as written."""
    try:
        http_url(text)
    except argparse.ArgumentTypeError:
        raise _bad(
            f"{text!r} is not an http(s) URL of a simple package index: write it like "
            "https://pypi.org/simple/"
        ) from None
    return text.strip()


def registry_endpoint(text: str) -> str:
    """HOST[:PORT], http(s)://HOST[:PORT][/PATH] or oci:DIR."""
    hint = "write HOST[:PORT], https://HOST[:PORT] or oci:DIR"
    if text.startswith("oci:"):
        if not text.removeprefix("oci:"):
            raise _bad(f"{text!r} names no directory: {hint}")
        return text
    if "://" in text:
        try:
            return http_url(text)
        except argparse.ArgumentTypeError:
            raise _bad(f"{text!r} is not a registry URL: {hint}") from None
    if not HOST_RE.match(text):
        raise _bad(f"{text!r} is not a registry address: {hint}")
    return text


def command_line(text: str) -> str:
    """A command line as a shell would split it (quotes closed), not empty."""
    example = "e.g. 'agent-server --port {port}'"
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise _bad(
            f"{text!r} is not a command line ({exc}): quote it as a shell would, {example}"
        ) from None
    if not words:
        raise _bad(f"{text!r} is an empty command: give the program to run, {example}")
    return text


def seconds(text: str) -> float:
    """A positive, finite number of seconds (at most a day)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0 or value > MAX_SECONDS:
        raise _bad(f"{text!r} is not a number of seconds: give a positive number such as 300")
    return value


def candidate_limit(text: str) -> int:
    """--max-candidates: how many candidates a scan may examine (1 to 100000)."""
    if not text.isdigit() or not 1 <= int(text) <= config.MAX_CANDIDATES:
        raise _bad(
            f"{text!r} is not a candidate count: give a whole number from 1 to "
            f"{config.MAX_CANDIDATES}"
        )
    return int(text)


def variant(text: str) -> str:
    """One of the image's tag variants (python, java, golang)."""
    if text in config.VARIANTS:
        return text
    raise _bad(f"{text!r} is not a variant of the image: {config.variant_hint(text)}")


def detectors(text: str) -> tuple[str, ...]:
    names = tuple(d.strip() for d in text.split(",") if d.strip())
    unknown = [d for d in names if d not in config.DETECTORS]
    if unknown or not names:
        guess = config.did_you_mean(unknown[0], config.DETECTORS) if unknown else ""
        choose = f"choose from {', '.join(config.DETECTORS)} (comma-separated)"
        raise _bad(f"{text!r}: {choose}{guess}")
    return names


def agents(text: str) -> str:
    """A comma-separated list of ACP agent names, each once (kept as written)."""
    names = [a.strip() for a in text.split(",")]
    if not all(AGENT_RE.match(a) for a in names):
        raise _bad(f"{text!r}: name ACP agents as a comma-separated list, e.g. claude-code,codex")
    if len(set(names)) != len(names):
        raise _bad(f"{text!r} names an agent twice")
    return text


def branch(text: str) -> str:
    if not BRANCH_RE.match(text):
        raise _bad(f"{text!r} is not a valid branch name: write it as git does, e.g. main")
    return text


def sha(text: str) -> str:
    if not SHA_RE.match(text.lower()):
        raise _bad(f"{text!r} is not a commit sha: give all 40 hex digits")
    return text.lower()


tag = _from_usage(lambda text: validate_tag(text, "the tag"))
tag.__name__ = "tag"


def image_repository(text: str) -> str:
    try:
        ImageName.parse(text)
    except UsageError as exc:
        raise _bad(str(exc)) from None
    return text


def image_ref(text: str) -> str:
    try:
        ImageRef.parse(text)
    except UsageError as exc:
        raise _bad(f"{exc}: write REPO:TAG or REPO@sha256:DIGEST") from None
    return text


def is_git_url(text: str) -> bool:
    return bool(_GIT_URL.match(text))


@reads_files
def repository(text: str) -> str:
    """A git repository: a local path (a directory), a git URL, or github.com/OWNER/NAME
    (made https://github.com/OWNER/NAME). The same forms for every flag that takes one."""
    hint = "give a local clone's path, a git URL, or github.com/OWNER/NAME"
    if not text.strip():
        raise _bad(f"{text!r} is empty: {hint}")
    if _GITHUB_SHORT.match(text):
        return f"https://{text}"
    if is_git_url(text):
        return text
    path = Path(text).expanduser()
    if not path.exists():
        raise _bad(f"{text!r}: no such directory, and not a git URL: {hint}")
    if not path.is_dir():
        raise _bad(f"{text!r} is a file, not a repository: {hint}")
    return text


@reads_files
def sdk(text: str) -> str:
    """--sdk: a software-agent-sdk clone (a directory) or a git URL."""
    if is_git_url(text):
        return text
    path = Path(text).expanduser()
    if not path.is_dir():
        raise _bad(f"{text!r}: no such directory: give a software-agent-sdk clone or git URL")
    return text


def _not_a_directory(text: str, purpose: str) -> Path:
    path = Path(text).expanduser()
    if path.is_dir():
        raise _bad(f"{text!r} is a directory: name a file{purpose}")
    return path


@reads_files
def existing_file(text: str) -> Path:
    path = _not_a_directory(text, "")
    if not path.is_file():
        raise _bad(f"{text!r} does not exist: check the path")
    return path


@reads_files
def output_file(text: str) -> Path:
    """A file pinbot will write: not a directory, in a directory that exists."""
    path = _not_a_directory(text, " to write")
    if not path.parent.is_dir():
        raise _bad(f"{text!r}: the directory {str(path.parent)!r} does not exist: create it first")
    return path


@reads_files
def work_directory(text: str) -> Path:
    """A directory pinbot may create (or fill): not an existing file."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise _bad(f"{text!r} is a file: name a directory (it is created when missing)")
    return path


@reads_files
def deploy_repository(text: str) -> tuple[str, str | None]:
    """`REPO[@REF]`. The `@` of `git@host:path` or `https://user@host/...` is the URL's own."""
    repo, sep, ref = text.rpartition("@")
    if not sep or ":" in ref or _is_userinfo(repo) or Path(text).exists():
        return repository(text), None
    if not repo or not BRANCH_RE.match(ref):
        raise _bad(
            f"{text!r}: write REPO or REPO@REF, where REF is a branch, tag or commit sha "
            "(e.g. ../deploy@main)"
        )
    return repository(repo), ref


def _is_userinfo(text: str) -> bool:
    _, sep, rest = text.partition("://")
    return bool(sep) and "/" not in rest


def environment(environ: Mapping[str, str]) -> None:
    """The PINBOT_* values that no flag reads, checked before anything runs (exit 2, named)."""
    host = environ.get("PINBOT_REGISTRY_TOKEN_HOST", "").strip()
    if host and not HOST_RE.match(host):
        raise UsageError(
            f"PINBOT_REGISTRY_TOKEN_HOST={host!r} is not a registry host: write HOST or "
            "HOST:PORT, e.g. ghcr.io"
        )
    author = environ.get("PINBOT_GIT_AUTHOR", "")
    name, _, rest = author.partition("<")
    if author and (not name.strip() or "@" not in rest or not rest.rstrip().endswith(">")):
        raise UsageError(f"PINBOT_GIT_AUTHOR={author!r}: write 'Name <email@example.com>'")
    cache = environ.get("PINBOT_CACHE_DIR", "")
    if cache and Path(cache).exists() and not Path(cache).is_dir():
        raise UsageError(f"PINBOT_CACHE_DIR={cache!r} is a file: name a directory (or unset it)")


def cache_dir(environ: Mapping[str, str]) -> Path:
    """pinbot's cache: $PINBOT_CACHE_DIR, else $XDG_CACHE_HOME/pinbot, else ~/.cache/pinbot.
    Read once by the face (`pinbot.cli`) into the run's `Context`."""
    explicit = environ.get("PINBOT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "pinbot" if xdg else Path.home() / ".cache" / "pinbot"


# The PINBOT_* variables that no flag reads but that override a config key.
ENV_KEYS = {"PINBOT_GIT_AUTHOR": "git_author"}


def with_environment(settings: config.Settings, environ: Mapping[str, str]) -> config.Settings:
    """The settings with what the environment overrides (ENV_KEYS; the flags' own PINBOT_*
    variables are the parser's, `pinbot.cli`)."""
    changes = {key: environ[env] for env, key in ENV_KEYS.items() if environ.get(env)}
    return settings.replace(**changes) if changes else settings
