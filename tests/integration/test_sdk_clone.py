"""The SDK tree seam against real git repositories (a clone, and a file:// mirror)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from pinbot.capability import ImageFacts, SourceDetector, open_sdk
from pinbot.config import ROUTE_FILE, Settings
from pinbot.errors import ExternalError
from pinbot.git.sdk import GitClone, GitMirror

UNKNOWN = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Sdk:
    path: Path
    a: str  # before the routes
    b: str  # adds the route file
    c: str  # removes it again (upstream did so the same day)

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def commit(self, message: str) -> str:
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "-m", message)
        return git(self.path, "rev-parse", "HEAD")


def cache() -> Path:
    """pinbot's cache directory, as a run's Context carries it (each test has its own cwd)."""
    return Path.cwd() / "pinbot-cache"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sdk:
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "SDK Dev")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "dev@example.com")
        monkeypatch.setenv(f"GIT_{role}_DATE", "2026-01-01T00:00:00Z")
    path = tmp_path / "software-agent-sdk"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    git(path, "config", "uploadpack.allowFilter", "true")  # let mirrors really be blobless
    route = path / ROUTE_FILE
    route.parent.mkdir(parents=True)
    (route.parent / "server.py").write_text("app = None\n")
    repo = Sdk(path, "", "", "")
    repo.a = repo.commit("A: agent server")
    route.write_text("router = None\n")
    repo.b = repo.commit("B: add the blob routes")
    route.unlink()
    repo.c = repo.commit("C: remove them again")
    return repo


def test_a_clone_answers_per_commit(sdk: Sdk) -> None:
    tree = open_sdk(str(sdk.path), Settings(), cache())
    assert isinstance(tree, GitClone)
    found = [tree.has_file(sha, ROUTE_FILE) for sha in (sdk.a, sdk.b, sdk.c)]
    assert found == [False, True, False]


def test_a_subdirectory_of_the_clone_answers_for_the_whole_tree(sdk: Sdk) -> None:
    tree = open_sdk(str(sdk.path / "openhands-agent-server"), Settings(), cache())
    assert tree.has_file(sdk.b, ROUTE_FILE)


def test_a_directory_of_that_name_is_not_the_file(sdk: Sdk) -> None:
    directory = ROUTE_FILE.rsplit("/", 1)[0]
    assert not GitClone(sdk.path).has_file(sdk.b, directory)


def test_a_commit_missing_from_the_clone_says_to_fetch(sdk: Sdk) -> None:
    with pytest.raises(ExternalError, match=f"commit {UNKNOWN} is not in the clone .* fetch"):
        GitClone(sdk.path).has_file(UNKNOWN, ROUTE_FILE)


def test_a_tree_id_is_not_taken_for_a_commit(sdk: Sdk) -> None:
    tree_id = git(sdk.path, "rev-parse", f"{sdk.b}^{{tree}}")
    with pytest.raises(ExternalError, match="is not in the clone"):
        GitClone(sdk.path).has_file(tree_id, ROUTE_FILE)


def test_a_url_is_mirrored_bare_and_blobless_in_the_cache(sdk: Sdk) -> None:
    tree = open_sdk(sdk.url, Settings(), cache())
    assert isinstance(tree, GitMirror)
    assert [tree.has_file(sha, ROUTE_FILE) for sha in (sdk.a, sdk.b, sdk.c)] == [False, True, False]
    assert tree.path.parent == cache() / "sdk"
    assert git(tree.path, "rev-parse", "--is-bare-repository") == "true"
    kinds = git(tree.path, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype)")
    assert "blob" not in kinds.split()


def test_the_mirror_fetches_a_commit_made_after_it_was_cloned(sdk: Sdk) -> None:
    mirror = GitMirror(sdk.url, cache() / "sdk")
    assert not mirror.has_file(sdk.c, ROUTE_FILE)
    (sdk.path / ROUTE_FILE).write_text("router = 'back'\n")
    d = sdk.commit("D: the routes are back")
    assert mirror.has_file(d, ROUTE_FILE)
    assert git(mirror.path, "cat-file", "-t", d) == "commit"


def test_a_commit_the_remote_does_not_have_is_an_error_after_a_fetch(sdk: Sdk) -> None:
    with pytest.raises(ExternalError, match=f"commit {UNKNOWN} is not in .* even after a fetch"):
        GitMirror(sdk.url, cache() / "sdk").has_file(UNKNOWN, ROUTE_FILE)


def test_an_unreachable_url_is_an_error_naming_it(tmp_path: Path) -> None:
    url = (tmp_path / "no-such-repo").as_uri()
    with pytest.raises(ExternalError, match=f"cloning {url} failed"):
        GitMirror(url, cache() / "sdk").has_file(UNKNOWN, ROUTE_FILE)
    assert not any((cache() / "sdk").iterdir())  # no half-made mirror


def test_the_source_detector_over_a_mirror(sdk: Sdk) -> None:
    detector = SourceDetector(GitMirror(sdk.url, cache() / "sdk"), ROUTE_FILE)
    digest = "sha256:" + "a" * 64
    results = [
        detector.check(ImageFacts(digest, ("linux/amd64",), build_sha=sha)).result
        for sha in (sdk.a, sdk.b, sdk.c, UNKNOWN)
    ]
    assert results == ["fail", "pass", "fail", "error"]
