"""Objects by name through one long-lived `git cat-file --batch` per repository (`CatFile`), and
file contents by blob id over it (`Blobs`).
"""

from __future__ import annotations

import subprocess
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

from pinbot.errors import ExternalError
from pinbot.git.credentials import Credential
from pinbot.git.runner import environment, run


class CatFile:
    """One `git cat-file --batch` per repository, started on first use: a scan asks about many
    shas, and a lookup through the pipe costs far less than starting git for each."""

    def __init__(self, repo: Path, credential: Credential | None = None) -> None:
        self.repo = repo
        self.credential = credential  # a partial clone may fetch what it lacks
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._started()

    def read(self, spec: str) -> tuple[str, bytes] | None:
        """(type, content) of the object `spec` names, or None when there is none."""
        with self._lock:
            proc = self._started()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(spec.encode() + b"\n")
                proc.stdin.flush()
                header = proc.stdout.readline().split()
                if len(header) != 3:  # "<spec> missing" or "<spec> ambiguous"
                    return None
                body = proc.stdout.read(int(header[2]) + 1)[:-1]
            except (OSError, ValueError):
                self.close()
                raise ExternalError(f"git cat-file in {self.repo} stopped answering") from None
            return header[1].decode(), body

    def _started(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            try:
                self._proc = subprocess.Popen(
                    ["git", "-C", str(self.repo), "cat-file", "--batch"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env=environment(self.credential),
                )
            except FileNotFoundError:
                raise ExternalError("git is not installed: install git to use --sdk") from None
            weakref.finalize(self, _stop, self._proc)
        return self._proc

    def close(self) -> None:
        if self._proc is not None:
            _stop(self._proc)
            self._proc = None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()  # git exits at the end of its input
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


class Blobs:
    """File contents by blob id, through one `git cat-file --batch` (a blobless mirror fetches
    each from its remote on first read, unless `prefetch` brought them all in one go)."""

    def __init__(
        self, git_dir: Path, credential: Credential | None = None, remote: str | None = None
    ) -> None:
        self._git_dir, self._credential, self._remote = git_dir, credential, remote
        self._reader = CatFile(git_dir, credential)

    def prefetch(self, blobs: Sequence[str]) -> None:
        """One fetch for the blobs a blobless mirror lacks, instead of one per blob; a remote
        that does not serve objects by id leaves them to be fetched on read, as before."""
        if self._remote is None or not blobs:
            return
        args = ["-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "--no-tags"]
        args += ["--no-write-fetch-head", "--filter=blob:none", "--stdin", "--", self._remote]
        run(self._git_dir, args, "\n".join(blobs).encode(), credential=self._credential)

    def read(self, blob: str) -> bytes | None:
        found = self._reader.read(blob)
        return found[1] if found is not None and found[0] == "blob" else None

    def close(self) -> None:
        self._reader.close()


def tree_entries(tree: bytes) -> Iterator[tuple[bytes, str]]:
    """(mode, name) of each entry of a raw tree object (`<mode> <name>\\0<20-byte id>`...)."""
    at = 0
    while at < len(tree):
        space = tree.index(b" ", at)
        end = tree.index(b"\0", space)
        yield tree[at:space], tree[space + 1 : end].decode(errors="replace")
        at = end + 21
