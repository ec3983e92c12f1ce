"""Lock files (`poetry.lock`, `uv.lock`): read what they lock, regenerate them with their own tool.

A lock carries file hashes and a content hash, so only its tool may rewrite it: pinbot runs
`poetry lock` or `uv lock` (or the configured command) in a scratch directory holding the new
`pyproject.toml` and the old lock, reads the result, and reports every package whose locked
version changed. Reading is pure; `regenerate` is the one place a lock tool runs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name

from pinbot.errors import ExternalError, UsageError
from pinbot.pins import Found
from pinbot.pins.toml_strings import strings

TOOLS = {"poetry.lock": "poetry lock", "uv.lock": "uv lock"}
INSTALL = {
    "poetry": "install it (pipx install poetry, or pip install poetry) and put it on PATH",
    "uv": "install it (pipx install uv, or pip install uv) and put it on PATH",
}
TIMEOUT = 600.0


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
    lines = [s.line for s in strings(text, file) if s.path == ("package", "version")]
    if len(lines) != len(packages):
        lines = [0] * len(packages)  # a form the lexer cannot place: report without lines
    return [
        Locked(canonicalize_name(str(p.get("name", ""))), str(p.get("version", "")), line)
        for p, line in zip(packages, lines, strict=True)
        if isinstance(p, dict)
    ]


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


def command(file: str, configured: str) -> list[str]:
    """The lock command as argv: the configured one, else the tool the file's name implies."""
    text = configured or TOOLS.get(PurePosixPath(file).name, "")
    if not text:
        raise UsageError(
            f"lock site {file}: no command for this lock file: set `command` in its "
            '[[pin.sites]] entry (e.g. command = "poetry lock")'
        )
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"lock site {file}: command {text!r} cannot be split ({exc})") from None
    if not argv:
        raise UsageError(f"lock site {file}: the command is empty")
    return argv


def regenerate(directory: Path, argv: Sequence[str], file: str) -> None:
    """Run the lock tool in `directory` (holding the new pyproject.toml and the old lock)."""
    tool = argv[0]
    path = shutil.which(tool)
    if path is None:
        fix = INSTALL.get(PurePosixPath(tool).name, "install it and put it on PATH")
        raise UsageError(f"{tool} is not installed, and {file} can only be rewritten by it: {fix}")
    full = [path, *_adapted(path, argv[1:])]
    env = dict(
        os.environ,
        POETRY_NO_INTERACTION="1",
        POETRY_VIRTUALENVS_PATH=str(directory.parent / "venvs"),
    )
    try:
        done = subprocess.run(
            full, cwd=directory, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise ExternalError(f"`{shlex.join(argv)}` for {file} took over {TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-4:])
        raise ExternalError(
            f"`{shlex.join(argv)}` failed for {file} (exit {done.returncode}): {tail}"
        )


def _adapted(path: str, args: Sequence[str]) -> list[str]:
    """Poetry 1.x updates every package on `poetry lock` unless told `--no-update`; 2.x keeps
    them by default and has no such flag."""
    if PurePosixPath(path).name != "poetry" or list(args) != ["lock"]:
        return list(args)
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    match = re.search(r"(\d+)\.\d+", version.stdout)
    return ["lock", "--no-update"] if match and int(match.group(1)) < 2 else ["lock"]
