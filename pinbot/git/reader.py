"""A repository read where it is (`InPlace`): the gate's and scan's questions (`RepoReader`),
answered with git plumbing on a path, or on a temporary blobless mirror of a URL. GitHub's API
answers the same questions without a clone (pinbot.github.reader.GitHubReader).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pinbot.commits import CommitInfo, refuse_submodule, refuse_symlink
from pinbot.errors import ExternalError, UsageError
from pinbot.git.catfile import Blobs, tree_entries
from pinbot.git.credentials import Credential, split_credential
from pinbot.git.history import Touched, first_parent_log, lock_files, pin_file_history
from pinbot.git.runner import last_line, run, run_text
from pinbot.git.sources import check_source
from pinbot.model import SHA_RE


class RepoReader(Protocol):
    """Read-only questions about one repository (the gate's seam: a clone, or GitHub's API)."""

    where: str  # names the repository in messages

    def resolve(self, ref: str | None) -> str | None:
        """The commit `ref` names (None: HEAD, or the default branch), or None when unknown."""
        ...

    def has_commit(self, sha: str) -> bool: ...

    def read(self, commit: str, path: str) -> bytes | None:
        """The file at `path` in `commit`, or None when it is not there."""
        ...

    def contains(self, tip: str, sha: str) -> bool:
        """Whether `sha` is `tip` or one of its ancestors (an unknown sha is not)."""
        ...

    def lock_files(self, commit: str) -> list[str]:
        """Every `poetry.lock` and `uv.lock` in the tree at `commit`."""
        ...

    def first_parents(self, tip: str, limit: int) -> list[CommitInfo]:
        """`tip` and its first-parent ancestors, newest first, with their trailers."""
        ...


class InPlace:
    """A repository on disk read where it is, with git plumbing: no checkout, no fetch of the
    user's refs, no write (GIT_OPTIONAL_LOCKS=0 keeps even git's opportunistic index refresh
    away). `mirror` makes a temporary blobless mirror of a URL and reads that instead."""

    def __init__(self, path: Path, flag: str, where: str | None = None) -> None:
        self.path = path
        self.where = where or str(path)
        self._fetch_from: str | None = None  # set for a mirror: fetch a commit it lacks
        self._credential: Credential | None = None
        status, _, err = self._git("rev-parse", "--git-dir")
        if status != 0:
            raise UsageError(f"{flag} {self.where} is not a git repository ({last_line(err)})")

    @classmethod
    def open(cls, source: str, flag: str) -> InPlace:
        """A local path or file:// URL, read in place."""
        check_source(source, flag)
        text = source.removeprefix("file://")
        path = Path(text).expanduser()
        if not path.is_dir():
            raise UsageError(f"{flag} {source!r}: no such directory, and not a git URL")
        return cls(path, flag, source)

    @classmethod
    def mirror(cls, url: str, flag: str, directory: Path) -> InPlace:
        """A blobless bare mirror of `url` in `directory` (file contents arrive when read)."""
        check_source(url, flag)
        url, credential = split_credential(url, flag)
        status, _, err = run_text(
            directory.parent,
            "clone",
            "--quiet",
            "--bare",
            "--filter=blob:none",
            "--",
            url,
            str(directory),
            credential=credential,
        )
        if status != 0:
            raise ExternalError(
                f"git clone {url} ({flag}) failed: {last_line(err)}; check the URL and your "
                "access to it"
            )
        made = cls(directory, flag, url)
        made._fetch_from = url
        made._credential = credential  # blobs (and missing commits) arrive from the remote
        return made

    def resolve(self, ref: str | None) -> str | None:
        status, out, _ = self._git(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref or 'HEAD'}^{{commit}}"
        )
        if status != 0 and ref and SHA_RE.match(ref) and self._fetched(ref):
            status, out, _ = self._git(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
            )
        return out.strip() if status == 0 else None

    def has_commit(self, sha: str) -> bool:
        return self.resolve(sha) == sha

    def pin_history(self, tip: str, paths: Sequence[str]) -> list[Touched]:
        return pin_file_history(self.path, tip, paths, self._credential)

    def blobs(self) -> Blobs:
        return Blobs(self.path, self._credential, self._fetch_from)

    def read(self, commit: str, path: str) -> bytes | None:
        # One cat-file process answers, for the file and for its directory's tree (which says
        # whether the file is a regular one), "missing" or "<id> <type> <size>" and the bytes.
        directory, _, name = path.rpartition("/")
        asked = f"{commit}:{path}\n{commit}:{directory}\n"
        done = run(self.path, ["cat-file", "--batch"], asked.encode(), credential=self._credential)
        blob, rest = _batch_object(done.stdout)
        tree, _ = _batch_object(rest)
        mode = _entry_mode(tree[1], name) if tree is not None else None
        if mode == b"120000":
            raise refuse_symlink(path, commit, self.where)
        if mode == b"160000":
            raise refuse_submodule(path, commit, self.where)
        if blob is None or blob[0] != b"blob":
            return None
        return blob[1]

    def contains(self, tip: str, sha: str) -> bool:
        status, _, _ = self._git("merge-base", "--is-ancestor", "--", sha, tip)
        return status == 0

    def lock_files(self, commit: str) -> list[str]:
        return lock_files(self.path, commit, self.where, self._credential)

    def first_parents(self, tip: str, limit: int) -> list[CommitInfo]:
        return first_parent_log(self.path, tip, self.where, self._credential, limit=limit)

    def _fetched(self, sha: str) -> bool:
        """A mirror lacks commits that no branch reaches: ask the remote for that one."""
        if self._fetch_from is None:
            return False
        status, _, _ = self._git(
            "fetch", "--quiet", "--filter=blob:none", "--", self._fetch_from, sha
        )
        return status == 0

    def _git(self, *args: str) -> tuple[int, str, str]:
        return run_text(self.path, *args, credential=self._credential)


def _batch_object(data: bytes) -> tuple[tuple[bytes, bytes] | None, bytes]:
    """(type, content) of the first object in `cat-file --batch` output (None: missing), and
    the output after it."""
    header, _, rest = data.partition(b"\n")
    fields = header.split()
    if len(fields) != 3:
        return None, rest
    size = int(fields[2])
    return (fields[1], rest[:size]), rest[size + 1 :]


def _entry_mode(tree: bytes, wanted: str) -> bytes | None:
    """The mode of `wanted` in a raw tree object, or None."""
    return next((mode for mode, name in tree_entries(tree) if name == wanted), None)
