"""Git: temporary clones, ancestry checks, bot commits with trailers, pushes that never force.

The only module that runs git. Work happens in a bare temporary repository that fetches from the
user's repository (a path or a URL) and pushes back to it: the user's working tree, index and
git configuration are never read or written. Commits are built from objects (blobs, a tree, a
commit), so no hook, no autocrlf filter and no signing setting can change what is committed.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import git
from git.index.base import IndexFile
from git.index.typ import BaseIndexEntry
from git.objects.commit import Commit
from gitdb.base import IStream  # type: ignore[import-untyped]  # GitPython's object store

from pinbot.errors import ExternalError, UsageError
from pinbot.gitcli import run_git
from pinbot.model import SHA_RE

IMAGE_TRAILER = "Pinbot-Image"
DIGEST_TRAILER = "Pinbot-Digest"
NETWORK_TIMEOUT = 300.0
_FIELD, _RECORD = "\x1f", "\x1e"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/\s]+@[^/\s]+:")
# Rejections that mean "the branch moved under us": refetch and rebuild. Anything else is final.
_MOVED = ("non-fast-forward", "fetch first")
_TRAILER = re.compile(r"(?P<key>[A-Za-z0-9][A-Za-z0-9-]*):\s+(?P<value>.*)\Z")


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    subject: str
    trailers: Mapping[str, str] = field(default_factory=dict)

    @property
    def by_pinbot(self) -> bool:
        return IMAGE_TRAILER in self.trailers


def is_url(text: str) -> bool:
    """A URL or scp-like `user@host:path`, as opposed to a filesystem path."""
    return bool(_URL.match(text))


def remote_url(source: str, flag: str) -> str:
    """A URL git can fetch from: URLs as given, local paths made absolute (and checked)."""
    if _URL.match(source):
        return source
    path = Path(source).expanduser()
    if not path.exists():
        raise UsageError(f"{flag} {source!r}: no such directory, and not a git URL")
    return str(path.resolve())


def trailers(image: str, digest: str | None, extra: Mapping[str, str] | None = None) -> str:
    lines = [f"{IMAGE_TRAILER}: {image}"]
    if digest:
        lines.append(f"{DIGEST_TRAILER}: {digest}")
    lines += [f"{key}: {value}" for key, value in (extra or {}).items()]
    return "\n".join(lines)


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

    def first_parents(self, tip: str, limit: int) -> list[CommitInfo]:
        """`tip` and its first-parent ancestors, newest first, with their trailers."""
        ...


class InPlace:
    """A repository on disk read where it is, with git plumbing: no checkout, no fetch of the
    user's refs, no write (GIT_OPTIONAL_LOCKS=0 keeps even git's opportunistic index refresh
    away). `mirror` makes a temporary blobless mirror of a URL and reads that instead."""

    def __init__(self, path: Path, flag: str, where: str | None = None) -> None:
        self.path = path
        self.flag = flag
        self.where = where or str(path)
        self._fetch_from: str | None = None  # set for a mirror: fetch a commit it lacks
        status, _, err = self._git("rev-parse", "--git-dir")
        if status != 0:
            raise UsageError(f"{flag} {self.where} is not a git repository ({_last_line(err)})")

    @classmethod
    def open(cls, source: str, flag: str) -> InPlace:
        """A local path or file:// URL, read in place."""
        text = source.removeprefix("file://")
        path = Path(text).expanduser()
        if not path.is_dir():
            raise UsageError(f"{flag} {source!r}: no such directory, and not a git URL")
        return cls(path, flag, source)

    @classmethod
    def mirror(cls, url: str, flag: str, directory: Path) -> InPlace:
        """A blobless bare mirror of `url` in `directory` (file contents arrive when read)."""
        status, _, err = _plain_git(
            directory.parent,
            "clone",
            "--quiet",
            "--bare",
            "--filter=blob:none",
            url,
            str(directory),
        )
        if status != 0:
            raise ExternalError(
                f"git clone {url} ({flag}) failed: {_last_line(err)}; check the URL and your "
                "access to it"
            )
        made = cls(directory, flag, url)
        made._fetch_from = url
        return made

    def resolve(self, ref: str | None) -> str | None:
        status, out, _ = self._git(
            "rev-parse", "--verify", "--quiet", f"{ref or 'HEAD'}^{{commit}}"
        )
        if status != 0 and ref and SHA_RE.match(ref) and self._fetched(ref):
            status, out, _ = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        return out.strip() if status == 0 else None

    def has_commit(self, sha: str) -> bool:
        return self.resolve(sha) == sha

    def read(self, commit: str, path: str) -> bytes | None:
        # One cat-file process answers "missing" or "<id> <type> <size>" and the bytes.
        done = self._run(["cat-file", "--batch"], f"{commit}:{path}\n".encode())
        header, _, rest = done.stdout.partition(b"\n")
        fields = header.split()
        if len(fields) != 3 or fields[1] != b"blob":
            return None
        return rest[: int(fields[2])]

    def contains(self, tip: str, sha: str) -> bool:
        status, _, _ = self._git("merge-base", "--is-ancestor", sha, tip)
        return status == 0

    def first_parents(self, tip: str, limit: int) -> list[CommitInfo]:
        fmt = _FIELD.join(("%H", "%an <%ae>", "%s", "%(trailers:only,unfold)")) + _RECORD
        status, out, err = self._git("log", f"--format={fmt}", "--first-parent", f"-n{limit}", tip)
        if status != 0:
            raise ExternalError(f"git log {short(tip)} in {self.where} failed: {_last_line(err)}")
        return [_commit_info(record) for record in out.split(_RECORD) if record.strip()]

    def _fetched(self, sha: str) -> bool:
        """A mirror lacks commits that no branch reaches: ask the remote for that one."""
        if self._fetch_from is None:
            return False
        status, _, _ = self._git("fetch", "--quiet", "--filter=blob:none", self._fetch_from, sha)
        return status == 0

    def _git(self, *args: str) -> tuple[int, str, str]:
        done = self._run(list(args), b"")
        return (
            done.returncode,
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
        )

    def _run(self, args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
        return _run_git(self.path, args, stdin)


def _plain_git(cwd: Path, *args: str) -> tuple[int, str, str]:
    done = _run_git(cwd, list(args), b"")
    return (
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def _run_git(cwd: Path, args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return run_git(cwd, args, stdin, timeout=NETWORK_TIMEOUT)


def parse_trailers(message: str) -> dict[str, str]:
    """`Key: value` lines of a message's last paragraph, as `git log %(trailers)` reads them
    (for commits that come from GitHub's API rather than from git)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return {}
    found: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        match = _TRAILER.match(line)
        if match is None:
            return {}  # git takes the block only when every line is a trailer
        found[match["key"]] = match["value"].strip()
    return found


class Clone:
    """A bare temporary repository that mirrors the branches it is asked for from one source."""

    def __init__(self, source: str, flag: str, directory: Path, author: tuple[str, str]) -> None:
        self.flag = flag
        self.url = remote_url(source, flag)
        self.author = git.Actor(*author)
        # No templates and no hooks: what pinbot pushes must not depend on the user's set-up.
        # (GitPython guards --template against untrusted input; this value is our own.)
        self.repo = git.Repo.init(directory, bare=True, template="", allow_unsafe_options=True)
        with self.repo.config_writer() as cfg:
            cfg.set_value("core", "hooksPath", str(directory / "no-hooks"))
        # Never prompt for credentials or host keys: a CI job must fail, not hang. Messages in
        # English: pushes are told apart by what git says.
        self._env = dict(
            os.environ,
            GIT_TERMINAL_PROMPT="0",
            GIT_SSH_COMMAND=os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
            LC_ALL="C",
            LANGUAGE="C",
        )

    def close(self) -> None:
        """Stop the `git cat-file` helpers GitPython keeps running for this repository."""
        self.repo.close()

    def remote_branches(self, *branches: str) -> dict[str, str]:
        """branch -> tip sha on the remote, for those of `branches` that exist there."""
        out = self._network("ls-remote", "--heads", self.url, *branches)
        refs = (line.split("\t") for line in out.splitlines() if "\t" in line)
        tips = {ref: sha for sha, ref in refs}
        return {b: tips[f"refs/heads/{b}"] for b in branches if f"refs/heads/{b}" in tips}

    def default_branch(self) -> str | None:
        out = self._network("ls-remote", "--symref", self.url, "HEAD")
        match = re.search(r"^ref: refs/heads/(\S+)\tHEAD$", out, re.MULTILINE)
        return match.group(1) if match else None

    def fetch(self, *branches: str) -> dict[str, str]:
        """Fetch the branches that exist; returns their tips (a missing branch is left out)."""
        tips = self.remote_branches(*branches)
        if tips:
            specs = [f"+refs/heads/{b}:refs/remotes/origin/{b}" for b in tips]
            self._network("fetch", "--quiet", "--no-tags", self.url, *specs)
        return tips

    def read(self, commit: str, path: str) -> bytes | None:
        """The file at `path` in `commit`, or None when it is not there (or not a file)."""
        try:
            blob = self.repo.commit(commit).tree / path
        except KeyError:
            return None
        return bytes(blob.data_stream.read()) if blob.type == "blob" else None

    def contains(self, tip: str, sha: str) -> bool:
        """Whether `sha` is `tip` or one of its ancestors (an unknown sha is not)."""
        status, _, _ = self._run("merge-base", "--is-ancestor", sha, tip)
        return status == 0

    def commit(self, parent: str, files: Mapping[str, bytes], message: str) -> str:
        """A commit on `parent` with `files` replaced, by the bot identity; returns its sha."""
        base = self.repo.commit(parent)
        index = IndexFile.from_tree(self.repo, base.tree)
        entries = [self._entry(base, path, data) for path, data in files.items()]
        index.add(entries, write=False)
        tree = index.write_tree()
        made = Commit.create_from_tree(
            self.repo, tree, message, [base], author=self.author, committer=self.author
        )
        return str(made.hexsha)

    def _entry(self, base: git.Commit, path: str, data: bytes) -> BaseIndexEntry:
        mode = (base.tree / path).mode  # keep the executable bit as it was
        stream = self.repo.odb.store(IStream("blob", len(data), io.BytesIO(data)))
        return BaseIndexEntry((mode, stream.binsha, 0, path))

    def log(self, tip: str, base: str | None = None, limit: int | None = None) -> list[CommitInfo]:
        """Commits reachable from `tip` (and not from `base`), newest first, with trailers."""
        fmt = _FIELD.join(("%H", "%an <%ae>", "%s", "%(trailers:only,unfold)")) + _RECORD
        args = ["log", f"--format={fmt}", "--first-parent"]
        args += [f"-n{limit}"] if limit else []
        args.append(f"{base}..{tip}" if base else tip)
        status, out, err = self._run(*args)
        if status != 0:
            raise ExternalError(f"git log in the clone of {self.url} failed: {_last_line(err)}")
        return [_commit_info(record) for record in out.split(_RECORD) if record.strip()]

    def push(self, commit: str, branch: str) -> bool:
        """Push `commit` to `branch` without force. False when the branch moved meanwhile."""
        status, out, err = self._run(
            "push", "--porcelain", self.url, f"{commit}:refs/heads/{branch}", timeout=True
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
        status, out, err = self._run(*args, timeout=True)
        if status != 0:
            raise ExternalError(
                f"git {args[0]} {self.url} ({self.flag}) failed: {_last_line(err)}; "
                "check the URL and your access to it"
            )
        return out

    def _run(self, *args: str, timeout: bool = False) -> tuple[int, str, str]:
        # subprocess.run kills git when pinbot is interrupted (Ctrl-C, SIGTERM) or git times
        # out, so no push carries on behind pinbot's back; GitPython's kill_after_timeout
        # left a non-daemon watchdog thread that held an interrupted pinbot for minutes.
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.repo.git_dir,
                env=self._env,
                capture_output=True,
                encoding="utf-8",
                errors="replace",
                timeout=NETWORK_TIMEOUT if timeout else None,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return 1, "", f"fatal: git {args[0]} did not finish within {NETWORK_TIMEOUT:g}s"
        return done.returncode, done.stdout.rstrip("\n"), done.stderr.rstrip("\n")


def _commit_info(record: str) -> CommitInfo:
    sha, author, subject, block = record.strip("\n").split(_FIELD)
    found: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            found[key] = value.strip()
    return CommitInfo(sha, author, subject, found)


def _push_reason(out: str, err: str) -> str:
    rejected = [line.split("\t")[-1] for line in out.splitlines() if line.startswith("!")]
    return rejected[0] if rejected else _last_line(err)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].removeprefix("fatal: ").strip() if lines else "no message"


def short(sha: str) -> str:
    return sha[:12]


def describe_foreign(commits: Sequence[CommitInfo]) -> str:
    first = commits[0]
    return f"{short(first.sha)} by {first.author} ({first.subject!r})"
