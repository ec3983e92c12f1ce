"""A software-agent-sdk history in which the blob-route file comes and goes, like upstream's."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pinbot.config import ROUTE_FILE
from pinbot.demo.repos import identity

FIXED_ENV = identity(("sdk dev", "sdk@example.invalid"))
ROUTER = b"from fastapi import APIRouter\n\nrouter = APIRouter(prefix='/acp_session_blob')\n"


def build_sdk(path: Path, has_routes: Sequence[bool]) -> list[str]:
    """A repo at `path` with one commit per entry; the route file exists where the entry is True.

    Returns the commit shas in order. Uses one `git fast-import`, so thousands of commits are cheap.
    """
    env = {**os.environ, **FIXED_ENV}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    stream = bytearray()
    for number, present in enumerate(has_routes):
        when = 1_700_000_000 + number * 3600
        message = f"sdk change {number}\n".encode()
        stream += b"commit refs/heads/main\n"
        stream += f"mark :{number + 1}\n".encode()
        stream += f"committer sdk dev <sdk@example.invalid> {when} +0000\n".encode()
        stream += f"data {len(message)}\n".encode() + message
        if number:
            stream += f"from :{number}\n".encode()
        version = f"{number}\n".encode()
        stream += f"M 100644 inline VERSION\ndata {len(version)}\n".encode() + version
        if present:
            stream += f"M 100644 inline {ROUTE_FILE}\ndata {len(ROUTER)}\n".encode() + ROUTER
        elif number:
            stream += f"D {ROUTE_FILE}\n".encode()
        stream += b"\n"
    subprocess.run(
        ["git", "fast-import", "--quiet", "--export-marks=marks"],
        cwd=path,
        input=bytes(stream),
        check=True,
        env=env,
    )
    marks = dict(line.split() for line in (path / "marks").read_text().splitlines())
    (path / "marks").unlink()
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=path, check=True, env=env)
    return [marks[f":{n + 1}"] for n in range(len(has_routes))]
