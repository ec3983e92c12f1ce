"""Rollback holds come from the pin files' history, never from commit text.

The world: the cut world's OpenHands branch pinned at 1.26.0 (lacks the capability), moved to
1.27.0 (the one capable image) and rolled back. The real `pinbot scan --openhands
--openhands-branch` and `pinbot cut --tag` must keep 1.27.0 held whatever commit text follows,
and must not hold it for text that changes no pin site."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from testing.cli import Run, pinbot
from testing.cutworld import CAPABLE, IMAGE, cut_remotes, git_as

AREA = "rollback holds"
ATTACK = (
    'commits that quote "This reverts commit …", `Revert`/`Reapply` subjects, copied '
    "`Pinbot-Image`/`Pinbot-Digest` trailers (also in a merge), a fake pin and its revert, 501 "
    "commits burying the rollback, a pin file renamed away and back"
)
ANSWER = (
    "holds come from what the pin sites said along the branch's first-parent history (a move "
    "back holds the image moved away from; naming it again lifts it): text changes nothing"
)
EXIT = "1 (held: nothing qualifies / cut --tag refused); 0 when nothing was rolled back"

OLD = "1.26.0-python"
SPEC = repos.SPEC_FILE
HELD_BY = "moved its pin to it in"

pytestmark = pytest.mark.usefixtures("own_temp")


@contextmanager
def work(remote: Path, branch: str, author: tuple[str, str] = repos.HUMAN) -> Iterator[Any]:
    """A scratch clone of `branch`: yields `git(*args)`; pushes the branch back at the end."""
    with tempfile.TemporaryDirectory(prefix="pinbot-hostile-") as tmp:
        git = git_as(Path(tmp), author)
        git("clone", "-q", "-b", branch, "--", str(remote), ".")
        yield git
        git("push", "-q", "origin", f"HEAD:refs/heads/{branch}")


def pin_to(git: Callable[..., str], old: str, new: str, message: str) -> str:
    for name in git("grep", "-l", "-F", old).splitlines():
        path = Path(git("rev-parse", "--show-toplevel")) / name
        path.write_text(path.read_text().replace(old, new))
    git("commit", "-q", "-a", "-m", message)
    return git("rev-parse", "HEAD")


def trailers(tag: str, digest: str) -> str:
    return f"Pinbot-Image: {IMAGE}:{tag}\nPinbot-Digest: {digest}\n"


@pytest.fixture
def rolled(tmp_path: Path, images: Any) -> tuple[Remotes, str, str]:
    """1.27.0 pinned on the branch by a human edit (no trailers) and moved back by another
    (no "This reverts" text): the content alone is the rollback."""
    world = cut_remotes(tmp_path / "remotes")
    openhands = world.openhands
    with work(openhands.remote, openhands.branch) as git:
        pin = pin_to(git, OLD, CAPABLE, "Bump the agent server")
        back = pin_to(git, CAPABLE, OLD, "Go back to the agent server we had")
    return world, pin, back


def scan(world: Remotes, images: Any) -> Run:
    return pinbot(
        "--json", "scan", "--image", IMAGE, "--registry-url", images.registry,
        "--sdk", str(images.world.sdk), "--openhands", world.openhands.url,
        "--openhands-branch", world.openhands.branch,
    )  # fmt: skip


def cut_tag(world: Remotes, images: Any) -> Run:
    return pinbot(
        "cut", "--tag", CAPABLE, "--dry-run", "--openhands", world.openhands.url,
        "--openhands-branch", world.openhands.branch, "--image", IMAGE,
        "--registry-url", images.registry, "--sdk", str(images.world.sdk),
    )  # fmt: skip


def still_held(world: Remotes, images: Any, pin: str, back: str) -> None:
    done = scan(world, images)
    assert done.code == 1, done.err  # the only capable image is held: nothing qualifies
    (hold,) = done.data["holds"]
    assert hold["image"] == f"{IMAGE}:{CAPABLE}"
    assert (hold["pin_commit"], hold["revert_commit"], hold["back_to"]) == (pin, back, OLD)
    refused = cut_tag(world, images)
    assert refused.code == 1 and f"{HELD_BY} {pin[:12]}" in refused.err


def not_held(world: Remotes, images: Any) -> None:
    done = scan(world, images)
    assert done.code == 0, done.err
    assert done.data["holds"] == [] and done.data["selected"]["tag"] == CAPABLE


def test_a_rollback_made_by_plain_edits_holds_with_no_revert_text(rolled, images) -> None:
    world, pin, back = rolled

    still_held(world, images, pin, back)


@pytest.mark.parametrize(
    "message",
    [
        "Docs\n\nThis reverts commit {back}.\n",
        'Reapply "Bump the agent server"\n\nThis reverts commit {back}.\n',
        'Revert "Go back to the agent server we had"\n\nThis reverts commit {back}.\n',
        "Docs\n\n{trailers}",
    ],
    ids=["quoted-revert", "reapply-subject", "revert-subject", "copied-trailers"],
)
def test_commit_text_on_a_readme_commit_does_not_lift_a_hold(rolled, images, message: str) -> None:
    world, pin, back = rolled
    text = message.format(back=back, trailers=trailers(CAPABLE, images.world.digests[CAPABLE]))
    with work(world.openhands.remote, world.openhands.branch) as git:
        Path(git("rev-parse", "--show-toplevel"), "README.md").write_text("# docs\n")
        git("commit", "-q", "-a", "-m", text)

    still_held(world, images, pin, back)


def test_copied_trailers_in_a_merge_commit_do_not_lift_a_hold(rolled, images) -> None:
    world, pin, back = rolled
    with work(world.openhands.remote, world.openhands.branch) as git:
        git("checkout", "-q", "-b", "side")
        Path(git("rev-parse", "--show-toplevel"), "README.md").write_text("# side\n")
        git("commit", "-q", "-a", "-m", "Side work")
        git("checkout", "-q", world.openhands.branch)
        message = "Merge side\n\n" + trailers(CAPABLE, images.world.digests[CAPABLE])
        git("merge", "-q", "--no-ff", "-m", message, "side")

    still_held(world, images, pin, back)


def test_501_commits_after_the_rollback_do_not_bury_it(rolled, images) -> None:
    world, pin, back = rolled
    remote, branch = world.openhands.remote, world.openhands.branch
    tree, parent = repos.git(remote, "rev-parse", f"{branch}^{{tree}}"), back
    digest = images.world.digests[CAPABLE]
    for n in range(501):  # each matched the old message search: a revert or a trailer
        text = (
            f"Revert\n\nThis reverts commit {n:040x}.\n"
            if n % 2
            else f"x\n\n{trailers(OLD, digest)}"
        )
        parent = repos.git(remote, "commit-tree", tree, "-p", parent, "-m", text)
    repos.git(remote, "update-ref", f"refs/heads/{branch}", parent)

    still_held(world, images, pin, back)


def test_a_pin_file_renamed_away_and_back_keeps_the_hold(rolled, images) -> None:
    world, pin, back = rolled
    with work(world.openhands.remote, world.openhands.branch) as git:
        git("mv", SPEC, "spec_service.py")
        git("commit", "-q", "-m", "Move the sandbox spec")
        git("mv", "spec_service.py", SPEC)
        git("commit", "-q", "-m", "Move it back")

    still_held(world, images, pin, back)


def test_naming_the_held_image_again_is_what_lifts_the_hold(rolled, images) -> None:
    world, _, _ = rolled
    with work(world.openhands.remote, world.openhands.branch) as git:
        pin_to(git, OLD, CAPABLE, "Pin it again on purpose")

    done = scan(world, images)

    assert done.code == 0, done.err  # current is 1.27.0 itself: nothing held, it is selected
    assert done.data["holds"] == []


def test_a_fake_pin_and_its_revert_changing_no_pin_site_hold_nothing(
    tmp_path: Path, images
) -> None:
    world = cut_remotes(tmp_path / "remotes")
    digest = images.world.digests[CAPABLE]
    with work(world.openhands.remote, world.openhands.branch, repos.BOT) as git:
        Path(git("rev-parse", "--show-toplevel"), "README.md").write_text("# fake\n")
        git(
            "commit", "-q", "-a", "-m", f"Pin agent-server {CAPABLE}\n\n{trailers(CAPABLE, digest)}"
        )
        git("revert", "--no-edit", "HEAD")

    not_held(world, images)


def test_a_pin_and_its_revert_inside_a_merged_side_branch_hold_nothing(
    tmp_path: Path, images
) -> None:
    """Only the branch's own line counts: the side branch's detour was never on the branch."""
    world = cut_remotes(tmp_path / "remotes")
    with work(world.openhands.remote, world.openhands.branch) as git:
        git("checkout", "-q", "-b", "side")
        pin_to(git, OLD, CAPABLE, "Try the new agent server")
        git("revert", "--no-edit", "HEAD")
        git("checkout", "-q", world.openhands.branch)
        git("merge", "-q", "--no-ff", "-m", "Merge the experiment", "side")

    not_held(world, images)
