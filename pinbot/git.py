"""Git: every git operation pinbot does, through one runner.

One runner (`run`) with one environment (`environment`): git never prompts (pinbot runs
unattended), never follows a caller's GIT_DIR/GIT_WORK_TREE/GIT_INDEX_FILE, takes no optional
locks, speaks English (pushes are told apart by what git says) and is bounded in time; a git that
is missing or hangs is an ExternalError, never a made-up exit status.

Credentials (`Credential`): a secret in a repository URL (`https://user:token@host/...`), or
GITHUB_TOKEN for a GitHub URL, never reaches git's arguments or any file. The URL git sees has
no userinfo (so mirror configs, FETCH_HEAD and messages hold none), and git gets the secret from
its environment through a credential helper configured there (GIT_CONFIG_COUNT), scoped to the
URL's origin and answering only for it: a redirect to another origin gets nothing, and the
caller's own helpers are cleared for that call, so none of them can store the secret.

On top of it: `InPlace` reads a repository where it is (the gate), `Clone` is a bare temporary
repository that fetches from the user's repository and pushes back to it (the cut: the user's
working tree, index and configuration are never read or written; commits are built from objects,
so no hook, autocrlf filter or signing setting changes what is committed), and `GitClone` /
`GitMirror` answer "is this file in the SDK at that sha" through one long-lived `cat-file`.
GitPython is imported only by `Clone`, for building commits from objects: scans never load it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pinbot import config
from pinbot.commits import (
    DIGEST_TRAILER,
    IMAGE_TRAILER,
    CommitInfo,
    github_repo,
    github_token,
    lock_paths,
    refuse_submodule,
    refuse_symlink,
    short,
)
from pinbot.errors import ExternalError, UsageError
from pinbot.model import SHA_RE, is_loopback_host
from pinbot.report import strip_credentials

TIMEOUT = 300.0
_FIELD, _RECORD = "\x1f", "\x1e"
# `scheme://...` or scp-like `user@host:path`; anything else is a filesystem path.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/\s]+@[^/\s]+:")
# Rejections that mean "the branch moved under us": refetch and rebuild. Anything else is final.
_MOVED = ("non-fast-forward", "fetch first", "stale info")
_OWN_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")


@dataclass(frozen=True)
class Credential:
    """A secret for one origin (`scheme://host[:port]`, as git's credential protocol names
    it), handed to git only through its environment."""

    origin: str
    username: str
    password: str = field(repr=False)


# The helper git runs (through sh) when a server asks for credentials: it answers `get` for the
# one origin pinbot configured, from the environment, and ignores `store` and `erase`. printf is
# a shell builtin, so the secret is on no command line.
_CREDENTIAL_HELPER = (
    "!f() { p= h=; while IFS= read -r line; do case $line in "
    "protocol=*) p=${line#protocol=} ;; host=*) h=${line#host=} ;; esac; done; "
    'test "$1" = get && test "$p://$h" = "$PINBOT_GIT_ORIGIN" || return 0; '
    'printf \'username=%s\\npassword=%s\\n\' "$PINBOT_GIT_USERNAME" "$PINBOT_GIT_PASSWORD"; }; f'
)


def environment(credential: Credential | None = None) -> dict[str, str]:
    """The environment every git pinbot starts runs with (see the module's docstring)."""
    env = dict(
        os.environ,
        GIT_OPTIONAL_LOCKS="0",
        GIT_TERMINAL_PROMPT="0",
        GIT_SSH_COMMAND=os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
        LC_ALL="C",
        LANGUAGE="C",
    )
    for name in _OWN_ENV:
        env.pop(name, None)
    if credential is not None:
        _give(env, credential)
    return env


def _give(env: dict[str, str], credential: Credential) -> None:
    """Configure, in `env` only, a credential helper for `credential.origin` alone; an empty
    `credential.helper` first clears every helper the user's config names (one that stores
    what it is given must not see the secret). The caller's own GIT_CONFIG_* entries stay."""
    given = env.get("GIT_CONFIG_COUNT", "")
    count = int(given) if given.isdigit() else 0
    entries = [
        ("credential.helper", ""),
        (f"credential.{credential.origin}.helper", _CREDENTIAL_HELPER),
    ]
    for index, (key, value) in enumerate(entries, start=count):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    env["GIT_CONFIG_COUNT"] = str(count + len(entries))
    env["PINBOT_GIT_ORIGIN"] = credential.origin
    env["PINBOT_GIT_USERNAME"] = credential.username
    env["PINBOT_GIT_PASSWORD"] = credential.password


def split_credential(url: str, flag: str) -> tuple[str, Credential | None]:
    """`url` without a secret, and the credential git gets for its origin: the URL's own
    `user:secret`, else GITHUB_TOKEN (or GH_TOKEN) for an https GitHub URL. Only over TLS or
    to a loopback host; a secret in an `http://` URL to another host is refused."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme.lower() not in ("http", "https"):
        return url, None
    host = parsed.netloc.rpartition("@")[2]
    origin = f"{parsed.scheme.lower()}://{host}"
    clean = urllib.parse.urlunsplit(parsed._replace(netloc=host))
    credential = None
    if parsed.password:
        username = urllib.parse.unquote(parsed.username or "")
        credential = Credential(origin, username, urllib.parse.unquote(parsed.password))
    elif parsed.username is None:
        credential = _github_credential(origin, parsed.hostname or "")
    if credential is None:
        return url, None
    if parsed.scheme.lower() != "https" and not is_loopback_host(host):
        raise UsageError(
            f"{flag} {strip_credentials(url)!r} carries a credential over plain http to a "
            "non-loopback host, where anyone on the way could read it: use https://"
        )
    if _CONTROL.search(credential.username + credential.password):
        raise UsageError(
            f"{flag} {strip_credentials(url)!r}: its credential holds control characters"
        )
    return clean, credential


def _github_credential(origin: str, hostname: str) -> Credential | None:
    token = github_token()
    if token is None or github_repo(f"{origin}/x/y") is None:
        return None
    if not origin.startswith("https://") and not is_loopback_host(hostname):
        return None  # never a token in clear to a GitHub server named over http
    return Credential(origin, "x-access-token", token)


def run(
    cwd: Path,
    args: Sequence[str],
    stdin: bytes = b"",
    timeout: float = TIMEOUT,
    credential: Credential | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """`git -C cwd ARGS`. subprocess.run kills git when pinbot is interrupted or git times out,
    so no push carries on behind pinbot's back. `credential` is offered to its origin only."""
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args],
            input=stdin,
            capture_output=True,
            env=environment(credential),
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise ExternalError("git is not installed: install git") from None
    except subprocess.TimeoutExpired:
        raise ExternalError(f"git {args[0]} in {cwd} took over {timeout:.0f}s") from None


