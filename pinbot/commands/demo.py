"""`pinbot demo`: the whole pipeline on a local world, no network, no tokens.

The world is built in a work directory that is kept, so the user can look at what happened:
a registry (the real Distribution registry when installed, else an OCI image layout), an SDK
history, and the repositories and probe target of the later stages.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pinbot import cli
from pinbot.commands import Context
from pinbot.commands.scan import why_json
from pinbot.errors import ExternalError, NegativeVerdict
from pinbot.report import Output
from pinbot.world.agent_server import Build, publish
from pinbot.world.registry import LayoutWriter, RegistryWriter, Writer

REPOSITORY = "openhands/agent-server"
PIN = "1.26.0-python"


def demo_builds() -> list[Build]:
    """Oldest first: the routes arrive in 1.29.0, are lost again in 1.31.0 (as upstream did)."""
    return [
        *[Build(version=f"1.{minor}.{patch}") for minor in range(24, 29) for patch in range(2)],
        Build(version="1.29.0", routes=True),
        Build(version="1.30.0", routes=True, platforms=("linux/amd64",)),
        *[Build() for _ in range(6)],
        Build(version="1.31.0"),
    ]


def run(ctx: Context, args: argparse.Namespace) -> int:
    started = time.monotonic()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="pinbot-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    out = ctx.out
    out.progress(f"building a local world in {workdir}")
    with _registry(workdir) as (writer, image):
        world = publish(writer, workdir / "software-agent-sdk", demo_builds())
        out.progress(f"published {len(world.tags)} tags of {image}")
        out.progress("step 1/1 scan: which newest tag carries the blob routes?")
        scan = _invoke(out, ["scan", "--image", image, "--sdk", str(world.sdk), "--current", PIN])
        for candidate in scan["candidates"]:
            why = why_json(candidate["evidence"])
            out.progress(f"  {candidate['tag']:<15} {candidate['verdict']:<5} {why}")
        tag = scan["selected"]["tag"]
    out.progress(f"demo finished in {time.monotonic() - started:.1f}s")
    out.result(
        {"workdir": str(workdir), "selected": scan["selected"]},
        f"pinbot demo: success: {tag} carries the blob routes.\nLook in {workdir}",
    )
    return 0


def _invoke(out: Output, argv: list[str]) -> dict[str, Any]:
    """Run a pinbot command in-process as a user would, and read its JSON answer."""
    out.progress("$ pinbot " + " ".join(argv))
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli.main(["--json", *argv])
    if code != 0:
        raise NegativeVerdict(f"demo step failed: pinbot {' '.join(argv)} exited {code}")
    answer: dict[str, Any] = json.loads(buffer.getvalue())
    return answer


@contextmanager
def _registry(workdir: Path) -> Iterator[tuple[Writer, str]]:
    """A real registry on a free loopback port when installed, else an OCI image layout."""
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary is None:
        layout = workdir / "agent-server.oci"
        yield LayoutWriter(layout), f"oci:{layout}"
        return
    port = _free_port()
    config = workdir / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {workdir / 'registry'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    with (workdir / "registry.log").open("w") as log:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        _wait_for(f"http://127.0.0.1:{port}/v2/", proc)
        yield RegistryWriter(f"127.0.0.1:{port}", REPOSITORY), f"127.0.0.1:{port}/{REPOSITORY}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, proc: subprocess.Popen[bytes]) -> None:
    import requests

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise ExternalError(f"the demo registry did not start (see {url} and registry.log)")
