"""The world `pinbot demo` builds in its work directory: images in a registry (the real
Distribution registry when installed, else an OCI image layout), the SDK history behind them,
and the OpenHands and deploy repositories the later steps pin and gate."""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pinbot
from pinbot.config import Settings
from pinbot.demo import package_index, repos
from pinbot.demo.builds import Build, publish
from pinbot.demo.registry import LayoutWriter, RegistryWriter, Writer
from pinbot.demo.services import registry_binary, registry_server
from pinbot.errors import ExternalError

IMAGE = "ghcr.io/openhands/agent-server"  # the name written into files; traffic goes local
REPOSITORY = "openhands/agent-server"
PIN = repos.PIN
ROLLED_BACK = "1.29.1-python"  # pinned once on the branch, then reverted by a human


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
        *[Build(version=f"1.{minor}.{patch}") for minor in range(24, 29) for patch in range(2)],
        Build(version="1.29.0", routes=True),
        Build(version="1.29.1", routes=True, slsa="v1"),
        Build(version="1.29.2", routes=True, provenance="mismatch"),
        Build(version="1.30.0", routes=True, platforms=("linux/amd64",)),
        *[Build() for _ in range(6)],
        Build(version="1.31.0"),
    ]


@contextmanager
def built(workdir: Path) -> Iterator[DemoWorld]:
    """The world, with its registry running for as long as the context lasts."""
    builds = demo_builds()
    with (
        _registry(workdir) as (writer, endpoint),
        package_index.serve(workdir / "package-index") as index,
    ):
        published = publish(writer, workdir / "software-agent-sdk", builds)
        # The OpenHands packages of every release, as PyPI has them: cut pins them too.
        index.publish(b.version for b in builds if b.version)
        files = {"pyproject.toml": package_index.openhands_pyproject(PIN.removesuffix("-python"))}
        openhands = repos.openhands_repo(workdir / "remotes", tag=PIN, files=files)
        deploy = repos.deploy_repo(workdir / "remotes", openhands.main)
        if ROLLED_BACK in published.digests:  # a test's smaller world may not have it
            repos.rolled_back_pin(openhands.remote, openhands.branch, IMAGE, PIN, ROLLED_BACK,
                                  published.digests[ROLLED_BACK])  # fmt: skip
        shas, tags = dict(published.shas), len(published.tags)
        yield DemoWorld(workdir, published.sdk, endpoint, openhands, deploy, shas, tags, index.url)


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


def server_command(build_sha: str) -> str:
    """The stand-in agent server, reporting the build sha of the image that was pinned."""
    python = shlex.quote(sys.executable)
    # The server runs in its own directory: point it at this pinbot, however it was found.
    home = shlex.quote(str(Path(pinbot.__file__).resolve().parents[1]))
    return (
        f"env PYTHONPATH={home} HARNESS_BUILD_SHA={build_sha} {python} "
        "-m pinbot.demo.agent_server --port {port} --workdir {workdir}"
    )
