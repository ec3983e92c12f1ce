"""Where the gate reads the repositories: in place (a path or file:// URL, git plumbing, no
checkout), through GitHub's API (a GitHub repository and a token), or from a temporary blobless
mirror (other URLs)."""

from __future__ import annotations

from pathlib import Path

from pinbot import commits
from pinbot.context import Context
from pinbot.edits import Site, sites
from pinbot.errors import UsageError
from pinbot.gate.facts import Request
from pinbot.git.reader import InPlace, RepoReader
from pinbot.git.sources import is_url
from pinbot.github.client import Forge, api_url
from pinbot.github.pulls import with_pr_commits
from pinbot.github.reader import GitHubReader


def open_repo(ctx: Context, source: str, flag: str, scratch: Path) -> RepoReader:
    """In place for a path or file:// URL; GitHub's API for a GitHub repository when a token
    is set; otherwise a temporary blobless mirror of the URL (in `scratch`, removed after)."""
    if source.startswith("file://") or Path(source).expanduser().exists():
        return InPlace.open(source, flag)
    url = source  # a URL: the CLI made github.com/OWNER/NAME one (inputs.repository)
    hub = commits.github_repo(url)
    token = commits.github_token()
    if hub is not None and token is not None:
        ctx.out.detail(f"reading {hub.full_name} through the GitHub API")
        return GitHubReader(Forge(token, api_url(), ctx.settings.http_timeout), hub)
    if not is_url(url):
        raise UsageError(f"{flag} {source!r}: no such directory, and not a git URL")
    ctx.out.progress(f"{flag}: no GitHub token for {url}; reading a temporary blobless mirror")
    return InPlace.mirror(url, flag, scratch)


def deployed_sha(
    ctx: Context, repo: RepoReader, ref: str | None
) -> tuple[str, Site, list[tuple[str, Site]]]:
    """The OPENHANDS_SHA the workflow sets at the top level, and every job or step env that
    sets it too (the deploying job sees those)."""
    commit = repo.resolve(ref)
    if commit is None:
        raise UsageError(
            f"--deploy: {ref or 'HEAD'} is not a commit in {repo.where}: check the branch, tag "
            "or sha after the @"
        )
    where = f" at {commits.short(commit)} in {repo.where}"
    site = sites.read_deployed_sha(ctx.settings.deploy, reader(repo, commit), where)
    overridden = sites.read_deployed_overrides(ctx.settings.deploy, reader(repo, commit), where)
    return commit, site, overridden


def required_commits(ctx: Context, request: Request, repo: RepoReader) -> tuple[str, ...]:
    hub = None
    if request.require_prs:
        hub = repo.repo if isinstance(repo, GitHubReader) else commits.github_repo(repo.where)
    return with_pr_commits(
        request.require_commits, request.require_prs, hub, ctx.settings.http_timeout
    )


def reader(repo: RepoReader, commit: str) -> sites.Reader:
    return lambda path: repo.read(commit, path)
