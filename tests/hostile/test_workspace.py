"""The checked-out repository and the configuration are data: the action's steps, run as a runner
runs them (testing.actionrunner), in a workspace whose committed files include symlinks where the
cache-key step writes; and the real `pinbot cut` with a `git_author` (config or
PINBOT_GIT_AUTHOR) carrying a newline, a forged trailer, escapes or a second address. Nothing is
written through a symlink; a bad author is exit 2 naming the key, before anything is pushed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo.repos import Remotes
from testing.actionrunner import Runner, load
from testing.cutworld import cut_json, cut_remotes

AREA = "workspace and config"
ATTACK = (
    "symlinks committed in the workspace where the action's cache-key step writes (to a file "
    "outside, dangling, to a directory); a `git_author` with a newline, a forged trailer, "
    "escapes, a second address, in pinbot.toml or PINBOT_GIT_AUTHOR"
)
ANSWER = (
    "the cache key goes into a directory mktemp makes anew, nothing is written through a "
    "symlink; a bad author is refused naming the key, before anything is pushed"
)
EXIT = "0 (the action), 2 (the author)"

SHA = "0123456789abcdef0123456789abcdef01234567"
JOB = f"""\
jobs:
  j:
    steps:
      - uses: OWNER/pinbot@{SHA}
        with:
          command: scan
          args: --help
"""
PLANTED = ".pinbot-action-cache-key"


def run_action(tmp_path: Path, plant: Any) -> tuple[Runner, Path]:
    """The action in a workspace where `plant(workspace, victim)` committed its symlinks."""
    runner = Runner(tmp_path / "runner", [Path(sys.executable).parent], {}, install=False)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "file").write_text("untouched\n")
    plant(runner.workspace, victim)
    (step,) = runner.run_job(load(JOB), "j", {})
    assert step.code == 0, step.stderr
    return runner, victim


@pytest.mark.parametrize(
    "plant",
    [
        lambda ws, victim: (ws / PLANTED).symlink_to(victim / "file"),
        lambda ws, victim: (ws / PLANTED).symlink_to(victim / "created"),
        lambda ws, victim: (ws / PLANTED).symlink_to(victim),
        lambda ws, victim: (ws / f"{PLANTED}.AAAAAAAAAA").symlink_to(victim),
    ],
    ids=["to-a-file", "dangling", "to-a-directory", "mktemp-lookalike"],
)
def test_the_cache_key_step_never_writes_through_a_committed_symlink(
    tmp_path: Path, plant: Any
) -> None:
    runner, victim = run_action(tmp_path, plant)

    key = next(r for r in runner.runs if r.name.endswith("Key pip's cache on the pinbot being "
                                                        "installed"))  # fmt: skip
    written = runner.workspace / key.outputs["file"]
    assert written.is_file() and not written.is_symlink()
    assert not written.parent.is_symlink() and written.parent.parent == runner.workspace
    assert "[project]" in written.read_text()
    assert sorted(p.name for p in victim.iterdir()) == ["file"]
    assert (victim / "file").read_text() == "untouched\n"


@pytest.fixture
def world(tmp_path: Path) -> Remotes:
    return cut_remotes(tmp_path / "remotes")


AUTHORS = [
    "pinbot <bot@example.com>\nSigned-off-by: Mallory <m@example.com>",
    "pinbot\n <bot@example.com>",
    "pinbot <bot@example.com>\n",
    "pinbot <bot@example.com\nPinbot-Image: ghcr.io/x/y:1>",
    "pin\x1b[2Jbot <bot@example.com>",
    "pin\u2028bot <bot@example.com>",
    "pinbot <bot@example.com> <other@example.com>",
    "pinbot <b\x00t@example.com>",
]


@pytest.mark.parametrize("author", AUTHORS, ids=range(len(AUTHORS)))
def test_a_git_author_in_the_config_that_is_no_one_line_identity_is_exit_2(
    images: Any, world: Remotes, tmp_path: Path, author: str
) -> None:
    (tmp_path / "pinbot.toml").write_text(f"git_author = {json.dumps(author)}\n")  # TOML too
    refs = world.refs()

    code, _, err = cut_json(images, world, "--push")

    assert code == 2, err
    assert "pinbot.toml: git_author " in err, err
    assert "write 'Name <email@example.com>' on one line" in err or "holds NUL" in err
    assert world.refs() == refs


@pytest.mark.parametrize("author", AUTHORS[:5], ids=range(5))
def test_a_git_author_in_the_environment_that_is_no_one_line_identity_is_exit_2(
    images: Any, world: Remotes, author: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINBOT_GIT_AUTHOR", author)
    refs = world.refs()

    code, _, err = cut_json(images, world, "--push")

    assert code == 2, err
    assert "PINBOT_GIT_AUTHOR" in err or "git author" in err
    assert world.refs() == refs
