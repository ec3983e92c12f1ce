"""Without `--sdk`: "is the route file at that sha" (and a file's bytes at a sha) through GitHub's
contents API, over pinbot's bounded HTTP session (PyGithub is not loaded for a scan).
"""

from __future__ import annotations

import base64
import posixpath
from typing import Any

import requests

from pinbot import httpclient
from pinbot.commits import github_token
from pinbot.errors import ExternalError
from pinbot.github.client import api_url


class GithubContents:
    """Without `--sdk`: list the route file's directory at the sha through GitHub's REST API."""

    def __init__(self, repo: str, timeout: float = 30.0) -> None:
        self.repo = repo
        self.where = f"github.com/{repo}"
        self.timeout = timeout
        self.api_url = api_url().rstrip("/")
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
