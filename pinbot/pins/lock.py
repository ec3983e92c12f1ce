"""Lock files (`poetry.lock`, `uv.lock`): read what they lock, regenerate them with their own tool.

A lock carries file hashes and a content hash, so only its tool may rewrite it: pinbot runs
`poetry update --lock` or `uv lock --upgrade-package` of the moved packages (or the configured
command) in a scratch tree holding the new `pyproject.toml` and the old lock, reads the result,
and reports every package whose locked version changed. Everything here is pure; the tool runs in
`pinbot.locktool`.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from packaging.utils import canonicalize_name

from pinbot.errors import UsageError
from pinbot.pins import Found
from pinbot.pins.text import Lines
from pinbot.pins.toml_strings import strings

# A table header, or a package's `version = "…"` line, as poetry and uv write them.
_LOCK_LINE = re.compile(r'^(?:(?P<header>\[[^\r\n]*)|version = "(?P<version>[^"\\\r\n]*)")', re.M)


@dataclass(frozen=True)
class Locked:
    package: str
    version: str
    line: int


@dataclass(frozen=True)
class LockChange:
    """One package whose locked version changed (None: added or removed)."""

    file: str
    package: str
    old: str | None
    new: str | None

    def to_json(self) -> dict[str, str | None]:
        return {"file": self.file, "package": self.package, "old": self.old, "new": self.new}


def locked(text: str, file: str) -> list[Locked]:
    """Every `[[package]]` with its version and the line that says it."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file}: not a valid lock file ({exc})") from None
    except RecursionError:
        raise UsageError(f"{file}: nests TOML too deep for a lock file; refusing it") from None
    packages = doc.get("package", [])
    if not isinstance(packages, list):
        raise UsageError(f"{file}: not a lock file (no [[package]] list)")
    versions = [str(p.get("version", "")) if isinstance(p, dict) else "" for p in packages]
    lines = _version_lines(text, versions)
    if lines is None:
        lines = [s.line for s in strings(text, file) if s.path == ("package", "version")]
    if len(lines) != len(packages):
        lines = [0] * len(packages)  # a form the lexer cannot place: report without lines
    return [
        Locked(canonicalize_name(str(p.get("name", ""))), str(p.get("version", "")), line)
        for p, line in zip(packages, lines, strict=True)
        if isinstance(p, dict)
    ]


def _version_lines(text: str, versions: Sequence[str]) -> list[int] | None:
    """The line of each `[[package]]`'s `version = "…"`, as lock tools write it (one key per
    line, at the start); None when what is found there is not exactly what tomllib read, and
    the full lexer must place them. One pass over the text, a tenth of the lexer's time."""
    lines, numbers, inside = [], Lines(text), False
    for match in _LOCK_LINE.finditer(text):
        if match["header"] is not None:
            inside = match["header"].split("#")[0].strip() == "[[package]]"
        elif inside:
            lines.append((numbers.at(match.start()), match["version"]))
            inside = False
    if [version for _, version in lines] != list(versions):
        return None
    return [line for line, _ in lines]


def read(text: str, file: str, packages: Sequence[str]) -> list[Found]:
    """The locked versions of `packages` (a package the lock does not hold is not a site)."""
    wanted = {canonicalize_name(p) for p in packages}
    return [
        Found(
            file, entry.line, "version", entry.version, f"{entry.package}=={entry.version} (locked)"
        )
        for entry in locked(text, file)
        if entry.package in wanted
    ]


def diff(old: str, new: str, file: str) -> list[LockChange]:
    """Every package whose locked version changed, sorted by name."""
    before = {e.package: e.version for e in locked(old, file)}
    after = {e.package: e.version for e in locked(new, file)}
    return [
        LockChange(file, name, before.get(name), after.get(name))
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


def command(file: str, configured: str, moved: Sequence[str] = ()) -> list[str]:
    """The lock command as argv: the configured one, else the file's own tool asked to move only
    what must move. `poetry lock` keeps every locked package it can (2.x; pinbot adds
    `--no-update` for 1.x); `poetry update --lock P…` would re-fetch a git-sourced P from its
    host, which a lock moving from git revisions to releases (OpenHands #11695) does not need.
    uv is told the `moved` packages (`uv lock --upgrade-package P…`)."""
    if configured:
        return _split(file, configured)
    name = PurePosixPath(file).name
    if name == "poetry.lock":
        return ["poetry", "lock"]
    if name == "uv.lock":
        return ["uv", "lock", *[a for p in moved for a in ("--upgrade-package", p)]]
    raise UsageError(
        f"lock site {file}: no command for this lock file: set `command` in its "
        '[[pin.sites]] entry (e.g. command = "poetry lock")'
    )


def _split(file: str, text: str) -> list[str]:
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"lock site {file}: command {text!r} cannot be split ({exc})") from None
    if not argv:
        raise UsageError(f"lock site {file}: the command is empty")
    return argv
