"""The version the SDK declares at a commit: what a build tag (`4e2ecd8-python`) or a git
revision pin *is*, read from `openhands-sdk/pyproject.toml` in the SDK history pinbot already
reads (a `--sdk` clone or URL, else GitHub's contents API). Pure: the reading is passed in.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable

from packaging.version import InvalidVersion, Version

PYPROJECT = "openhands-sdk/pyproject.toml"
Read = Callable[[str, str], bytes | None]  # (commit, path) -> the file's bytes, None: absent


def declared_version(data: bytes | None) -> str | None:
    """`[project].version` (else `[tool.poetry].version`) of an SDK pyproject; None when the
    file is absent, unreadable, or names no valid version."""
    if data is None:
        return None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    project, poetry = doc.get("project"), doc.get("tool", {}).get("poetry")
    tables = [t for t in (project, poetry) if isinstance(t, dict)]
    found = next((t["version"] for t in tables if isinstance(t.get("version"), str)), None)
    try:
        return str(Version(found)) if found else None
    except InvalidVersion:
        return None


def declared(read: Read, commits: Iterable[str]) -> dict[str, str]:
    """Commit -> the version its SDK declares, for each commit whose version can be read."""
    found = {commit: declared_version(read(commit, PYPROJECT)) for commit in commits}
    return {commit: version for commit, version in found.items() if version is not None}
