"""The world `pinbot demo` builds in its work directory: images in a registry (the real
Distribution registry when installed, else an OCI image layout), the SDK history behind them,
and the OpenHands and deploy repositories the later steps pin and gate.

A directory the demo made carries a marker file; a world built to the end carries its record
(`world.json`). A second demo in the same directory reuses a recorded world (its registry and
package index serve the same storage again) and the pipeline does only what is left; a world
whose build was interrupted has no record and is built again from nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pinbot.config import Settings
from pinbot.demo import agent_server, package_index, repos
from pinbot.demo.builds import Build, noise, publish, releases
from pinbot.demo.registry import LayoutWriter, RegistryWriter, Writer
from pinbot.demo.services import registry_binary, registry_server
from pinbot.errors import ExternalError, UsageError

IMAGE = repos.DEFAULT_IMAGE  # the name written into files; traffic goes local
REPOSITORY = "openhands/agent-server"
PIN = repos.PIN
ROLLED_BACK = "1.29.1-python"  # pinned once on the branch, then reverted by a human
MARKER = ".pinbot-demo"  # this directory is a demo's: the demo may empty it
RECORD = "world.json"  # the world was built to the end: what a re-run needs to reuse it


@dataclass(frozen=True)
class DemoWorld:
    workdir: Path
    sdk: Path
    endpoint: str  # --registry-url: where the image's registry traffic goes
    openhands: repos.OpenHandsRepo
    deploy: repos.DeployRepo
    shas: dict[str, str]  # tag -> build sha
    tags: int  # how many tags were published
    index_url: str  # the local package index that serves the OpenHands packages of each release

    @property
    def settings(self) -> Settings:
        """pinbot's settings for this world: its packages come from its own index."""
        settings = Settings()
        pin = dataclasses.replace(settings.pin, index_url=self.index_url)
        return settings.replace(pin=pin)


def demo_builds() -> list[Build]:
    """Oldest first: the routes arrive in 1.29.0, are lost again in 1.31.0 (as upstream did).
    1.29.1 was rolled back on the branch; 1.29.2's attestation names another commit."""
    return [
        *releases(range(24, 29), patches=2),
        Build(version="1.29.0", routes=True),
        Build(version="1.29.1", routes=True, slsa="v1"),
        Build(version="1.29.2", routes=True, provenance="mismatch"),
        Build(version="1.30.0", routes=True, platforms=("linux/amd64",)),
        *noise(6),
        Build(version="1.31.0"),
    ]


def claim(workdir: Path) -> None:
    """Make `workdir` the demo's: new or empty, or a demo's already (exit 2 otherwise)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not (workdir / MARKER).exists() and any(workdir.iterdir()):
        raise UsageError(
            f"--workdir {workdir}: the directory is not empty and no demo made it; "
            "name a new or empty directory"
        )
    (workdir / MARKER).write_text("pinbot demo world\n", encoding="utf-8")


def reused(workdir: Path) -> bool:
    """Whether the world in `workdir` was built to the end (by this kind of registry); a world
    that was not is removed, to be built again."""
    record = _record(workdir)
    if record is not None and record.get("registry") == _registry_kind():
        return True
    for child in workdir.iterdir():
        if child.name != MARKER:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    return False


@contextmanager
def built(workdir: Path, again: bool) -> Iterator[DemoWorld]:
    """The world (`again`: the recorded one), its registry running while the context lasts."""
    with (
        _registry(workdir) as (writer, endpoint),
        package_index.serve(workdir / "package-index") as index,
    ):
        facts = _record(workdir) if again else _build(workdir, writer, index)
        assert facts is not None  # reused() said so
        yield _world(workdir, facts, endpoint, index.url)


def _build(workdir: Path, writer: Writer, index: package_index.PackageIndex) -> dict[str, Any]:
    """Publish the images and packages, make the remotes; record what a re-run needs."""
    builds = demo_builds()
    published = publish(writer, workdir / "software-agent-sdk", builds)
    # The OpenHands packages of every release, as PyPI has them: cut pins them too.
    index.publish(b.version for b in builds if b.version)
    files = {"pyproject.toml": package_index.openhands_pyproject(PIN.removesuffix("-python"))}
    remotes = repos.make_remotes(workdir / "remotes", tag=PIN, files=files)
    openhands, deploy = remotes.openhands, remotes.deploy
    if ROLLED_BACK in published.digests:  # a test's smaller world may not have it
        repos.rolled_back_pin(openhands.remote, openhands.branch, IMAGE, PIN, ROLLED_BACK,
                              published.digests[ROLLED_BACK])  # fmt: skip
    facts = {
        "registry": _registry_kind(),
        "openhands": {k: getattr(openhands, k) for k in ("main", "branch", "backend_commit")},
        "deploy": {"main": deploy.main, "openhands_sha": deploy.openhands_sha},
        "shas": dict(published.shas),
        "tags": len(published.tags),
    }
    (workdir / RECORD).write_text(json.dumps(facts, indent=1), encoding="utf-8")
    return facts


def _world(workdir: Path, facts: dict[str, Any], endpoint: str, index_url: str) -> DemoWorld:
    remotes = workdir / "remotes"
    oh_remote, deploy_remote = remotes / "openhands.git", remotes / "deploy.git"
    oh = facts["openhands"]
    openhands = repos.OpenHandsRepo(oh_remote, oh_remote.as_uri(), oh["main"], oh["branch"],
                                    oh["backend_commit"], repos.DEFAULT_IMAGE, PIN)  # fmt: skip
    dep = facts["deploy"]
    deploy = repos.DeployRepo(deploy_remote, deploy_remote.as_uri(), dep["main"],
                              dep["openhands_sha"])  # fmt: skip
    sdk = workdir / "software-agent-sdk"
    return DemoWorld(workdir, sdk, endpoint, openhands, deploy, facts["shas"], facts["tags"],
                     index_url)  # fmt: skip


def _record(workdir: Path) -> dict[str, Any] | None:
    try:
        facts = json.loads((workdir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return facts if isinstance(facts, dict) else None


def _registry_kind() -> str:
    return "layout" if registry_binary() is None else "distribution"


@contextmanager
def _registry(workdir: Path) -> Iterator[tuple[Writer, str]]:
    """A real registry on a free loopback port when installed, else an OCI image layout."""
    if registry_binary() is None:
        layout = workdir / "agent-server.oci"
        yield LayoutWriter(layout), f"oci:{layout}"
        return
    try:
        with registry_server(workdir / "registry") as address:
            yield RegistryWriter(address, REPOSITORY), address
    except RuntimeError as exc:
        raise ExternalError(
            f"the demo registry did not start ({exc}); see {workdir}/registry"
        ) from None


@contextmanager
def own_cache(directory: Path) -> Iterator[None]:
    """The world's verdicts belong to the world: never read or fill the user's own cache."""
    saved = os.environ.get("PINBOT_CACHE_DIR")
    os.environ["PINBOT_CACHE_DIR"] = str(directory)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PINBOT_CACHE_DIR", None)
        else:
            os.environ["PINBOT_CACHE_DIR"] = saved


def server_command(build_sha: str, tag: str = "harness") -> str:
    """The demo's agent server as the image `tag` (1.29.0 for 1.29.0-python) built from
    `build_sha`: the pin today and the candidate are two versions of it."""
    return agent_server.command(tag.split("-")[0], build_sha)
