"""Read-only questions about the software-agent-sdk tree at a commit: is this file there?

One seam (`SdkTree`), three backends chosen by `--sdk`: a local clone (a path), a git URL (kept
as a bare blobless mirror in the cache), or, without `--sdk`, the GitHub contents API.
Git is driven through its command line: GitPython's import costs more than the lookups.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any, Protocol

import requests

from pinbot import config, httpclient
from pinbot.config import Settings
from pinbot.errors import ExternalError, UsageError
from pinbot.gitcli import run_git
from pinbot.report import strip_credentials

GITHUB_API = "https://api.github.com"
# `scheme://...` or scp-like `user@host:path`; anything else is a filesystem path.
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|[^/:@]+@[^/:]+:")


class SdkTree(Protocol):
    where: str  # names the tree in evidence, e.g. "github.com/OpenHands/software-agent-sdk"

    def has_file(self, sha: str, path: str) -> bool:
        """Whether `path` is a file at commit `sha`; ExternalError when that cannot be told."""
        ...


def open_sdk(spec: str | None, settings: Settings) -> SdkTree:
    """The tree named by `--sdk`: a clone's path, a git URL, or (None) GitHub's contents API."""
    if not spec:
        return GithubContents(settings.sdk_repo, timeout=settings.http_timeout)
    if _URL_RE.match(spec):
        return GitMirror(spec)
    return GitClone(_checked_clone(Path(spec).expanduser()))


def _checked_clone(path: Path) -> Path:
    if not path.is_dir():
        raise UsageError(f"--sdk {path}: no such directory: give a software-agent-sdk clone or URL")
    probe = run_git(path, ["rev-parse", "--git-dir"])
    if probe.returncode != 0:
        raise UsageError(f"--sdk {path} is not a git repository: clone software-agent-sdk there")
    return path


def _last_line(output: bytes) -> str:
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    return strip_credentials(lines[-1]) if lines else "no message"  # git may echo the URL


class _CatFile:
    """One `git cat-file --batch` per repository, started on first use: a scan asks about many
    shas, and a lookup through the pipe costs far less than starting git for each."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
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
                    env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
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


class GitMirror:
    """`--sdk URL`: a bare blobless mirror under the cache, fetched when a sha is missing.

    A blobless clone is a partial clone, so git itself may fetch a missing commit on lookup
    (servers that allow it, like GitHub); the explicit fetch covers servers that do not.
    """

    def __init__(self, url: str, root: Path | None = None) -> None:
        self.url = url
        self.where = strip_credentials(url)  # shown in evidence, PR bodies and the cache
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        self.path = (root or config.cache_dir() / "sdk") / key
        self._lock = threading.Lock()
        self._reader = _CatFile(self.path)

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

    def _ensure_cloned(self) -> None:
        if (self.path / "HEAD").is_file():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Clone beside the final place and rename, so a killed clone never looks complete.
        staging = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=".clone-"))
        try:
            done = run_git(
                staging, ["clone", "--quiet", "--bare", "--filter=blob:none", self.url, "."]
            )
            if done.returncode != 0:
                raise ExternalError(
                    f"cloning {self.where} failed: {_last_line(done.stderr)}; check the --sdk URL"
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
        done = run_git(self.path, ["fetch", "--quiet", "--prune", "origin", *refspecs])
        if done.returncode != 0:
            raise ExternalError(f"fetching {self.where} failed: {_last_line(done.stderr)}")


class GithubContents:
    """Without `--sdk`: list the route file's directory at the sha through GitHub's REST API."""

    def __init__(self, repo: str, timeout: float = 30.0, api_url: str | None = None) -> None:
        self.repo = repo
        self.where = f"github.com/{repo}"
        self.timeout = timeout
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or GITHUB_API).rstrip("/")
        self.session = _github_session(self.api_url)

    def has_file(self, sha: str, path: str) -> bool:
        directory, name = posixpath.split(path)
        listing = self._get(f"contents/{directory}", {"ref": sha})
        if listing.status_code == 200:
            return _names_file(listing.json(), name)
        if listing.status_code == 404:
            return self._absent_or_unknown(sha, path, listing)
        raise self._failure(listing)

    def _absent_or_unknown(self, sha: str, path: str, listing: requests.Response) -> bool:
        """A 404 means the directory is absent at `sha`, or `sha` (or the repo) is unknown."""
        if "no commit found" in _message(listing).lower():
            raise ExternalError(
                f"commit {sha} is not in github.com/{self.repo}: {_message(listing)}"
            )
        commit = self._get(f"commits/{sha}", {})
        if commit.status_code == 200:
            return False  # the commit exists, so it is the directory that is missing
        if commit.status_code in (404, 422):
            raise ExternalError(
                f"GitHub cannot find commit {sha} in {self.repo} ({_message(commit)}): "
                "check config 'sdk_repo', or set GITHUB_TOKEN if the repository is private"
            )
        raise self._failure(commit)

    def _get(self, endpoint: str, params: dict[str, str]) -> requests.Response:
        url = f"{self.api_url}/repos/{self.repo}/{endpoint}"
        try:
            return self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ExternalError(f"GitHub API {url} failed after retries: {exc}") from None

    def _failure(self, response: requests.Response) -> ExternalError:
        status, message = response.status_code, _message(response)
        where = f"GitHub API {response.url} answered {status} ({message})"
        if status in (401, 403):
            wait = response.headers.get("Retry-After")
            later = f"; retry after {wait}s" if wait else ""
            return ExternalError(
                f"{where}: rate-limited or not authorised: set GITHUB_TOKEN (or GH_TOKEN) "
                f"to a token that can read {self.repo}, or pass --sdk with a clone{later}"
            )
        return ExternalError(f"{where}; try again later or pass --sdk with a clone")


def _github_session(api_url: str) -> requests.Session:
    session = httpclient.session(api_url, read=4, backoff=0.5)
    session.headers.update(
        {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    )
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def _names_file(listing: Any, name: str) -> bool:
    if not isinstance(listing, list):
        return False  # the "directory" is itself a file at this sha
    return any(e.get("name") == name and e.get("type") == "file" for e in listing)


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason or "no message"
    return str(data.get("message", "no message")) if isinstance(data, dict) else "no message"
