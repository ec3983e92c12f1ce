"""The files a lock tool needs to relock a lock: its project, and every project it reaches by path.

`enterprise/poetry.lock` locks `enterprise/pyproject.toml`, which depends on the repository's
root project by path (`openhands-ai = { path = "../", develop = true }`): poetry reads
`../pyproject.toml` while locking. So the scratch tree holds, at their places in the repository,
the lock, each project's `pyproject.toml` (`setup.py`/`setup.cfg` for a project without one), its
`.python-version` and the readme it names (empty when the tree lacks it: poetry only needs it
to exist). Nothing else: no `poetry.toml` or `uv.toml` (repository tool configuration that could
add indexes). A path that leaves the repository is refused. Pure: the files come from `read`,
the result is data.
"""

from __future__ import annotations

import posixpath
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

from pinbot.errors import UsageError

Reader = Callable[[str], bytes | None]
PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg", ".python-version")
MAX_PROJECTS = 64


def tree_files(read: Reader, lock_file: str) -> dict[str, bytes]:
    """Path in the repository → bytes, for relocking `lock_file` (the old lock included)."""
    files = {lock_file: read(lock_file) or b""}
    for folder in folders(read, lock_file):
        files |= _project(read, folder)
    return files


def reaches_root(read: Reader, lock_file: str) -> bool:
    """Whether the project `lock_file` locks is the root project or depends on it by path (an
    unreadable project is taken as not: it is no pin site then)."""
    try:
        return "" in folders(read, lock_file)
    except UsageError:
        return False


def folders(read: Reader, lock_file: str) -> list[str]:
    """The lock's project folder and every project folder it reaches by path, in order."""
    todo, seen = [posixpath.dirname(lock_file)], []
    while todo:
        folder = todo.pop()
        if folder in seen:
            continue
        seen.append(folder)
        if len(seen) > MAX_PROJECTS:
            raise UsageError(
                f"{lock_file}: its project reaches more than {MAX_PROJECTS} projects by path; "
                "pinbot does not relock that"
            )
        todo += _path_dependencies(read(_join(folder, "pyproject.toml")), folder)
    return seen


def _project(read: Reader, folder: str) -> dict[str, bytes]:
    found = {_join(folder, n): read(_join(folder, n)) for n in PROJECT_FILES}
    files = {path: data for path, data in found.items() if data is not None}
    pyproject = files.get(_join(folder, "pyproject.toml"))
    for readme in _readmes(_toml(pyproject, folder)):
        path = _inside(folder, readme, folder)
        files[path] = read(path) or b""
    return files


def _path_dependencies(pyproject: bytes | None, folder: str) -> list[str]:
    """The folders of the projects this one names by path (a path to a file is copied as is)."""
    folders = []
    for target in _paths(_toml(pyproject, folder)):
        path = _inside(folder, target, _join(folder, "pyproject.toml"))
        if path.endswith((".whl", ".tar.gz", ".zip")):
            continue  # an archive: the tool reads it as a file; not a project to follow
        folders.append(path)
    return folders


def _paths(doc: dict[str, Any]) -> Iterator[str]:
    poetry = _table(doc.get("tool"), "poetry")
    tables = [_table(poetry, "dependencies"), _table(poetry, "dev-dependencies")]
    tables += [_table(g, "dependencies") for g in _table(poetry, "group").values()]
    tables.append(_table(_table(doc.get("tool"), "uv"), "sources"))
    for table in tables:
        for value in table.values():
            for entry in value if isinstance(value, list) else [value]:
                if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                    yield entry["path"]


def _readmes(doc: dict[str, Any]) -> list[str]:
    names: list[str] = []
    poetry_readme = _table(doc.get("tool"), "poetry").get("readme")
    project_readme = _table(doc, "project").get("readme")
    for value in (poetry_readme, project_readme):
        if isinstance(value, str):
            names.append(value)
        elif isinstance(value, list):
            names += [v for v in value if isinstance(v, str)]
        elif isinstance(value, dict) and isinstance(value.get("file"), str):
            names.append(value["file"])
    return names


def _table(value: Any, key: str) -> dict[str, Any]:
    table = value.get(key) if isinstance(value, dict) else None
    return table if isinstance(table, dict) else {}


def _toml(data: bytes | None, where: str) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise UsageError(
            f"{_join(where, 'pyproject.toml')}: not valid TOML ({exc}); fix it, then re-run"
        ) from None


def _inside(folder: str, relative: str, where: str) -> str:
    """`relative` from `folder`, as a path inside the repository; refused when it leaves it."""
    joined = posixpath.normpath(posixpath.join(folder or ".", relative))
    if relative.startswith("/") or "\\" in relative or "\0" in relative or joined.startswith(".."):
        raise UsageError(
            f"{where}: the path {relative!r} leaves the repository: pinbot relocks only projects "
            "inside it; make the path relative and inside the repository"
        )
    return "" if joined == "." else joined


def _join(folder: str, name: str) -> str:
    return posixpath.join(folder, name) if folder else name
