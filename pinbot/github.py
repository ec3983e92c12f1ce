"""GitHub: every GitHub API call pinbot makes.

The API base comes from GITHUB_API_URL, so GitHub Enterprise and tests work alike; the token
only from GITHUB_TOKEN / GH_TOKEN. PyGithub is imported only when a `Forge` is made.

- `Forge`: the two pull requests of a cut (idempotent, cross-linked) and PR numbers -> commits.
  A PR body carries pinbot's section between two HTML comments; the opening one holds the cut as
  JSON (the machine-readable marker). Re-running finds the PR by its head branch and rewrites
  only that section, and only when it changed: no second PR, no needless edit, a human's text
  kept.
- `GitHubReader`: a repository read through the API (the gate's answers without a clone).
- `GithubContents`: without `--sdk`, "is the route file at that sha" through the contents API.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import requests

from pinbot import httpclient, output
from pinbot.commits import (
    CommitInfo,
    GitHubRepo,
    github_token,
    lock_paths,
    parse_trailers,
    refuse_submodule,
    refuse_symlink,
)
from pinbot.config import PrSettings
from pinbot.errors import ExternalError, UsageError
from pinbot.model import Evidence
from pinbot.report import markdown_table

BEGIN = "<!-- pinbot:begin "
END = "<!-- pinbot:end -->"
_SECTION = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
GITHUB_API = "https://api.github.com"


@dataclass(frozen=True)
class PullSpec:
    """A PR the cut wants: data, so the plan can print it before anything is opened."""

    role: str  # unique among a cut's PRs ("deploy", "openhands:<branch>")
    repo: GitHubRepo
    head: str
    base: str
    title: str
    marker: Mapping[str, Any]
    section: str  # markdown between the markers; "{other}" stands for the linked PR's link
    links: str = ""  # the role of the PR this one links ("{other}"); "": none

    def body_section(self, other: str | None) -> str:
        link = other or "none"
        # `<`, `>` and `&` as JSON escapes: no value can close the comment and break the marker.
        data = json.dumps(dict(self.marker), sort_keys=True)
        data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return f"{BEGIN}{data} -->\n{self.section.replace('{other}', link)}\n{END}"


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    created: bool = False


def api_url() -> str:
    return os.environ.get("GITHUB_API_URL") or GITHUB_API


def render_section(
    *,
    title: str,
    facts: Sequence[tuple[str, str]],
    evidence: Sequence[Evidence],
    notes: Sequence[str] = (),
) -> str:
    """The evidence a reviewer needs: what is pinned, where it came from, what the checks said."""
    parts = [f"### {title}", "", markdown_table(("pin", "value"), facts).rstrip("\n")]
    if evidence:
        rows = [(e.detector, e.result, output.markdown(e.detail)) for e in evidence]
        parts += ["", markdown_table(("check", "result", "detail"), rows).rstrip("\n")]
    parts += ["", *notes] if notes else []
    return "\n".join(parts).rstrip("\n")


def merge_section(body: str | None, section: str) -> str:
    """`body` with pinbot's section replaced (or appended): a human's text stays as it is."""
    text = body or ""
    if _SECTION.search(text):
        return _SECTION.sub(lambda _: section, text, count=1)
    return f"{text.rstrip()}\n\n{section}" if text.strip() else section


class Forge:
    def __init__(self, token: str, base_url: str, timeout: float) -> None:
        from github import Auth, Github
        from github.GithubRetry import GithubRetry

        self.base_url = base_url
        self.gh = Github(
            auth=Auth.Token(token),
            base_url=base_url,
            timeout=int(timeout),
            retry=GithubRetry(total=3),
            lazy=True,  # no request until one is needed: get_repo costs nothing
            per_page=100,
            # GitHub asks for serial requests and a second between writes, not between reads;
            # PyGithub's default 0.25 s per read would cost the gate seconds. Writes keep 1 s.
            seconds_between_requests=None,
        )

    def ensure(
        self, specs: Sequence[PullSpec], conventions: PrSettings | None = None
    ) -> dict[str, PullRequest]:
        """Open the PRs that do not exist (as a draft, with the labels, reviewers and assignees
        of `conventions`), then make each body link the one it names (`links`): a re-run finds
        them all, computes the same bodies, and writes nothing."""
        found = {spec.role: self.find(spec) for spec in specs}
        created: set[str] = set()
        for spec in specs:
            if found[spec.role] is None:
                found[spec.role] = self._create(spec, _other(found, spec.links), conventions)
                created.add(spec.role)
        done = {}
        for spec in specs:
            pull = self.update(found[spec.role], spec, _other(found, spec.links))
            done[spec.role] = dataclasses.replace(pull, created=spec.role in created)
        return done

    def find(self, spec: PullSpec) -> Any | None:
        """The open PR from `spec.head` into `spec.base`, preferring the one carrying our
        marker. A PR from pinbot's head into another base is not pinbot's: it is left alone."""
        listed = self.call(
            f"listing pull requests of {spec.repo.full_name}",
            lambda: list(
                self.repo(spec.repo).get_pulls(
                    state="open", head=f"{spec.repo.owner}:{spec.head}", base=spec.base
                )
            ),
        )
        pulls = [p for p in listed if _base_ref(p) == spec.base and _head_ref(p) == spec.head]
        marked = [p for p in pulls if BEGIN in (p.body or "")]
        return (marked or pulls or [None])[0]

    def _create(self, spec: PullSpec, other: str | None, conventions: PrSettings | None) -> Any:
        draft = bool(conventions and conventions.draft)
        try:
            pull = self.call(
                f"opening a pull request on {spec.repo.full_name}",
                lambda: self.repo(spec.repo).create_pull(
                    base=spec.base,
                    head=spec.head,
                    title=spec.title,
                    body=spec.body_section(other),
                    draft=draft,
                ),
            )
        except ExternalError as exc:
            # 422 "already exists": the listing lagged, or a retried POST had in fact gone
            # through. Either way the PR is there: take it rather than fail or open a second.
            existing = self.find(spec) if "already exists" in str(exc) else None
            if existing is None:
                raise
            return existing
        if conventions is not None:
            self._dress(pull, conventions)
        return pull

    def _dress(self, pull: Any, conventions: PrSettings) -> None:
        """A new PR's labels, reviewers (ORG/TEAM: a team) and assignees, as configured."""
        where = pull.html_url
        if conventions.labels:
            self.call(f"labelling {where}", lambda: pull.add_to_labels(*conventions.labels))
        users = [r for r in conventions.reviewers if "/" not in r]
        teams = [r.split("/", 1)[1] for r in conventions.reviewers if "/" in r]
        if users or teams:
            self.call(
                f"requesting reviews on {where}",
                lambda: pull.create_review_request(reviewers=users, team_reviewers=teams),
            )
        if conventions.assignees:
            self.call(f"assigning {where}", lambda: pull.add_to_assignees(*conventions.assignees))

    def update(self, pull: Any, spec: PullSpec, other: str | None) -> PullRequest:
        """Rewrite pinbot's section of `pull` when it differs; no request when it does not."""
        body = merge_section(pull.body, spec.body_section(other))
        if body == (pull.body or ""):
            return PullRequest(pull.number, pull.html_url)
        self.call(f"updating {pull.html_url}", lambda: pull.edit(body=body))
        return PullRequest(pull.number, pull.html_url)

    def pr_commits(self, repo: GitHubRepo, number: int) -> list[str]:
        """The commits of PR #number (what a branch must contain to carry that PR)."""
        pull = self.call(
            f"reading PR #{number} of {repo.full_name}", lambda: self.repo(repo).get_pull(number)
        )
        shas: list[str] = self.call(
            f"listing the commits of PR #{number}", lambda: [c.sha for c in pull.get_commits()]
        )
        return shas

    def repo(self, repo: GitHubRepo) -> Any:
        return self.gh.get_repo(repo.full_name)

    def call(self, what: str, action: Any) -> Any:
        """`action()`, with GitHub's failures (after retries) turned into ExternalError."""
        from github import GithubException
        from requests.exceptions import RetryError

        try:
            return action()
        except GithubException as exc:
            raise ExternalError(f"GitHub said {exc.status} while {what}: {_message(exc)}") from None
        except RetryError as exc:
            raise ExternalError(
                f"GitHub kept failing while {what} ({_retry_reason(exc)}, after retries): "
                "wait a few minutes and re-run"
            ) from None
        except OSError as exc:  # requests' connection errors and timeouts
            raise ExternalError(
                f"could not reach GitHub at {self.base_url} while {what}: {exc}"
            ) from None


