"""Images in a real registry: the scan tests' worlds, published once per session, and the
builds behind them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pinbot.demo.builds import Build, World, noise, publish, releases
from pinbot.demo.registry import RegistryWriter
from testing.builds import FaultyBuild


@dataclass
class Images:
    """Builds published to the real registry at `registry` (HOST:PORT), as `repository`."""

    registry: str
    repository: str
    world: World

    @property
    def image(self) -> str:
        return f"{self.registry}/{self.repository}"


def ghcr_like_builds() -> list[Build]:
    """Oldest first. The newest releases show each way a tag can fail; 1.41.0 is the answer."""
    return [
        *releases(range(20, 26)),
        Build(routes=True),  # a stale sha build with the routes, older than the pin
        *noise(40),
        Build(version="1.26.0"),
        *releases(range(27, 41)),
        *noise(40),
        Build(version="1.41.0", routes=True),
        Build(version="1.42.0", routes=True, platforms=("linux/amd64",)),
        FaultyBuild(version="1.43.0", routes=True, record_sha=False),
        Build(version="1.44.0"),  # upstream removed the routes again
    ]


def today_builds() -> list[Build]:
    """Today's reality: no release carries the routes; one main build after the pin does."""
    return [
        *releases(range(20, 26)),
        Build(routes=True),  # stale: before the pin
        Build(version="1.26.0"),
        *releases(range(27, 33)),
        *noise(20),
        Build(routes=True),  # fresh: after the pin
        *noise(5),
        *releases(range(33, 36)),
    ]


def publish_to(registry: str, repository: str, builds: list[Build], root: Path) -> Images:
    """`builds` published to `registry` as `repository`, their SDK history under `root`."""
    sdk = root / repository.replace("/", "_")
    return Images(registry, repository, publish(RegistryWriter(registry, repository), sdk, builds))
