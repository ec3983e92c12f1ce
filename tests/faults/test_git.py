"""Git faults during `pinbot cut --push`: real bare remotes behind file:// URLs.

Hooks in the bare remotes refuse or kill a push; a `git` wrapper first on PATH lets a colleague
push to the OpenHands branch right before pinbot's own push of its head branch (a real race, no
patching); a human
commit sits on pinbot's deploy branch. After each, the fault is removed and the cut re-run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from testing import cutting
from testing.cutworld import head_branch
from testing.matrix import Fault, Row, check
from testing.worlds import Images

AREA = "git"
REJECT = "#!/bin/sh\necho 'pushes are frozen for the release' >&2\nexit 1\n"
HANG_UP = "#!/bin/sh\nkill -9 $PPID\n"  # the receiving end dies: the connection drops mid-push
COLLEAGUE = """\
import sys
from pathlib import Path
from pinbot.demo.repos import add_commit
remote, branch, number = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
print(add_commit(remote, branch, {f"NOTES-{number}.md": "a colleague's fix\\n"}, "Fix docs"))
"""
GIT = """\
#!/bin/sh
# git, except that a push to $RACE_URL is preceded by a colleague's push ($RACE_TIMES times).
# (pinbot runs `git -C DIR push ...`: look for the subcommand among the arguments.)
case " $* " in *" push "*) pushing=1 ;; *) pushing= ;; esac
if [ -n "$pushing" ] && [ -z "$RACE_INSIDE" ]; then
  case "$*" in *"$RACE_URL"*)
    n=$(cat "$RACE_DIR/count" 2>/dev/null || echo 0)
    if [ "$n" -lt "$RACE_TIMES" ]; then
      echo $((n + 1)) > "$RACE_DIR/count"
      RACE_INSIDE=1 "$RACE_PYTHON" "$RACE_DIR/colleague.py" "$RACE_REMOTE" "$RACE_BRANCH" "$n" \
        >> "$RACE_DIR/humans"
    fi ;;
  esac
