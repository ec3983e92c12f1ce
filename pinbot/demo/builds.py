"""An agent-server repository shaped like ghcr's, over an SDK history that matches it.

Builds are listed oldest first. Each gets one SDK commit (with the route file when the build
has the routes) and one image whose config names that commit, then the tags upstream would give
it: releases in every variant, short and full sha tags, per-arch tags, and floating tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pinbot.demo.registry import ImageSpec, Writer
from pinbot.demo.sdk import build_sdk

VARIANTS = ("python", "java", "golang")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Build:
    version: str | None = None  # a release version; None for a main-branch sha build
    routes: bool = False
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")
    provenance: str = "match"  # its attestation names the build commit (match) or another
    slsa: str = "v0.2"  # the provenance predicate version (v0.2 or v1)

    def spec(self, sha: str, number: int, arch_tags: bool) -> ImageSpec:
        """The image of this build, the `number`th, from SDK commit `sha`."""
        return ImageSpec(
            tags=_tags(self, sha),
            build_sha=sha,
            build_ref=f"refs/tags/v{self.version}" if self.version else "refs/heads/main",
            created=(EPOCH + timedelta(hours=number)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            platforms=self.platforms,
            arch_tags=arch_tags,
            provenance=self.provenance,
            slsa=self.slsa,
        )


def releases(minors: range, patches: int = 3, **kwargs: Any) -> list[Build]:
    """1.M.0 … 1.M.(patches-1) for each minor M, oldest first (kwargs: as Build takes them)."""
    return [Build(version=f"1.{m}.{p}", **kwargs) for m in minors for p in range(patches)]


def noise(count: int) -> list[Build]:
    """Main-branch builds without the routes: the bulk of ghcr's tag list."""
    return [Build() for _ in range(count)]


@dataclass
class World:
    sdk: Path
    digests: dict[str, str] = field(default_factory=dict)  # tag -> index digest
    tags: list[str] = field(default_factory=list)  # every tag published, per-arch ones too
    shas: dict[str, str] = field(default_factory=dict)  # tag -> build sha (SDK commit)


def publish(
    writer: Writer, sdk_dir: Path, builds: Sequence[Build], arch_tags: bool = True
) -> World:
    shas = build_sdk(sdk_dir, [b.routes for b in builds])
    world = World(sdk=sdk_dir)
    specs = [
        build.spec(sha, number, arch_tags)
        for number, (build, sha) in enumerate(zip(builds, shas, strict=True))
    ]
    # Images are independent: publish them side by side (a registry write is mostly waiting).
    with ThreadPoolExecutor(8) as pool:
        digests = list(pool.map(writer.publish, specs))
    for spec, digest, sha in zip(specs, digests, shas, strict=True):
        for tag in spec.tags:
            world.digests[tag] = digest
            world.shas[tag] = sha
            world.tags.extend(spec_tags(spec, tag))
    _float(writer, builds, world)
    writer.flush()
    return world


def spec_tags(spec: ImageSpec, tag: str) -> list[str]:
    arches = [p.split("/")[1] for p in spec.platforms] if spec.arch_tags else []
    return [tag, *(f"{tag}-{arch}" for arch in arches)]


def _tags(build: Build, sha: str) -> list[str]:
    if build.version is None:
        return [f"{sha[:7]}-python", f"{sha}-python"]
    return [f"{build.version}-{variant}" for variant in VARIANTS]


def _float(writer: Writer, builds: Sequence[Build], world: World) -> None:
    """X.Y-python, X-python and latest-python follow the newest release; main-python the newest
    build. They are re-tags of existing indexes: one manifest PUT each."""
    from packaging.version import Version

    newest: dict[str, str] = {}
    for build in builds:
        if build.version is None:
            continue
        version = Version(build.version)
        for key in (f"{version.major}.{version.minor}", f"{version.major}", "latest"):
            if key not in newest or Version(newest[key]) < version:
                newest[key] = build.version
    floating = {f"{key}-python": f"{version}-python" for key, version in newest.items()}
    mains = [b for b in builds if b.version is None]
    if mains:
        last = [t for t in world.digests if len(t) == 47 and t.endswith("-python")]
        if last:
            floating["main-python"] = last[-1]
    for tag, target in floating.items():
        _retag(writer, world, tag, target)


def _retag(writer: Writer, world: World, tag: str, target: str) -> None:
    writer.put_manifest(
        tag, writer.indexes[world.digests[target]], "application/vnd.oci.image.index.v1+json"
    )
    world.digests[tag] = world.digests[target]
    world.tags.append(tag)
    world.shas[tag] = world.shas[target]
