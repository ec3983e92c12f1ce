"""One runner (`run`) with one environment (`environment`) for every git pinbot starts: git never
prompts (pinbot runs unattended), never follows a caller's GIT_DIR/GIT_WORK_TREE/GIT_INDEX_FILE,
takes no optional locks, speaks English (pushes are told apart by what git says) and is bounded in
time; a git that is missing or hangs is an ExternalError, never a made-up exit status.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pinbot.errors import ExternalError
from pinbot.git.credentials import Credential, give
from pinbot.report import strip_credentials

TIMEOUT = 300.0
_OWN_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")


def environment(credential: Credential | None = None) -> dict[str, str]:
    """The environment every git pinbot starts runs with (see the module's docstring)."""
    env = dict(
        os.environ,
        GIT_OPTIONAL_LOCKS="0",
        GIT_TERMINAL_PROMPT="0",
        GIT_SSH_COMMAND=os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
        LC_ALL="C",
        LANGUAGE="C",
    )
    for name in _OWN_ENV:
        env.pop(name, None)
    if credential is not None:
        give(env, credential)
    return env


def run(
    cwd: Path,
    args: Sequence[str],
    stdin: bytes = b"",
    credential: Credential | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """`git -C cwd ARGS`. subprocess.run kills git when pinbot is interrupted or git times out,
    so no push carries on behind pinbot's back. `credential` is offered to its origin only."""
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args],
            input=stdin,
            capture_output=True,
            env=environment(credential),
            timeout=TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ExternalError("git is not installed: install git") from None
    except subprocess.TimeoutExpired:
        raise ExternalError(f"git {args[0]} in {cwd} took over {TIMEOUT:.0f}s") from None


def run_text(cwd: Path, *args: str, credential: Credential | None = None) -> tuple[int, str, str]:
    """`run`, decoded: (status, stdout, stderr) without their trailing newlines."""
    done = run(cwd, args, credential=credential)
    return (
        done.returncode,
        done.stdout.decode("utf-8", "replace").rstrip("\n"),
        done.stderr.decode("utf-8", "replace").rstrip("\n"),
    )


def last_line(text: str | bytes) -> str:
    """The last thing git said, without "fatal: " and without credentials it may echo."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return strip_credentials(lines[-1].removeprefix("fatal: ").strip()) if lines else "no message"