fi
exec "$REAL_GIT" "$@"
"""


def fault(name: str, code: int, says: str, outcome: str, **options: Any) -> Fault:
    return Fault(AREA, name, code, says, outcome, options)


FAULTS = [
    fault(
        "the OpenHands remote rejects the push (pre-receive hook)",
        3, "re-run once the remote accepts pushes",
        "stops before the deploy half, forces nothing; a re-run completes the cut",
        hook=("openhands", REJECT), before="untouched",
    ),
    fault(
        "the deploy remote rejects the push (pre-receive hook)",
        3, "re-run once the remote accepts pushes",
        "keeps the pushed OpenHands pin; a re-run only does the deploy half",
        hook=("deploy", REJECT), before="openhands",
    ),
    fault(
        "the connection drops mid-push (the receiving end dies)",
        3, "re-run",
        "stops with the remote's last words; a re-run completes the deploy half",
        hook=("deploy", HANG_UP), before="openhands",
    ),
    fault(
        "the OpenHands branch moves between fetch and push",
        0, "pushing",
        "pushes the pin to its own head branch, untouched by the move (its PR takes the pin "
        "over); one pin commit, the colleague's commit kept",
        race=1, before="completed",
    ),
    fault(
        "a human commit on pinbot's deploy branch",
        2, "delete the branch, or set [cut] own_head_branches",
        "leaves the branch alone and says how to resolve it",
        human_on_bot_branch="deploy", before="untouched-since",
    ),
    fault(
        "a human commit on pinbot's OpenHands head branch",
        2, "delete the branch, or set [cut] own_head_branches",
        "leaves the head branch and its PR alone and names the commit",
        human_on_bot_branch="openhands", before="untouched-since",
    ),
    fault(
        "the OpenHands remote no longer exists",
        3, "check the URL",
        "stops before changing anything; a re-run with the right URL completes",
        gone=True, before="untouched",
    ),
]  # fmt: skip


def install_hook(world: Remotes, which: str, script: str) -> Path:
    remote = world.openhands.remote if which == "openhands" else world.deploy.remote
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(script)
    hook.chmod(0o755)
    return hook


def race(world: Remotes, times: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A colleague pushes to the OpenHands branch before each of pinbot's pushes there."""
    real = shutil.which("git")
    assert real is not None
    directory = tmp_path / "race"
    (directory / "bin").mkdir(parents=True)
    (directory / "colleague.py").write_text(COLLEAGUE)
    wrapper = directory / "bin" / "git"
    wrapper.write_text(GIT)
    wrapper.chmod(0o755)
    values = {
        "REAL_GIT": real, "RACE_DIR": str(directory), "RACE_TIMES": str(times),
        "RACE_URL": world.openhands.url, "RACE_REMOTE": str(world.openhands.remote),
        "RACE_BRANCH": world.openhands.branch, "RACE_PYTHON": sys.executable,
    }  # fmt: skip
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", f"{directory / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return directory / "humans"


def bot_branch(world: Remotes, which: str) -> tuple[Path, str]:
    """pinbot's branch in the deploy repository, or the OpenHands branch's head branch."""
    if which == "deploy":
        return world.deploy.remote, cutting.DEPLOY_BRANCH
    return world.openhands.remote, head_branch(world.openhands.branch)


def humans_on_bot_branch(
    capsys: pytest.CaptureFixture[str], images: Images, world: Remotes, which: str
) -> str:
    """A finished cut, then a human commit on one of its pinbot/… branches (and, for the deploy
    branch, a new OpenHands commit, so that the deploy has something to do)."""
    assert cutting.cut(capsys, cutting.argv(images, world)).code == 0
    remote, branch = bot_branch(world, which)
    human = repos.add_commit(remote, branch, {"deploy.sh": "#!/bin/sh\nexit 1\n"}, "Tweak it")
    if which == "deploy":
        repos.add_commit(world.openhands.remote, world.openhands.branch, {"N.md": "x\n"}, "Notes")
    return human


def left_alone(row: Row, world: Remotes, refs: tuple[str, str], human: str, which: str) -> None:
    """A refusal: every ref as it was, the human's commit still on the branch."""
    remote, branch = bot_branch(world, which)
    kept = human in repos.git(remote, "log", "--format=%H", branch)
    row.state = "refs unchanged, the human commit kept" if world.refs() == refs else "refs changed"
    row.data_lost = world.refs() != refs or not kept


def rerun(
    row: Row, capsys: pytest.CaptureFixture[str], images: Images, world: Remotes,
    before: cutting.State, humans: list[str],
) -> int:  # fmt: skip
    """The fault gone, the same cut again: it must complete, consistently."""
    code = cutting.cut(capsys, cutting.argv(images, world)).code
    after = cutting.state(world, humans)
    row.state = f"{before.describe()}; a re-run: {after.describe()}"
    row.data_lost = bool(before.problems or after.problems) or not after.completed
    return code


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_git_fault(
    fault: Fault, row: Row, capsys, images, world, tag: str, temp: Path, tmp_path: Path, monkeypatch
) -> None:
    options = fault.options
    args = cutting.argv(images, world)
    humans_file = race(world, options["race"], tmp_path, monkeypatch) if "race" in options else None
    hook = install_hook(world, *options["hook"]) if "hook" in options else None
    if options.get("gone"):
        args = cutting.argv(images, world, openhands=(tmp_path / "gone.git").as_uri())
    human = (
        humans_on_bot_branch(capsys, images, world, options["human_on_bot_branch"])
        if options.get("human_on_bot_branch")
        else ""
    )
    refs = world.refs()

    run = cutting.cut(capsys, args)

    humans = humans_file.read_text().split() if humans_file else []
    before = cutting.state(world, humans)
    monkeypatch.setenv("RACE_TIMES", "0")  # the fault goes away
    if hook is not None:
        hook.unlink()
    again = 0 if human else rerun(row, capsys, images, world, before, humans)
    if human:
        left_alone(row, world, refs, human, options["human_on_bot_branch"])
    check(fault, row, run, tag, temp)
    assert again == 0
    pins = {"untouched": 0, "openhands": 1, "completed": 1}
    if options["before"] in pins:
        assert len(before.pins) == pins[options["before"]] and not before.problems
        assert (before.deployed is not None) == (options["before"] == "completed")
    if options.get("race"):
        assert len(humans) == options["race"]
    assert not row.data_lost, row.state