def run_text(cwd: Path, *args: str, credential: Credential | None = None) -> tuple[int, str, str]:
    """`run`, decoded: (status, stdout, stderr) without their trailing newlines."""
    done = run(cwd, args, credential=credential)
    return (
        done.returncode,
        done.stdout.decode("utf-8", "replace").rstrip("\n"),
        done.stderr.decode("utf-8", "replace").rstrip("\n"),
    )


def last_line(text: str | bytes) -> str:
    """The last thing git said, without "fatal: " and without credentials it may echo."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return strip_credentials(lines[-1].removeprefix("fatal: ").strip()) if lines else "no message"


# git's remote-helper syntax (`ext::sh -c ...` runs a command, `fd::` reads a descriptor).
_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCHEMES = ("https", "http", "ssh", "git", "file")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_source(source: str, flag: str) -> str:
    """A repository value (path or URL) git cannot take for an option or a command, refused
    before any process starts: no leading `-`, no remote helper, a known scheme, no control
    characters. Every git call also puts `--` before it."""
    fix = "give a path (./NAME) or an https://, ssh:// or git@host:path URL"
    if not source or _CONTROL.search(source):
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
        self.flag = flag
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
        if blob.type == "blob" and blob.mode == SYMLINK_MODE:
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


def lock_files(git_dir: Path, commit: str, where: str, credential: Credential | None) -> list[str]:
    """Every `poetry.lock` and `uv.lock` in the tree at `commit` (names only: no blob read)."""
    args = ("ls-tree", "-r", "-z", "--name-only", "--end-of-options", commit)
    status, out, err = run_text(git_dir, *args, credential=credential)
    if status != 0:
        raise ExternalError(f"git ls-tree {short(commit)} in {where} failed: {last_line(err)}")
    return lock_paths(out.split("\0"))


_LOG_FORMAT = _FIELD.join(("%H", "%an <%ae>", "%s", "%(trailers:only,unfold)")) + _RECORD


def first_parent_log(
    git_dir: Path, revisions: str, where: str, credential: Credential | None, limit: int | None
) -> list[CommitInfo]:
    """The first-parent commits `revisions` names, newest first, with their trailers."""
    args = ["log", f"--format={_LOG_FORMAT}", "--first-parent", *([f"-n{limit}"] if limit else [])]
    status, out, err = run_text(
        git_dir, *args, "--end-of-options", revisions, credential=credential
    )
    if status != 0:
        raise ExternalError(f"git log {revisions} in {where} failed: {last_line(err)}")
    return [_commit_info(record) for record in out.split(_RECORD) if record.strip()]


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
    return rejected[0] if rejected else last_line(err)


# --- the SDK tree at a sha, read through one cat-file process ----------------------------------


def open_sdk_git(spec: str) -> GitClone | GitMirror:
    """`--sdk URL` (a mirror in the cache) or `--sdk PATH` (the user's clone, read in place)."""
    check_source(spec, "--sdk")
    if is_url(spec):
        return GitMirror(spec)
    return GitClone(checked_clone(Path(spec).expanduser()))


def checked_clone(path: Path) -> Path:
    if not path.is_dir():
        raise UsageError(f"--sdk {path}: no such directory: give a software-agent-sdk clone or URL")
    probe = run(path, ["rev-parse", "--git-dir"])
    if probe.returncode != 0:
        raise UsageError(f"--sdk {path} is not a git repository: clone software-agent-sdk there")
    return path


class _CatFile:
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


def _lookup(reader: _CatFile, sha: str, path: str) -> bool | None:
    """True/False: the file is/is not at `sha`; None: this repository does not have `sha`."""
    # `^{commit}` makes a tree or blob id count as unknown. Only trees are read, so this works
    # in a blobless mirror without fetching blobs; `<sha>:<dir>` is from the top of the tree
    # even when --sdk names a subdirectory of the clone.
    if reader.read(f"{sha}^{{commit}}") is None:
        return None
    directory, _, name = path.rpartition("/")
    tree = reader.read(f"{sha}:{directory}" if directory else f"{sha}^{{tree}}")
    return tree is not None and tree[0] == "tree" and name in _file_names(tree[1])


def _read_file(reader: _CatFile, sha: str, path: str) -> tuple[bool, bytes | None]:
    """Whether this repository has commit `sha`, and the blob at `path` in it (None: no such
    file). A blobless mirror fetches the one blob it is asked for."""
    if reader.read(f"{sha}^{{commit}}") is None:
        return False, None
    found = reader.read(f"{sha}:{path}")
    return True, found[1] if found is not None and found[0] == "blob" else None


SYMLINK_MODE = 0o120000


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
    at = 0
    while at < len(tree):
        space = tree.index(b" ", at)
        end = tree.index(b"\0", space)
        if tree[space + 1 : end].decode(errors="replace") == wanted:
            return tree[at:space]
        at = end + 21
    return None


def _file_names(tree: bytes) -> set[str]:
    """Names of the regular files in a raw tree object (`<mode> <name>\\0<20-byte id>`...)."""
    names, at = set(), 0
    while at < len(tree):
        space = tree.index(b" ", at)
        end = tree.index(b"\0", space)
        if tree[at:space] in (b"100644", b"100755"):
            names.add(tree[space + 1 : end].decode(errors="replace"))
        at = end + 21
    return names


class GitClone:
    """A clone the user keeps (`--sdk PATH`). Read-only: pinbot never fetches into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = f"the clone {path}"
        self._reader = _CatFile(path)
        self._reader.start()  # now, while the registry is asked: a scan's first lookup waits less

    def has_file(self, sha: str, path: str) -> bool:
        found = _lookup(self._reader, sha, path)
        if found is None:
            raise ExternalError(
                f"commit {sha} is not in the clone {self.path}: "
                f"run 'git -C {self.path} fetch origin' (or pass --sdk URL)"
            )
        return found

    def read(self, sha: str, path: str) -> bytes | None:
        known, found = _read_file(self._reader, sha, path)
        if not known:
            raise ExternalError(
                f"commit {sha} is not in the clone {self.path}: "
                f"run 'git -C {self.path} fetch origin' (or pass --sdk URL)"
            )
        return found


class GitMirror:
    """`--sdk URL`: a bare blobless mirror under the cache, fetched when a sha is missing.

    A blobless clone is a partial clone, so git itself may fetch a missing commit on lookup
    (servers that allow it, like GitHub); the explicit fetch covers servers that do not.
    """

    def __init__(self, url: str, root: Path | None = None) -> None:
        self.url, self.credential = split_credential(url, "--sdk")
        self.where = self.url  # shown in evidence, PR bodies and the cache
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        self.path = (root or config.cache_dir() / "sdk") / key
        self._lock = threading.Lock()
        self._reader = _CatFile(self.path, self.credential)

    def has_file(self, sha: str, path: str) -> bool:
        with self._lock:
            self._ensure_cloned()
            found = _lookup(self._reader, sha, path)
            if found is None:
                self._fetch()
                self._reader.close()  # see the fetched objects with a fresh reader
                found = _lookup(self._reader, sha, path)
        if found is None:
            raise ExternalError(f"commit {sha} is not in {self.where}, even after a fetch")
        return found

    def read(self, sha: str, path: str) -> bytes | None:
        with self._lock:
            self._ensure_cloned()
            known, found = _read_file(self._reader, sha, path)
            if not known:
                self._fetch()
                self._reader.close()
                known, found = _read_file(self._reader, sha, path)
        if not known:
            raise ExternalError(f"commit {sha} is not in {self.where}, even after a fetch")
        return found

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


# --- the pin files' own history (rollback holds, pinbot/holds.py) -------------------------------

_REGULAR_MODES = ("100644", "100755")


@dataclass(frozen=True)
class Touched:
    """A first-parent commit that changed a pin file, and each pin file's blob after it (a file
    that is absent, a symlink or a submodule there is left out): holds.Touched."""

    commit: str
    blobs: Mapping[str, str]


def pin_file_history(
    git_dir: Path, tip: str, paths: Sequence[str], credential: Credential | None = None
) -> list[Touched]:
    """Every first-parent commit of `tip` that changed one of `paths`, oldest first, however
    long the branch is: `git log --first-parent --raw -- PATHS` (trees only, so a blobless
    mirror fetches nothing). The branch's own line: a merged side branch counts by what its
    merge changed."""
    args = ["log", "--first-parent", "--reverse", "--raw", "--no-abbrev", "--no-renames"]
    args += ["--diff-merges=first-parent", f"--format={_RECORD}%H", "--end-of-options", tip]
    done = run(git_dir, [*args, "--", *paths], credential=credential)
    if done.returncode != 0:
        raise ExternalError(f"git log {short(tip)} in {git_dir} failed: {last_line(done.stderr)}")
    current: dict[str, str] = {}
    history = []
    for record in done.stdout.decode("utf-8", "replace").split(_RECORD)[1:]:
        commit, *lines = record.strip("\n").split("\n")
        for line in lines:
            _apply_raw(current, line)
        history.append(Touched(commit.strip(), dict(current)))
    return history


def _apply_raw(blobs: dict[str, str], line: str) -> None:
    """One `--raw` line (`:old new oldid newid STATUS\tpath`) applied to path -> blob."""
    fields, _, path = line.partition("\t")
    parts = fields.split()
    if len(parts) != 5 or not path:
        return
    mode, blob = parts[1], parts[3]
    if parts[4] == "D" or mode not in _REGULAR_MODES:
        blobs.pop(path, None)
    else:
        blobs[path] = blob


class Blobs:
    """File contents by blob id, through one `git cat-file --batch` (a blobless mirror fetches
    each from its remote on first read, unless `prefetch` brought them all in one go)."""

    def __init__(
        self, git_dir: Path, credential: Credential | None = None, remote: str | None = None
    ) -> None:
        self._git_dir, self._credential, self._remote = git_dir, credential, remote
        self._reader = _CatFile(git_dir, credential)

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
