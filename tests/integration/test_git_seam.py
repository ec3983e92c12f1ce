"""The git seam on real repositories: bytes and modes kept, races reported, identity fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinbot.demo import repos
from pinbot.errors import ExternalError, UsageError
from pinbot.git.clone import Clone

BOT = ("pinbot", "pinbot@users.noreply.github.com")


@pytest.fixture
def deploy(tmp_path: Path) -> repos.DeployRepo:
    return repos.deploy_repo(tmp_path / "remotes", "1" * 40)


def clone(tmp_path: Path, deploy: repos.DeployRepo, name: str = "c") -> Clone:
    return Clone(deploy.url, "--deploy", tmp_path / name, BOT)


def test_a_commit_keeps_bytes_and_the_executable_bit(tmp_path, deploy) -> None:
    c = clone(tmp_path, deploy)
    tip = c.fetch("main")["main"]
    made = c.commit(
        tip, {"deploy.sh": b"#!/bin/sh\r\nexit 0\r\n"}, "Tweak\n\nPinbot-Image: a.io/b:1\n"
    )

    assert c.push(made, "pinbot/x")
    assert repos.git(deploy.remote, "ls-tree", "pinbot/x", "deploy.sh").startswith("100755 blob")
    assert repos.show(deploy.remote, "pinbot/x", "deploy.sh") == "#!/bin/sh\r\nexit 0\r\n"
    [info] = c.log(made, base=tip)
    assert info.author == "pinbot <pinbot@users.noreply.github.com>"
    assert info.by_pinbot and info.trailers == {"Pinbot-Image": "a.io/b:1"}


def test_a_push_to_a_branch_that_moved_reports_false_and_forces_nothing(tmp_path, deploy) -> None:
    c = clone(tmp_path, deploy)
    tip = c.fetch("main")["main"]
    mine = c.commit(tip, {"deploy.sh": b"mine\n"}, "Mine\n")
    theirs = repos.add_commit(deploy.remote, "main", {"deploy.sh": "theirs\n"}, "Theirs")

    assert c.push(mine, "main") is False
    assert repos.git(deploy.remote, "rev-parse", "main") == theirs
    assert c.fetch("main") == {"main": theirs}
    assert c.contains(theirs, tip) and not c.contains(tip, theirs)
    assert not c.contains(theirs, "0" * 40)


def test_missing_branches_and_files_are_none(tmp_path, deploy) -> None:
    c = clone(tmp_path, deploy)
    assert c.fetch("main", "nope") == {"main": deploy.main}
    assert c.read(deploy.main, "nope.txt") is None
    assert c.read(deploy.main, ".github") is None


def test_a_local_path_that_does_not_exist_is_bad_input(tmp_path) -> None:
    with pytest.raises(UsageError, match="no such directory"):
        Clone(str(tmp_path / "missing"), "--deploy", tmp_path / "c", BOT)


def test_a_local_directory_that_is_not_a_repository_is_bad_input(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"--deploy '.*empty' is not a git repository"):
        Clone(str(tmp_path / "empty"), "--deploy", tmp_path / "c", BOT)


def test_fetching_from_a_url_that_is_not_a_repository_is_an_external_error(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    c = Clone((tmp_path / "empty").as_uri(), "--deploy", tmp_path / "c", BOT)
    with pytest.raises(ExternalError, match=r"git ls-remote .*empty \(--deploy\) failed"):
        c.fetch("main")