class GitHubReader:
    """A GitHub repository read through the API (commits, contents at a ref, compare): the
    gate's answers without a clone. Implements pinbot.git.reader.RepoReader."""

    def __init__(self, forge: Forge, repo: GitHubRepo) -> None:
        self.forge = forge
        self.repo = repo
        self.where = f"github.com/{repo.full_name}"

    def resolve(self, ref: str | None) -> str | None:
        # GitHub resolves HEAD to the default branch, as a clone's HEAD would. PyGithub's
        # get_commit is lazy and would echo the ref back as its sha: raw_data completes it.
        target = ref or "HEAD"
        found = self._maybe(
            f"reading commit {target}", lambda: self._repo().get_commit(target).raw_data
        )
        return None if found is None else str(found["sha"])

    def has_commit(self, sha: str) -> bool:
        return self.resolve(sha) == sha

    def read(self, commit: str, path: str) -> bytes | None:
        found = self._maybe(
            f"reading {path} at {commit[:12]}", lambda: self._repo().get_contents(path, ref=commit)
        )
        if found is None or isinstance(found, list):
            return None
        # GitHub answers a symlink to a file in the tree with that file (its own `path`), any
        # other symlink as `type: symlink`, a submodule as `type: submodule`: none is a pin site.
        if found.type == "symlink" or (found.type == "file" and found.path != path):
            raise refuse_symlink(path, commit, self.where)
        if found.type == "submodule":
            raise refuse_submodule(path, commit, self.where)
        if found.type != "file":
            return None
        return bytes(found.decoded_content)

    def lock_files(self, commit: str) -> list[str]:
        """Every `poetry.lock` and `uv.lock` in the tree at `commit` (one recursive tree read)."""
        tree = self.forge.call(
            f"listing the files of {self.where} at {commit[:12]}",
            lambda: self._repo().get_git_tree(commit, recursive=True).tree,
        )
        return lock_paths(e.path for e in tree if e.type == "blob")

    def contains(self, tip: str, sha: str) -> bool:
        compared = self._maybe(
            f"comparing {sha[:12]} with {tip[:12]}", lambda: self._repo().compare(sha, tip).status
        )
        return compared in ("ahead", "identical")

    def first_parents(self, tip: str, limit: int) -> list[CommitInfo]:
        """One page of history from `tip`, walked along first parents (the page is in date
        order and may interleave merged branches, so the walk follows parent links)."""
        page = self.forge.call(
            f"listing the commits of {self.where} from {tip[:12]}",
            lambda: list(islice(self._repo().get_commits(sha=tip), limit)),
        )
        by_sha = {c.sha: c for c in page}
        walked: list[CommitInfo] = []
        current = by_sha.get(tip)
        while current is not None and len(walked) < limit:
            walked.append(_commit_info(current))
            parents = current.parents
            current = by_sha.get(parents[0].sha) if parents else None
        return walked

    def _repo(self) -> Any:
        return self.forge.repo(self.repo)

    def _maybe(self, what: str, action: Any) -> Any:
        """The answer, or None when GitHub says there is no such thing (404, 422)."""
        from github import GithubException

        def attempt() -> Any:
            try:
                return action()
            except GithubException as exc:
                if exc.status in (404, 422):
                    return None
                raise

        return self.forge.call(f"{what} in {self.where}", attempt)


