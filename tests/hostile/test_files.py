"""Files from a repository are input: a pin site that is a symbolic link (it could point
anywhere in the tree, or out of it), or one nested too deep for the parser, is exit 2 naming
the file, never a crash and never an edit. The real `pinbot cut` and `gate`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from testing.cli import pinbot
from testing.cutworld import CAPABLE, cut_argv, cut_remotes
from testing.gateworld import run
from testing.github import FakeGitHub
from testing.worlds import Images

AREA = "repository files, config"
ATTACK = (
    "a pin site that is a symbolic link (in or out of the tree) or a submodule; a pin file "
    "nested 1500 expressions deep; config values out of bounds (zero, NaN or endless timeouts, "
    "101-entry lists, 1001-character strings, 5000-deep TOML)"
)
ANSWER = (
    "refuses the file or value by name, read from a clone or through GitHub's contents API (the "
    "gate blocks on a pin file); nothing is pushed"
)
EXIT = "2 (gate: 1)"

PIN_FILE = "openhands/app_server/sandbox/sandbox_spec_service.py"


def branch_with(world: Remotes, tmp_path: Path, branch: str, change: Any) -> str:
    """A branch of the OpenHands remote, from the backend branch, with `change(work)` applied
    in a checkout; returns the new commit."""
    work = tmp_path / f"work-{branch}"
    repos.git(tmp_path, "clone", "-q", "-b", world.openhands.branch, world.openhands.url, str(work))
    change(work)
    repos.git(work, "add", "-A")
    repos.git(work, "commit", "-q", "-m", f"hostile: {branch}")
    repos.git(work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return repos.git(work, "rev-parse", "HEAD")


def symlinked(work: Path) -> None:
    target = work / "pin-elsewhere.py"
    (work / PIN_FILE).rename(target)
    (work / PIN_FILE).symlink_to(os.path.relpath(target, (work / PIN_FILE).parent))


def too_deep(work: Path) -> None:
    path = work / PIN_FILE
    path.write_text(path.read_text() + "\nX = " + "-" * 1500 + "1\n")


HOSTILE_PIN_FILES = pytest.mark.parametrize(
    ("change", "says"),
    [(symlinked, "is a symbolic link"), (too_deep, "nests expressions too deep")],
)


@HOSTILE_PIN_FILES
def test_cut_refuses_a_hostile_pin_file(
    change: Any, says: str, images: Images, tmp_path: Path
) -> None:
    world = cut_remotes(tmp_path / "remotes")
    branch_with(world, tmp_path, "hostile", change)
    before = repos.git(tmp_path, "ls-remote", world.deploy.url)

    code, _, err = run(cut_argv(images, world, "--push", branch="hostile"))

    assert code == 2, err
    assert PIN_FILE in err and says in err
    assert repos.git(tmp_path, "ls-remote", world.deploy.url) == before  # nothing pushed


@HOSTILE_PIN_FILES
def test_gate_refuses_a_hostile_pin_file(
    change: Any, says: str, images: Images, tmp_path: Path
) -> None:
    world = cut_remotes(tmp_path / "remotes")
    commit = branch_with(world, tmp_path, "hostile", change)
    text = repos.deploy_workflow(commit)
    repos.add_commit(world.deploy.remote, "hostile", {repos.WORKFLOW: text}, "Deploy",
                     start=world.deploy.main)  # fmt: skip

    code, out, err = run([
        "gate", "--deploy", f"{world.deploy.url}@hostile", "--openhands", world.openhands.url,
        "--image", "ghcr.io/cutworld/agent-server", "--registry-url", images.registry,
        "--sdk", str(images.world.sdk),
    ])  # fmt: skip

    assert code == 1, out + err  # the gate blocks: pin_sites_agree names the file
    assert PIN_FILE in out + err and says in out + err


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("http_timeout = 0.0\n", "http_timeout 0.0 must be between"),
        ("http_timeout = nan\n", "http_timeout nan must be between"),
        ("http_timeout = inf\n", "http_timeout inf must be between"),
        ("[probe]\ntimeout = -1.0\n", "probe.timeout -1.0 must be between"),
        (f"require_prs = [{', '.join(['1'] * 101)}]\n", "require_prs has 101 entries"),
        (f'sdk_repo = "{"a" * 1001}"\n', "sdk_repo is longer than 1000"),
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nests TOML too deep"),
    ],
)
def test_config_values_out_of_bounds_are_bad_input(text: str, says: str, tmp_path: Path) -> None:
    (tmp_path / "pinbot.toml").write_text(text)

    code, _, err = pinbot("check", CAPABLE, "--image", "ghcr.io/cutworld/agent-server")

    assert code == 2
    assert says in err


def symlinked_out_of_the_tree(work: Path) -> None:
    (work / PIN_FILE).unlink()
    (work / PIN_FILE).symlink_to("/etc/hostname")


def submodule(work: Path) -> None:
    """The pin file's path made a repository of its own: `git add` records it as a gitlink."""
    inner = work / PIN_FILE
    inner.unlink()
    inner.mkdir()
    repos.git(inner, "init", "-q")
    repos.git(inner, "commit", "-q", "--allow-empty", "-m", "elsewhere")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (symlinked, "is a symbolic link"),  # GitHub answers with the file it points at
        (symlinked_out_of_the_tree, "is a symbolic link"),  # GitHub answers `type: symlink`
        (submodule, "is a submodule, not a file"),  # GitHub answers `type: submodule`
    ],
)
def test_the_gate_through_github_refuses_a_pin_site_that_is_no_regular_file(
    change: Any, says: str, images: Images, tmp_path: Path, github: FakeGitHub
) -> None:
    world = cut_remotes(tmp_path / "remotes")
    commit = branch_with(world, tmp_path, "hostile", change)
    text = repos.deploy_workflow(commit)
    repos.add_commit(world.deploy.remote, "hostile", {repos.WORKFLOW: text}, "Deploy",
                     start=world.deploy.main)  # fmt: skip
    github.remotes.update({"acme/OpenHands": world.openhands.remote,
                           "acme/deploy": world.deploy.remote})  # fmt: skip

    code, out, err = run([
        "gate", "--deploy", "https://github.com/acme/deploy@hostile",
        "--openhands", "github.com/acme/OpenHands", "--image", "ghcr.io/cutworld/agent-server",
        "--registry-url", images.registry, "--sdk", str(images.world.sdk),
    ])  # fmt: skip

    assert code == 1, out + err  # the gate blocks, as it does on a clone: the file is named
    assert f"{PIN_FILE} at {commit[:12]} in github.com/acme/OpenHands {says}" in out + err
    contents = [path for _, path in github.calls if "/contents/" in path]
    assert any(path.endswith(PIN_FILE) for path in contents)  # it was read through the API
