"""Run the git command line: the one way pinbot starts git, for gitops and the SDK lookups.

Kept apart from gitops so that scans, which only ask git about the SDK, never import GitPython.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pinbot.errors import ExternalError

TIMEOUT = 300.0


def run_git(
    cwd: Path, args: Sequence[str], stdin: bytes = b"", timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    """`git -C cwd ARGS`; never prompts (pinbot runs unattended), never follows a caller's
    GIT_DIR/GIT_WORK_TREE/GIT_INDEX_FILE, takes no optional locks, and is bounded in time."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args],
            input=stdin,
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise ExternalError("git is not installed: install git") from None
    except subprocess.TimeoutExpired:
        raise ExternalError(f"git {args[0]} in {cwd} took over {timeout:.0f}s") from None
