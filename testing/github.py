"""The one fake of GitHub's REST API the tests share, on `responses` (the only thing faked).

- Pull requests, with state: listed by head, opened (422 "already exists" for a second PR on
  the same head, as GitHub answers), edited, and their commits (`commits[number]`).
- The read endpoints the gate uses (a commit, the commit list, contents at a ref, compare),
  answered from real bare repositories on disk (`remotes["owner/name"] = path`), so the answers
  are exactly what GitHub would serve for those repositories.
- Faults: `faults` (first match wins, each a number of times) and `fail_with` (every request).
Every request is recorded in `calls` as (method, "/repos/owner/name/...").
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import responses

API = "https://github.example/api/v3"
TOKEN = "ghp_fake_token_never_printed"
OPENHANDS_URL = "https://github.com/acme/OpenHands"
DEPLOY_URL = "https://github.com/acme/deploy"
ROUTE = re.compile(
    r"https://github\.example(?::443)?/api/v3/repos/(?P<repo>[^/]+/[^/]+)/(?P<rest>[^?]*)"
)
PULL = re.compile(r"pulls(?:/(?P<number>\d+))?(?P<commits>/commits)?\Z")
# What a new PR gets besides its body: labels and assignees (its issue), requested reviewers.
DRESS = re.compile(
    r"(?:issues|pulls)/(?P<number>\d+)/(?P<what>labels|assignees|requested_reviewers)\Z"
)
Answer = tuple[int, dict[str, str], str]


class FakeGitHub:
    def __init__(self, mock: responses.RequestsMock) -> None:
        self.pulls: dict[str, list[dict[str, Any]]] = {}
        self.commits: dict[int, list[str]] = {}
        self.remotes: dict[str, Path] = {}
        self.calls: list[tuple[str, str]] = []
        self.faults: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            mock.add_callback(method, ROUTE, callback=self._handle)

    # --- what tests set up and read --------------------------------------------------------------

    def seed(
        self, repo: str, number: int, head: str, body: str, base: str = "main"
    ) -> dict[str, Any]:
        pull = _pull(repo, number, head, base, "Backend change", body)
        self.pulls.setdefault(repo, []).append(pull)
        return pull

    def writes(self) -> list[tuple[str, str]]:
        return [call for call in self.calls if call[0] != "GET"]

    def body(self, repo: str, head: str) -> str:
        return str(next(p["body"] for p in self.pulls[repo] if p["head"]["ref"] == head))

    def open_pulls(self, repo: str) -> list[str]:
        return [p["head"]["ref"] for p in self.pulls.get(repo, []) if p["state"] == "open"]

    # --- the API ---------------------------------------------------------------------------------

    def _handle(self, request: Any) -> Answer:
        match = ROUTE.match(request.url)
        assert match is not None
        repo, rest = match["repo"], unquote(match["rest"])
        self.calls.append((request.method, f"/repos/{repo}/{rest}"))
        if self.fail_with:
            return self.fail_with, {}, json.dumps({"message": "Server Error"})
        for fault in self.faults:
            if fault["method"] == request.method and fault["hits"] < fault["times"]:
                fault["hits"] += 1
                if fault.get("goes_through"):
                    self._answer(request, repo, rest)  # done, though the answer says otherwise
                return fault["status"], fault.get("headers", {}), json.dumps(fault["body"])
        return self._answer(request, repo, rest)

    def _answer(self, request: Any, repo: str, rest: str) -> Answer:
        dress = DRESS.match(rest)
        if dress is not None and request.method == "POST":
            return self._dress(repo, int(dress["number"]), dress["what"], json.loads(request.body))
        pull = PULL.match(rest)
        if pull is not None:
            return self._pulls(request, repo, pull)
        assert request.method == "GET", f"{request.method} {rest}: only pull requests are written"
        remote = self.remotes.get(repo)
        if remote is None:
            return _not_found()
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        if rest == "commits":
            return _list(remote, query["sha"], int(query.get("per_page", 30)))
        if rest.startswith("commits/"):
            return _commit(remote, rest.removeprefix("commits/"))
        if rest.startswith("contents/"):
            return _contents(remote, rest.removeprefix("contents/"), query["ref"])
        if rest.startswith("compare/"):
            base, _, head = rest.removeprefix("compare/").partition("...")
            return _compare(remote, base, head)
        if rest.startswith("git/trees/"):
            return _tree(remote, rest.removeprefix("git/trees/"))
        return _not_found()

    def _pulls(self, request: Any, repo: str, match: re.Match[str]) -> Answer:
        number = int(match["number"]) if match["number"] else None
        if request.method == "POST":
            return self._create(repo, json.loads(request.body))
        if number is not None and request.method == "PATCH":
            found = self._find(repo, number)
            found.update(json.loads(request.body))
            return 200, {}, json.dumps(found)
        if number is not None and match["commits"]:
            return 200, {}, json.dumps([{"sha": s} for s in self.commits[number]])
        if number is not None:
            return 200, {}, json.dumps(self._find(repo, number))
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}
        owner = repo.split("/")[0]
        found = [
            p
            for p in self.pulls.get(repo, [])
            if f"{owner}:{p['head']['ref']}" == query.get("head")
            and p["base"]["ref"] == query.get("base", p["base"]["ref"])
        ]
        return 200, {}, json.dumps(found)

    def _create(self, repo: str, data: dict[str, Any]) -> Answer:
        # GitHub refuses a second open PR with the same head *and* base; another base is fine.
        same = [(p["head"]["ref"], p["base"]["ref"]) for p in self.pulls.get(repo, [])]
        if (data["head"], data["base"]) in same:
            owner = repo.split("/")[0]
            message = f"A pull request already exists for {owner}:{data['head']}."
            body = {"message": "Validation Failed", "errors": [{"message": message}]}
            return 422, {}, json.dumps(body)
        number = 100 + sum(len(p) for p in self.pulls.values())
        made = _pull(repo, number, data["head"], data["base"], data["title"], data["body"])
        made["draft"] = bool(data.get("draft"))
        self.pulls.setdefault(repo, []).append(made)
        return 201, {}, json.dumps(made)

    def _dress(self, repo: str, number: int, what: str, data: dict[str, Any]) -> Answer:
        found = self._find(repo, number)
        if what == "labels":
            names = data["labels"] if isinstance(data, dict) else data
            found["labels"] += [{"name": n} for n in names]
            return 200, {}, json.dumps(found["labels"])
        if what == "assignees":
            found["assignees"] += [{"login": n} for n in data["assignees"]]
        else:
            found["requested_reviewers"] += [{"login": n} for n in data.get("reviewers", [])]
            found["requested_teams"] += [{"slug": n} for n in data.get("team_reviewers", [])]
        return 201, {}, json.dumps(found)

    def _find(self, repo: str, number: int) -> dict[str, Any]:
        return next(p for p in self.pulls[repo] if p["number"] == number)


def _pull(repo: str, number: int, head: str, base: str, title: str, body: str) -> dict[str, Any]:
    return {
        "number": number,
        "url": f"{API}/repos/{repo}/pulls/{number}",
        "issue_url": f"{API}/repos/{repo}/issues/{number}",
        "html_url": f"https://github.com/{repo}/pull/{number}",
        "state": "open",
        "title": title,
        "body": body,
        "head": {"ref": head},
        "base": {"ref": base},
        "draft": False,
        "labels": [],
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
    }


def _not_found() -> Answer:
    return 404, {}, json.dumps({"message": "Not Found"})


def _commit(remote: Path, ref: str) -> Answer:
    sha = _git(remote, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if sha is None:
        return 422, {}, json.dumps({"message": f"No commit found for SHA: {ref}"})
    return 200, {}, json.dumps(_commit_json(remote, sha))


def _list(remote: Path, tip: str, limit: int) -> Answer:
    shas = (_git(remote, "rev-list", f"-n{limit}", tip) or "").split()
    return 200, {}, json.dumps([_commit_json(remote, sha) for sha in shas])


def _contents(remote: Path, path: str, ref: str) -> Answer:
    """As GitHub answers: a file; a symlink to a file in the tree as that file (with its own
    path); any other symlink as `type: symlink`; a submodule as `type: submodule`."""
    entry = (_git(remote, "ls-tree", "--format=%(objectmode)", ref, "--", path) or "").strip()
    name = path.rsplit("/", 1)[-1]
    if entry == "160000":
        sha = _git(remote, "rev-parse", f"{ref}:{path}")
        body = {"type": "submodule", "name": name, "path": path, "sha": sha, "size": 0,
                "submodule_git_url": "https://github.com/acme/elsewhere.git"}  # fmt: skip
        return 200, {}, json.dumps(body)
    if entry == "120000":
        target = _blob(remote, ref, path).decode()
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if (
            not resolved.startswith("../")
            and _git(remote, "cat-file", "-t", f"{ref}:{resolved}") == "blob"
        ):
            return _file(remote, ref, resolved)
        body = {"type": "symlink", "name": name, "path": path, "target": target,
                "size": len(target)}  # fmt: skip
        return 200, {}, json.dumps(body)
    if entry not in ("100644", "100755"):
        return _not_found()
    return _file(remote, ref, path)


def _tree(remote: Path, ref: str) -> Answer:
    """`git/trees/{sha}?recursive=1`: every entry of the tree, as GitHub lists it."""
    out = _git(
        remote,
        "ls-tree",
        "-r",
        "-t",
        "--format=%(objectmode) %(objecttype) %(objectname) %(path)",
        ref,
    )
    if out is None:
        return _not_found()
    entries = []
    for line in out.splitlines():
        mode, kind, sha, path = line.split(" ", 3)
        entries.append({"path": path, "mode": mode, "type": kind, "sha": sha})
    sha = _git(remote, "rev-parse", f"{ref}^{{tree}}")
    return 200, {}, json.dumps({"sha": sha, "tree": entries, "truncated": False})


def _file(remote: Path, ref: str, path: str) -> Answer:
    data = _blob(remote, ref, path)
    body = {"type": "file", "encoding": "base64", "name": path.rsplit("/", 1)[-1], "path": path,
            "size": len(data), "content": base64.b64encode(data).decode()}  # fmt: skip
    return 200, {}, json.dumps(body)


def _blob(remote: Path, ref: str, path: str) -> bytes:
    return subprocess.run(["git", "-C", str(remote), "cat-file", "blob", f"{ref}:{path}"],
                          capture_output=True, check=True).stdout  # fmt: skip


def _compare(remote: Path, base: str, head: str) -> Answer:
    if _git(remote, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}") is None:
        return _not_found()
    if base == head:
        status = "identical"
    elif _is_ancestor(remote, base, head):
        status = "ahead"
    elif _is_ancestor(remote, head, base):
        status = "behind"
    else:
        status = "diverged"
    return 200, {}, json.dumps({"status": status, "ahead_by": 0, "behind_by": 0})


def _commit_json(remote: Path, sha: str) -> dict[str, Any]:
    fields = (_git(remote, "show", "-s", "--format=%P%x00%an%x00%ae%x00%B", sha) or "").split("\0")
    parents, name, email, message = fields
    return {
        "sha": sha,
        "url": f"{API}/repos/x/y/commits/{sha}",
        "commit": {"message": message.rstrip("\n"), "author": {"name": name, "email": email}},
        "parents": [{"sha": p, "url": f"{API}/repos/x/y/commits/{p}"} for p in parents.split()],
    }


def _is_ancestor(remote: Path, older: str, newer: str) -> bool:
    done = subprocess.run(["git", "-C", str(remote), "merge-base", "--is-ancestor", older, newer])
    return done.returncode == 0


def _git(remote: Path, *args: str) -> str | None:
    done = subprocess.run(["git", "-C", str(remote), *args], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None