def _commit_info(commit: Any) -> CommitInfo:
    message = str(commit.commit.message or "")
    author = commit.commit.author
    who = f"{author.name} <{author.email}>" if author else "unknown"
    return CommitInfo(str(commit.sha), who, message.split("\n", 1)[0], parse_trailers(message))


def _base_ref(pull: Any) -> str:
    return str(pull.base.ref)


def _head_ref(pull: Any) -> str:
    return str(pull.head.ref)


def _other(found: Mapping[str, Any], role: str) -> str | None:
    pull = found.get(role)
    return str(pull.html_url) if pull is not None else None


def _message(exc: Any) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    message = str(data.get("message") or exc)
    errors = data.get("errors") or []
    details = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
    return f"{message}{': ' + details if details else ''}{_hint(exc.status, message)}"


def _hint(status: int, message: str) -> str:
    if "rate limit" in message.lower():
        return " (GitHub is rate-limiting this token: wait a few minutes and re-run)"
    if status in (401, 403, 404):
        return " (check that GITHUB_TOKEN may write pull requests there)"
    if status >= 500:
        return " (GitHub is having trouble: re-run in a few minutes)"
    return ""


def _retry_reason(exc: Exception) -> str:
    found = re.search(r"too many (\d+) error responses", str(exc))
    return f"HTTP {found.group(1)} each time" if found else type(exc).__name__


