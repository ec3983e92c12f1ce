"""The GitHub API client. The API base comes from GITHUB_API_URL, so GitHub Enterprise and tests
work alike; the token only from GITHUB_TOKEN / GH_TOKEN. PyGithub is imported only when a `Forge`
is made, and `Forge.call` turns its failures into one line that says what to do.
"""

from __future__ import annotations

import os
import re
from typing import Any

from pinbot.commits import GitHubRepo, github_token
from pinbot.errors import ExternalError, UsageError

GITHUB_API = "https://api.github.com"
# GitHub asks for a second between writes (its secondary rate limit); the tests' fake GitHub
# (testing/github.py) has no such limit and sets 0, or each PR costs its tests seconds of sleep.
SECONDS_BETWEEN_WRITES = 1.0


def api_url() -> str:
    return os.environ.get("GITHUB_API_URL") or GITHUB_API


def open_forge(timeout: float) -> Forge:
    found = github_token()
    if found is None:
        raise UsageError(
            "opening pull requests needs a token: set GITHUB_TOKEN (or GH_TOKEN), "
            "or drop --open-prs to push the branches only"
        )
    return Forge(found, api_url(), timeout)


class Forge:
    """PyGithub over one API base with one token; `call` is the one place its failures become
    ExternalErrors."""

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
            seconds_between_writes=SECONDS_BETWEEN_WRITES,
        )

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
