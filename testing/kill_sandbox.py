"""A recycle command for a process sandbox: stop its agent server (and its ACP agents).

    python testing/kill_sandbox.py SANDBOX_DIR [--wipe RELATIVE_PATH]

The released app server has no way to restart a process sandbox on its own directory (pause is
SIGSTOP, delete removes the directory). This ends every process working inside SANDBOX_DIR (the
agent server runs there, its ACP agents in the workspace below it) and leaves the directory;
`pinbot probe --recycle command` then starts the conversation again in a sandbox on the same
directory. `--wipe` also removes a path below SANDBOX_DIR (an agent's session store), which is
what losing the sandbox's storage looks like.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path


def working_in(directory: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == directory or directory in cwd.parents:
            found.append(int(entry.name))
    return found


def stop(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{p}/cwd").exists() for p in pids):
            time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("sandbox_dir", type=Path)
    parser.add_argument("--wipe", metavar="RELATIVE_PATH")
    args = parser.parse_args()
    directory = args.sandbox_dir.resolve()
    pids = working_in(directory)
    if not pids:
        print(f"no process works in {directory}", file=sys.stderr)
        return 1
    stop(pids)
    if args.wipe:
        shutil.rmtree(directory / args.wipe)
    return 0


if __name__ == "__main__":
    sys.exit(main())
