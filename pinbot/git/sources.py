"""A repository as the user names it (a path, a URL, or scp-like `user@host:path`): refused before
any git starts when git could take it for an option or a command.
"""

from __future__ import annotations

import re
from pathlib import Path

from pinbot.errors import UsageError
from pinbot.git.credentials import CONTROL
from pinbot.git.runner import run_text

# `scheme://...` or scp-like `user@host:path`; anything else is a filesystem path.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/\s]+@[^/\s]+:")
# git's remote-helper syntax (`ext::sh -c ...` runs a command, `fd::` reads a descriptor).
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCHEMES = ("https", "http", "ssh", "git", "file")


def check_source(source: str, flag: str) -> str:
    """A repository value (path or URL) git cannot take for an option or a command, refused
    before any process starts: no leading `-`, no remote helper, a known scheme, no control
    characters. Every git call also puts `--` before it."""
    fix = "give a path (./NAME) or an https://, ssh:// or git@host:path URL"
    if not source or CONTROL.search(source):
        raise UsageError(f"{flag} {source!r} is empty or holds control characters; {fix}")
    if source.startswith("-"):
        raise UsageError(
            f"{flag} {source!r} starts with '-', which git would read as an option; {fix}"
        )
    if _HELPER.match(source):
        raise UsageError(f"{flag} {source!r} names a git remote helper ('::'), refused; {fix}")
    scheme = _SCHEME.match(source)
    if scheme and scheme.group(1).lower() not in _SCHEMES:
        raise UsageError(
            f"{flag} {source!r}: the scheme {scheme.group(1)!r} is not accepted; {fix}"
        )
    host = source.split("://", 1)[-1].rsplit("@", 1)[-1] if is_url(source) else ""
    if host.startswith("-"):
        raise UsageError(f"{flag} {source!r}: a host starting with '-' is refused; {fix}")
    return source


def is_url(text: str) -> bool:
    """A URL or scp-like `user@host:path`, as opposed to a filesystem path."""
    return bool(_URL.match(text))


def remote_url(source: str, flag: str) -> str:
    """A URL git can fetch from: URLs as given, local paths made absolute (and checked)."""
    check_source(source, flag)
    if _URL.match(source):
        return source
    path = Path(source).expanduser()
    if not path.is_dir():
        raise UsageError(f"{flag} {source!r}: no such directory, and not a git URL")
    if run_text(path, "rev-parse", "--git-dir")[0] != 0:
        raise UsageError(
            f"{flag} {source!r} is not a git repository: give a clone's path, a git URL or "
            "github.com/OWNER/NAME"
        )
    return str(path.resolve())
