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
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pinbot
from pinbot import cli
from pinbot.commands import Context
from pinbot.commands.scan import why_json
from pinbot.demo import package_index, repos
from pinbot.demo.builds import Build, publish
from pinbot.demo.registry import LayoutWriter, RegistryWriter, Writer
from pinbot.demo.services import registry_binary, registry_server
from pinbot.errors import ExternalError, NegativeVerdict
from pinbot.report import Output

IMAGE = "ghcr.io/openhands/agent-server"  # the name written into files; traffic goes local
REPOSITORY = "openhands/agent-server"
PIN = repos.PIN


ROLLED_BACK = "1.29.1-python"  # pinned once on the branch, then reverted by a human


def demo_builds() -> list[Build]:
    """Oldest first: the routes arrive in 1.29.0, are lost again in 1.31.0 (as upstream did).
    1.29.1 was rolled back on the branch; 1.29.2's attestation names another commit."""
    return [
        *[Build(version=f"1.{minor}.{patch}") for minor in range(24, 29) for patch in range(2)],
        Build(version="1.29.0", routes=True),
        Build(version="1.29.1", routes=True, slsa="v1"),
        Build(version="1.29.2", routes=True, provenance="mismatch"),
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
    # The world's verdicts belong to the world: never read or fill the user's own cache.
    builds = demo_builds()
    with (
        _own_cache(workdir / "cache"),
        _registry(workdir) as (writer, endpoint),
        package_index.serve(workdir / "package-index") as index,
    ):
        world = publish(writer, workdir / "software-agent-sdk", builds)
        # The OpenHands packages of every release, as PyPI has them: cut pins them too.
        index.publish(b.version for b in builds if b.version)
        version = PIN.removesuffix("-python")
        files = {"pyproject.toml": package_index.openhands_pyproject(version)}
        openhands = repos.openhands_repo(workdir / "remotes", tag=PIN, files=files)
        deploy = repos.deploy_repo(workdir / "remotes", openhands.main)
        repos.rolled_back_pin(openhands.remote, openhands.branch, IMAGE, PIN, ROLLED_BACK,
                              world.digests[ROLLED_BACK])  # fmt: skip
        out.progress(f"published {len(world.tags)} tags; OpenHands and deploy remotes in {workdir}")
        image = ["--image", IMAGE, "--sdk", str(world.sdk), *endpoint]
        image += ["--detectors", "source,provenance"]
        require = ["--require-commit", openhands.backend_commit]
        branch = ["--openhands", openhands.url, "--openhands-branch", openhands.branch]

        out.progress(
            "step 1/4 scan: which newest tag carries the blob routes, is attested to its "
            "source, and was not rolled back?"
        )
        scan = _invoke(out, ["scan", *image, "--current", PIN, *branch])
        for candidate in scan["candidates"]:
            why = why_json(candidate["evidence"])
            out.progress(f"  {candidate['tag']:<15} {candidate['verdict']:<5} {why[:150]}")
        tag = scan["selected"]["tag"]

        out.progress(f"step 2/4 cut: pin {tag} on {openhands.branch}, point the deploy at it")
        cut = _invoke(out, ["cut", "--tag", tag, "--openhands", openhands.url,
                            "--openhands-branch", openhands.branch, "--deploy", deploy.url,
                            "--index-url", index.url, "--push", *require, *image])  # fmt: skip
        for change in cut["changes"]:
            out.progress(f"  {change['repo']}: {change['file']}:{change['line']}: {change['new']}")

        out.progress(
            "step 3/4 gate: what would the deploy branch run, and is it the pin we proved?"
        )
        gate = _invoke(out, ["gate", "--deploy", f"{deploy.url}@{cut['deploy']['branch']}",
                             "--openhands", openhands.url, *require, *image])  # fmt: skip
        for check in gate["checks"]:
            out.progress(f"  {'ok ' if check['ok'] else 'NO '} {check['name']}: {check['detail']}")

        out.progress(
            "step 4/4 probe: does a recycled Claude and Codex conversation resume natively?"
        )
        report = workdir / "probe-report.json"
        server = _server_command(scan["candidates"], tag)
        probe = _invoke(out, ["probe", "--target", "agent-server", "--server-command", server,
                              "--agents", "claude-code,codex", "--timeout", "60",
                              "--report", str(report)])  # fmt: skip
        for agent in probe["agents"]:
            out.progress(f"  {agent['agent']:<12} {agent['verdict']}")
    summary = {
        "workdir": str(workdir),
        "selected": scan["selected"],
        "openhands_commit": cut["openhands"]["commit"],
        "deploy_branch": cut["deploy"]["branch"],
        "gate": gate["verdict"],
        "probe": probe["verdict"],
        "probe_report": str(report),
    }
    remotes = workdir / "remotes"
    text = f"""\
pinbot demo: success in {time.monotonic() - started:.0f}s
  scan   {tag} is the newest tag carrying the blob routes ({scan["selected"]["digest"][:19]})
  cut    OpenHands {openhands.branch} @ {cut["openhands"]["commit"][:12]} pins it at every site;
         deploy branch {cut["deploy"]["branch"]} sets OPENHANDS_SHA to that commit
  gate   {gate["verdict"]}: {len(gate["checks"])} checks
  probe  {probe["verdict"]}: claude-code and codex kept their ACP session across a recycle
Where to look:
  git -C {remotes / "openhands.git"} show {cut["openhands"]["commit"][:12]}
  git -C {remotes / "deploy.git"} diff main {cut["deploy"]["branch"]}
  {report}"""
    out.result(summary, text)
    return 0


def _server_command(candidates: list[dict[str, Any]], tag: str) -> str:
    """The stand-in agent server, reporting the build sha of the image we pinned."""
    build_sha = next(c["build_sha"] for c in candidates if c["tag"] == tag)
    python = shlex.quote(sys.executable)
    # The server runs in its own directory: point it at this pinbot, however it was found.
    home = shlex.quote(str(Path(pinbot.__file__).resolve().parents[1]))
    return (
        f"env PYTHONPATH={home} HARNESS_BUILD_SHA={build_sha} {python} "
        "-m pinbot.demo.agent_server --port {port} --workdir {workdir}"
    )


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
def _own_cache(directory: Path) -> Iterator[None]:
    saved = os.environ.get("PINBOT_CACHE_DIR")
    os.environ["PINBOT_CACHE_DIR"] = str(directory)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PINBOT_CACHE_DIR", None)
        else:
            os.environ["PINBOT_CACHE_DIR"] = saved


@contextmanager
def _registry(workdir: Path) -> Iterator[tuple[Writer, list[str]]]:
    """A real registry on a free loopback port when installed, else an OCI image layout.

    Yields the writer and the flags that send the image's registry traffic there."""
    if registry_binary() is None:
        layout = workdir / "agent-server.oci"
        yield LayoutWriter(layout), ["--registry-url", f"oci:{layout}"]
        return
    try:
        with registry_server(workdir / "registry") as address:
            yield RegistryWriter(address, REPOSITORY), ["--registry-url", address]
    except RuntimeError as exc:
        raise ExternalError(
            f"the demo registry did not start ({exc}); see {workdir}/registry"
        ) from None
