"""`--sdk`: "is this file in the SDK at that sha", answered from the user's clone (`GitClone`,
read-only) or from a blobless mirror in the cache (`GitMirror`, fetched when a sha is missing),
through one long-lived cat-file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pinbot.errors import ExternalError, UsageError
from pinbot.git.catfile import CatFile, tree_entries
from pinbot.git.credentials import split_credential
from pinbot.git.runner import last_line, run
from pinbot.git.sources import check_source, is_url

T = TypeVar("T")


def open_sdk_git(spec: str, cache: Path) -> GitClone | GitMirror:
    """`--sdk URL` (a mirror under `cache`) or `--sdk PATH` (the user's clone, read in place)."""
    check_source(spec, "--sdk")
    if is_url(spec):
        return GitMirror(spec, cache / "sdk")
    return GitClone(_checked_clone(Path(spec).expanduser()))


def _checked_clone(path: Path) -> Path:
    if not path.is_dir():
        raise UsageError(f"--sdk {path}: no such directory: give a software-agent-sdk clone or URL")
    probe = run(path, ["rev-parse", "--git-dir"])
    if probe.returncode != 0:
        raise UsageError(f"--sdk {path} is not a git repository: clone software-agent-sdk there")
    return path


def _lookup(reader: CatFile, sha: str, path: str) -> tuple[bool, bool]:
    """Whether this repository has commit `sha`, and whether `path` is a file in it."""
    # `^{commit}` makes a tree or blob id count as unknown. Only trees are read, so this works
    # in a blobless mirror without fetching blobs; `<sha>:<dir>` is from the top of the tree
    # even when --sdk names a subdirectory of the clone.
    if reader.read(f"{sha}^{{commit}}") is None:
        return False, False
    directory, _, name = path.rpartition("/")
    tree = reader.read(f"{sha}:{directory}" if directory else f"{sha}^{{tree}}")
    return True, tree is not None and tree[0] == "tree" and name in _file_names(tree[1])


def _read_file(reader: CatFile, sha: str, path: str) -> tuple[bool, bytes | None]:
    """Whether this repository has commit `sha`, and the blob at `path` in it (None: no such
    file). A blobless mirror fetches the one blob it is asked for."""
    if reader.read(f"{sha}^{{commit}}") is None:
        return False, None
    found = reader.read(f"{sha}:{path}")
    return True, found[1] if found is not None and found[0] == "blob" else None


def _file_names(tree: bytes) -> set[str]:
    """Names of the regular files in a raw tree object."""
    return {name for mode, name in tree_entries(tree) if mode in (b"100644", b"100755")}


class GitClone:
    """A clone the user keeps (`--sdk PATH`). Read-only: pinbot never fetches into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = f"the clone {path}"
        self._reader = CatFile(path)
        self._reader.start()  # now, while the registry is asked: a scan's first lookup waits less

    def has_file(self, sha: str, path: str) -> bool:
        return self._ask(sha, lambda reader: _lookup(reader, sha, path))

    def read(self, sha: str, path: str) -> bytes | None:
        return self._ask(sha, lambda reader: _read_file(reader, sha, path))

    def _ask(self, sha: str, question: Callable[[CatFile], tuple[bool, T]]) -> T:
        known, answer = question(self._reader)
        if not known:
            raise ExternalError(
                f"commit {sha} is not in the clone {self.path}: "
                f"run 'git -C {self.path} fetch origin' (or pass --sdk URL)"
            )
        return answer


class GitMirror:
    """`--sdk URL`: a bare blobless mirror under the cache, fetched when a sha is missing.

    A blobless clone is a partial clone, so git itself may fetch a missing commit on lookup
    (servers that allow it, like GitHub); the explicit fetch covers servers that do not.
    """

    def __init__(self, url: str, root: Path) -> None:
        self.url, self.credential = split_credential(url, "--sdk")
        self.where = self.url  # shown in evidence, PR bodies and the cache
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        self.path = root / key
        self._lock = threading.Lock()
        self._reader = CatFile(self.path, self.credential)

    def has_file(self, sha: str, path: str) -> bool:
        return self._ask(sha, lambda reader: _lookup(reader, sha, path))

    def read(self, sha: str, path: str) -> bytes | None:
        return self._ask(sha, lambda reader: _read_file(reader, sha, path))

    def _ask(self, sha: str, question: Callable[[CatFile], tuple[bool, T]]) -> T:
        with self._lock:
            self._ensure_cloned()
            known, answer = question(self._reader)
            if not known:
                self._fetch()
                self._reader.close()  # see the fetched objects with a fresh reader
                known, answer = question(self._reader)
        if not known:
            raise ExternalError(f"commit {sha} is not in {self.where}, even after a fetch")
        return answer

    def _ensure_cloned(self) -> None:
        if (self.path / "HEAD").is_file():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Clone beside the final place and rename, so a killed clone never looks complete.
        staging = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=".clone-"))
        try:
            args = ["clone", "--quiet", "--bare", "--filter=blob:none", "--", self.url, "."]
            done = run(staging, args, credential=self.credential)
            if done.returncode != 0:
                raise ExternalError(
                    f"cloning {self.where} failed: {last_line(done.stderr)}; check the --sdk URL"
                )
            try:
                os.replace(staging, self.path)
            except OSError as exc:
                # Another pinbot may have finished the same clone first; that one is fine.
                if not (self.path / "HEAD").is_file():
                    raise ExternalError(f"cannot create the mirror {self.path}: {exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _fetch(self) -> None:
        # A bare clone has no fetch refspec, so name the refs to keep up to date.
        refspecs = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
        args = ["fetch", "--quiet", "--prune", "--", "origin", *refspecs]
        done = run(self.path, args, credential=self.credential)
        if done.returncode != 0:
            raise ExternalError(f"fetching {self.where} failed: {last_line(done.stderr)}")