def open_forge(timeout: float) -> Forge:
    found = github_token()
    if found is None:
        raise UsageError(
            "opening pull requests needs a token: set GITHUB_TOKEN (or GH_TOKEN), "
            "or drop --open-prs to push the branches only"
        )
    return Forge(found, api_url(), timeout)


def required_commits(
    commits: Sequence[str], prs: Sequence[int], repo: GitHubRepo | None, timeout: float
) -> tuple[str, ...]:
    """The backend commits to require: the shas given, then each pull request's commits."""
    shas = list(commits)
    if prs:
        if repo is None or github_token() is None:
            raise UsageError(
                "config require_prs names pull requests, which needs a GitHub --openhands "
                "repository and GITHUB_TOKEN; set them, or list the commits in require_commits"
            )
        hub = open_forge(timeout)
        for number in prs:
            shas += hub.pr_commits(repo, number)
    return tuple(dict.fromkeys(shas))


# --- the contents API: the SDK tree at a sha, without a clone ----------------------------------


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

    def read(self, sha: str, path: str) -> bytes | None:
        found = self._get(f"contents/{path}", {"ref": sha})
        if found.status_code == 404:
            self._absent_or_unknown(sha, path, found)
            return None
        if found.status_code != 200:
            raise self._failure(found)
        return _file_content(found, path)

    def _absent_or_unknown(self, sha: str, path: str, listing: requests.Response) -> bool:
        """A 404 means the directory is absent at `sha`, or `sha` (or the repo) is unknown."""
        if "no commit found" in _response_message(listing).lower():
            raise ExternalError(
                f"commit {sha} is not in github.com/{self.repo}: {_response_message(listing)}"
            )
        commit = self._get(f"commits/{sha}", {})
        if commit.status_code == 200:
            return False  # the commit exists, so it is the directory that is missing
        if commit.status_code in (404, 422):
            raise ExternalError(
                f"GitHub cannot find commit {sha} in {self.repo} ({_response_message(commit)}): "
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
        status, message = response.status_code, _response_message(response)
        where = f"GitHub API {response.url} answered {status} ({message})"
        if status in (401, 403):
            wait = response.headers.get("Retry-After")
            later = f"; retry after {wait}s" if wait else ""
            return ExternalError(
                f"{where}: rate-limited or not authorised: set GITHUB_TOKEN (or GH_TOKEN) "
                f"to a token that can read {self.repo}, or pass --sdk with a clone{later}"
            )
        return ExternalError(f"{where}; try again later or pass --sdk with a clone")


def _file_content(response: requests.Response, path: str) -> bytes | None:
    """A contents-API file's bytes (None when `path` is a directory or not a plain file)."""
    try:
        body = response.json()
    except ValueError:
        raise ExternalError(f"GitHub API {response.url} sent no JSON for {path}") from None
    if not isinstance(body, dict) or body.get("type") != "file" or body.get("encoding") != "base64":
        return None
    try:
        return base64.b64decode(str(body.get("content", "")))
    except ValueError:
        raise ExternalError(f"GitHub API {response.url} sent {path} undecodable") from None


def _github_session(api_url: str) -> requests.Session:
    session = httpclient.session(api_url, read=4, backoff=0.5)
    session.headers.update(
        {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    )
    found = github_token()
    if found:
        session.headers["Authorization"] = f"Bearer {found}"
    return session


def _names_file(listing: Any, name: str) -> bool:
    if not isinstance(listing, list):
        return False  # the "directory" is itself a file at this sha
    return any(e.get("name") == name and e.get("type") == "file" for e in listing)


def _response_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason or "no message"
    return str(data.get("message", "no message")) if isinstance(data, dict) else "no message"
