"""A fake of GitHub's REST API (pull requests), on `responses`: the one GitHub fake the tests share.

Just enough of the API, with state, to see what pinbot asks and changes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import responses

API = "https://github.example/api/v3"
OPENHANDS_URL = "https://github.com/acme/OpenHands"
DEPLOY_URL = "https://github.com/acme/deploy"
PULLS = re.compile(
    r"https://github\.example(?::443)?/api/v3/repos/(?P<repo>[^/]+/[^/?]+)/pulls(?:/(?P<number>\d+))?"
)


class FakeGitHub:
    """Just enough of the pulls API, with state, to see what pinbot asks and changes."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.pulls: dict[str, list[dict[str, Any]]] = {}
        self.commits: dict[int, list[str]] = {}
        self.calls: list[tuple[str, str]] = []
        for method in ("GET", "POST", "PATCH"):
            mock.add_callback(method, PULLS, callback=self._handle)

    def seed(self, repo: str, number: int, head: str, body: str) -> dict[str, Any]:
        pull = self._pull(repo, number, head, "main", "Backend change", body)
        self.pulls.setdefault(repo, []).append(pull)
        return pull

    def writes(self) -> list[tuple[str, str]]:
        return [call for call in self.calls if call[0] != "GET"]

    def body(self, repo: str, head: str) -> str:
        return next(p["body"] for p in self.pulls[repo] if p["head"]["ref"] == head)

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        match = PULLS.match(request.url)
        assert match is not None
        repo, number = match["repo"], match["number"]
        self.calls.append((request.method, request.url.split("?")[0].split("/api/v3")[1]))
        if request.method == "POST":
            return self._create(repo, json.loads(request.body))
        if request.method == "PATCH":
            pull = self._find(repo, int(number))
            pull.update(json.loads(request.body))
            return 200, {}, json.dumps(pull)
        if number and request.url.split("?")[0].endswith("/commits"):
            return 200, {}, json.dumps([{"sha": s} for s in self.commits[int(number)]])
        if number:
            return 200, {}, json.dumps(self._find(repo, int(number)))
        head = re.search(r"head=([^&]+)", request.url)
        wanted = head.group(1).replace("%3A", ":").replace("%2F", "/") if head else None
        found = [
            p
            for p in self.pulls.get(repo, [])
            if f"{repo.split('/')[0]}:{p['head']['ref']}" == wanted
        ]
        return 200, {}, json.dumps(found)

    def _create(self, repo: str, data: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        number = 100 + sum(len(p) for p in self.pulls.values())
        pull = self._pull(repo, number, data["head"], data["base"], data["title"], data["body"])
        self.pulls.setdefault(repo, []).append(pull)
        return 201, {}, json.dumps(pull)

    def _find(self, repo: str, number: int) -> dict[str, Any]:
        return next(p for p in self.pulls[repo] if p["number"] == number)

    @staticmethod
    def _pull(
        repo: str, number: int, head: str, base: str, title: str, body: str
    ) -> dict[str, Any]:
        return {
            "number": number,
            "url": f"{API}/repos/{repo}/pulls/{number}",
            "html_url": f"https://github.com/{repo}/pull/{number}",
            "state": "open",
            "title": title,
            "body": body,
            "head": {"ref": head},
            "base": {"ref": base},
        }
