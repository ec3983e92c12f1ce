"""`pinbot gate` through GitHub's API, without a clone: the API faked with `responses`.

The fake answers the four endpoints the gate reads (a commit, the commit list, contents at a
ref, compare) from the real bare repositories of a world made by a real cut, so the answers
are exactly what GitHub would serve for those repositories. The registry stays real.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import responses

from pinbot.demo import repos
from testing.cutworld import CAPABLE, Images, images
from testing.gateworld import CutWorld, cut_world, run

__all__ = ["images"]  # the session fixture, imported so pytest finds it here

API = "https://github.example/api/v3"
ROUTE = re.compile(
    r"https://github\.example(?::443)?/api/v3/repos/(?P<repo>[^/]+/[^/]+)/(?P<rest>.*)"
)


class GitBackedGitHub:
    """GitHub's read API for repositories that live on disk; counts what it was asked."""

    def __init__(self, mock: responses.RequestsMock, remotes: dict[str, Path]) -> None:
        self.remotes = remotes
        self.calls: list[tuple[str, str]] = []
        self.fail_with: int | None = None
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            mock.add_callback(method, ROUTE, callback=self._handle)

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        match = ROUTE.match(request.url.split("?")[0])
        assert match is not None
        self.calls.append((request.method, unquote(match["rest"])))
        if self.fail_with:
            return self.fail_with, {}, json.dumps({"message": "Server Error"})
        assert request.method == "GET", "the gate only reads"
        remote, rest = self.remotes[match["repo"]], match["rest"]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if rest == "commits":
            return self._list(remote, query["sha"], int(query.get("per_page", 30)))
        if rest.startswith("commits/"):
            return self._commit(remote, unquote(rest.removeprefix("commits/")))
        if rest.startswith("contents/"):
            return self._contents(remote, unquote(rest.removeprefix("contents/")), query["ref"])
        if rest.startswith("compare/"):
            base, _, head = unquote(rest.removeprefix("compare/")).partition("...")
            return self._compare(remote, base, head)
        return 404, {}, json.dumps({"message": "Not Found"})

    def _commit(self, remote: Path, ref: str) -> tuple[int, dict[str, str], str]:
        sha = _git(remote, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if sha is None:
            return 422, {}, json.dumps({"message": f"No commit found for SHA: {ref}"})
        return 200, {}, json.dumps(_commit_json(remote, sha))

    def _list(self, remote: Path, tip: str, limit: int) -> tuple[int, dict[str, str], str]:
        shas = (_git(remote, "rev-list", f"-n{limit}", tip) or "").split()
        return 200, {}, json.dumps([_commit_json(remote, sha) for sha in shas])

    def _contents(self, remote: Path, path: str, ref: str) -> tuple[int, dict[str, str], str]:
        kind = _git(remote, "cat-file", "-t", f"{ref}:{path}")
        if kind != "blob":
            return 404, {}, json.dumps({"message": "Not Found"})
        data = subprocess.run(["git", "-C", str(remote), "cat-file", "blob", f"{ref}:{path}"],
                              capture_output=True, check=True).stdout  # fmt: skip
        content = base64.b64encode(data).decode()
        name = path.rsplit("/", 1)[-1]
        body = {"type": "file", "encoding": "base64", "name": name, "path": path,
                "size": len(data), "content": content}  # fmt: skip
        return 200, {}, json.dumps(body)

    def _compare(self, remote: Path, base: str, head: str) -> tuple[int, dict[str, str], str]:
        if _git(remote, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}") is None:
            return 404, {}, json.dumps({"message": "Not Found"})
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


@pytest.fixture(scope="module")
def world(images: Images, tmp_path_factory: pytest.TempPathFactory) -> CutWorld:
    return cut_world(tmp_path_factory.mktemp("gate-github"), images, CAPABLE)


@pytest.fixture
def github(world: CutWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitBackedGitHub]:
    monkeypatch.setenv("GITHUB_API_URL", API)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_gate_token_never_printed")
    remotes = {
        "acme/OpenHands": world.repos.openhands.remote,
        "acme/deploy": world.repos.deploy.remote,
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")  # the real registry
        yield GitBackedGitHub(mock, remotes)


def gate(world: CutWorld, deploy: str, openhands: str, *extra: str) -> tuple[int, Any, str]:
    refs = world.repos.refs()
    code, out, err = run(
        ["--json", "gate", "--deploy", deploy, "--openhands", openhands, "--image", world.image,
         "--registry-url", world.images.registry, "--sdk", str(world.images.world.sdk),
         "--require-commit", world.repos.openhands.backend_commit, *extra]
    )  # fmt: skip
    assert world.repos.refs() == refs
    return code, json.loads(out) if out.strip() else None, err


def test_the_gate_reads_both_repositories_through_the_api_and_passes(
    world: CutWorld, github: GitBackedGitHub
) -> None:
    deploy = f"https://github.com/acme/deploy@{world.deploy_branch}"

    code, report, err = gate(world, deploy, "github.com/acme/OpenHands")

    assert code == 0, err
    assert report["openhands_sha"] == world.pin
    assert [c["status"] for c in report["checks"]] == ["pass"] * 5
    assert "ghp_gate_token" not in err
    asked = {(method, path.split("/")[0]) for method, path in github.calls}
    assert asked == {("GET", "commits"), ("GET", "contents"), ("GET", "compare")}


def test_a_missing_backend_commit_blocks_through_the_api_too(
    world: CutWorld, github: GitBackedGitHub
) -> None:
    oh = world.repos.openhands
    elsewhere = repos.add_commit(
        oh.remote, "elsewhere", {"x.py": "x = 1\n"}, "Other", start=oh.main
    )
    deploy = f"https://github.com/acme/deploy@{world.deploy_branch}"

    code, report, _ = gate(
        world, deploy, "https://github.com/acme/OpenHands.git", "--require-commit", elsewhere
    )

    assert code == 1
    failing = [c["name"] for c in report["checks"] if not c["ok"]]
    assert failing == ["backend_commits"]
    assert elsewhere[:12] in report["checks"][1]["detail"]


def test_a_sha_github_does_not_know_blocks(world: CutWorld, github: GitBackedGitHub) -> None:
    workflow = repos.deploy_workflow("0123456789" * 4)
    dp = world.repos.deploy
    repos.add_commit(dp.remote, "api-unknown", {repos.WORKFLOW: workflow}, "Deploy", start=dp.main)

    code, report, _ = gate(world, "github.com/acme/deploy@api-unknown", "github.com/acme/OpenHands")

    assert code == 1
    assert [c["status"] for c in report["checks"]] == ["fail"] + ["skip"] * 4
    assert "is not a commit in github.com/acme/OpenHands" in report["checks"][0]["detail"]


def test_a_deploy_ref_github_does_not_know_is_bad_input(
    world: CutWorld, github: GitBackedGitHub
) -> None:
    code, report, err = gate(
        world, "github.com/acme/deploy@no-such-branch", "github.com/acme/OpenHands"
    )

    assert (code, report) == (2, None)
    assert "no-such-branch is not a commit in github.com/acme/deploy" in err


def test_github_refusing_the_token_is_an_external_failure(
    world: CutWorld, github: GitBackedGitHub
) -> None:
    github.fail_with = 401

    code, report, err = gate(
        world, f"github.com/acme/deploy@{world.deploy_branch}", "github.com/acme/OpenHands"
    )

    assert (code, report) == (3, None)
    assert "GitHub said 401" in err and "GITHUB_TOKEN" in err
