"""`Clone`: a bare temporary repository that fetches from the user's repository and pushes back to
it (the cut). The user's working tree, index and configuration are never read or written;
commits are built from objects, so no hook, autocrlf filter or signing setting changes what is
committed. GitPython is imported only when a `Clone` is made: scans never load it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pinbot.commits import CommitInfo, refuse_submodule, refuse_symlink, short
from pinbot.errors import ExternalError
from pinbot.git.catfile import Blobs
from pinbot.git.credentials import split_credential
from pinbot.git.history import Touched, first_parent_log, lock_files, pin_file_history
from pinbot.git.runner import last_line, run_text
from pinbot.git.sources import remote_url

# Rejections that mean "the branch moved under us": refetch and rebuild. Anything else is final.
_MOVED = ("non-fast-forward", "fetch first", "stale info")

_SYMLINK_MODE = 0o120000


class Clone:
    """A bare temporary repository that mirrors the branches it is asked for from one source."""

    def __init__(self, source: str, flag: str, directory: Path, author: tuple[str, str]) -> None:
        self.flag = flag
        import git as gitpython  # GitPython: only a cut builds commits

        self.url, self.credential = split_credential(remote_url(source, flag), flag)
        self.author = gitpython.Actor(*author)
        # No templates and no hooks: what pinbot pushes must not depend on the user's set-up.
        # (GitPython guards --template against untrusted input; this value is our own.)
        self.repo = gitpython.Repo.init(
            directory, bare=True, template="", allow_unsafe_options=True
        )
        with self.repo.config_writer() as cfg:
            cfg.set_value("core", "hooksPath", str(directory / "no-hooks"))

    def close(self) -> None:
        """Stop the `git cat-file` helpers GitPython keeps running for this repository."""
        self.repo.close()

    def remote_branches(self, *branches: str) -> dict[str, str]:
        """branch -> tip sha on the remote, for those of `branches` that exist there."""
        out = self._network("ls-remote", "--heads", "--", self.url, *branches)
        refs = (line.split("\t") for line in out.splitlines() if "\t" in line)
        tips = {ref: sha for sha, ref in refs}
        return {b: tips[f"refs/heads/{b}"] for b in branches if f"refs/heads/{b}" in tips}

    def fetch(self, *branches: str) -> dict[str, str]:
        """Fetch the branches that exist; returns their tips (a missing branch is left out)."""
        tips = self.remote_branches(*branches)
        if tips:
            specs = [f"+refs/heads/{b}:refs/remotes/origin/{b}" for b in tips]
            self._network("fetch", "--quiet", "--no-tags", "--", self.url, *specs)
        return tips

    def read(self, commit: str, path: str) -> bytes | None:
        """The file at `path` in `commit`, or None when it is not there (or not a file)."""
        try:
            blob = self.repo.commit(commit).tree / path
        except KeyError:
            return None
        if blob.type == "blob" and blob.mode == _SYMLINK_MODE:
            raise refuse_symlink(path, commit, self.url)
        if blob.type == "submodule":
            raise refuse_submodule(path, commit, self.url)
        return bytes(blob.data_stream.read()) if blob.type == "blob" else None

    def contains(self, tip: str, sha: str) -> bool:
        """Whether `sha` is `tip` or one of its ancestors (an unknown sha is not)."""
        status, _, _ = self._run("merge-base", "--is-ancestor", sha, tip)
        return status == 0

    def pin_history(self, tip: str, paths: Sequence[str]) -> list[Touched]:
        return pin_file_history(Path(self.repo.git_dir), tip, paths, self.credential)

    def blobs(self) -> Blobs:
        return Blobs(Path(self.repo.git_dir), self.credential)

    def lock_files(self, commit: str) -> list[str]:
        """Every `poetry.lock` and `uv.lock` in the tree at `commit`."""
        return lock_files(Path(self.repo.git_dir), commit, self.url, self.credential)

    def commit(self, parent: str, files: Mapping[str, bytes], message: str) -> str:
        """A commit on `parent` with `files` replaced, by the bot identity; returns its sha."""
        from git.index.base import IndexFile
        from git.objects.commit import Commit

        base = self.repo.commit(parent)
        index = IndexFile.from_tree(self.repo, base.tree)
        entries = [self._entry(base, path, data) for path, data in files.items()]
        index.add(entries, write=False)
        tree = index.write_tree()
        made = Commit.create_from_tree(
            self.repo, tree, message, [base], author=self.author, committer=self.author
        )
        return str(made.hexsha)

    def _entry(self, base: Any, path: str, data: bytes) -> Any:
        from git.index.typ import BaseIndexEntry
        from gitdb.base import IStream  # type: ignore[import-untyped]  # GitPython's object store

        mode = (base.tree / path).mode  # keep the executable bit as it was
        stream = self.repo.odb.store(IStream("blob", len(data), io.BytesIO(data)))
        return BaseIndexEntry((mode, stream.binsha, 0, path))

    def log(self, tip: str, base: str | None = None, limit: int | None = None) -> list[CommitInfo]:
        """Commits reachable from `tip` (and not from `base`), newest first, with trailers."""
        revisions = f"{base}..{tip}" if base else tip
        git_dir = Path(self.repo.git_dir)
        return first_parent_log(git_dir, revisions, self.url, self.credential, limit=limit)

    def parents(self, commit: str) -> list[str]:
        return [str(parent.hexsha) for parent in self.repo.commit(commit).parents]

    def tree(self, commit: str) -> str:
        return str(self.repo.commit(commit).tree.hexsha)

    def describe(self, commit: str) -> str:
        """`<sha> by <author> (<subject>)`, escaped: what a refusal names."""
        (info,) = self.log(commit, limit=1)
        return f"{short(info.sha)} by {info.author!r} ({info.subject!r})"

    def push(self, commit: str, branch: str) -> bool:
        """Push `commit` to `branch` without force. False when the branch moved meanwhile."""
        return self._push(commit, branch)

    def replace(self, commit: str, branch: str, tip: str) -> bool:
        """Push `commit` to `branch` in place of `tip` (--force-with-lease on that tip: only
        when config says pinbot owns its branches). False when the branch moved meanwhile."""
        return self._push(commit, branch, f"--force-with-lease=refs/heads/{branch}:{tip}")

    def _push(self, commit: str, branch: str, *lease: str) -> bool:
        status, out, err = self._run(
            "push", "--porcelain", *lease, "--", self.url, f"{commit}:refs/heads/{branch}"
        )
        if status == 0:
            return True
        if any(reason in out + err for reason in _MOVED) and "remote rejected" not in out:
            return False
        raise ExternalError(
            f"git push of {branch} to {self.url} failed: {_push_reason(out, err)}; "
            "nothing was forced, re-run once the remote accepts pushes"
        )

    def _network(self, *args: str) -> str:
        status, out, err = self._run(*args)
        if status != 0:
            raise ExternalError(
                f"git {args[0]} {self.url} ({self.flag}) failed: {last_line(err)}; "
                "check the URL and your access to it"
            )
        return out

    def _run(self, *args: str) -> tuple[int, str, str]:
        return run_text(Path(self.repo.git_dir), *args, credential=self.credential)


def _push_reason(out: str, err: str) -> str:
    rejected = [line.split("\t")[-1] for line in out.splitlines() if line.startswith("!")]
    return rejected[0] if rejected else last_line(err)
