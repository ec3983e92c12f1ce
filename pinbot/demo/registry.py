"""Publish synthetic agent-server images: multi-arch indexes whose configs carry a build sha.

The images are metadata only (one tiny shared layer): enough for everything pinbot reads from a
registry. Writers exist for a live registry (OCI distribution push API) and an OCI image layout.
Like buildx, each platform gets an attestation manifest (platform unknown/unknown) holding an
in-toto SLSA provenance statement (v0.2 or v1) that names the build commit; `ImageSpec.provenance`
makes it match the config or name another commit.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
IN_TOTO = "application/vnd.in-toto+json"
PROVENANCE_KINDS = ("match", "mismatch")
SDK_URL = "https://github.com/OpenHands/software-agent-sdk"
# An empty tar archive, gzip'd reproducibly: the smallest valid layer.
EMPTY_LAYER = gzip.compress(b"\0" * 1024, mtime=0)


@dataclass
class ImageSpec:
    """One build: the tags that name it, where it came from, what it runs on."""

    tags: list[str]
    build_sha: str | None
    created: str
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")
    build_ref: str | None = None
    arch_tags: bool = True
    provenance: str = "match"  # one of PROVENANCE_KINDS
    slsa: str = "v0.2"  # the provenance predicate version: v0.2 or v1
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def attested_sha(self) -> str:
        """The commit the provenance names: the build's, or (mismatch) another one."""
        sha = self.build_sha or "0" * 40
        if self.provenance == "mismatch":
            return hashlib.sha1(sha.encode()).hexdigest()
        return sha

    def statement(self, subject: str, platform: str) -> bytes | None:
        """The attestation's in-toto statement for one platform manifest (None: the image
        carries no attestation)."""
        return _canonical(provenance_statement(self, subject, platform))


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


class Writer(ABC):
    """Content-addressed writes; subclasses store blobs and name manifests."""

    def __init__(self) -> None:
        self.indexes: dict[str, bytes] = {}  # index digest -> bytes, for re-tagging

    @abstractmethod
    def put_blob(self, data: bytes) -> str:
        """Store a blob; returns its digest."""

    @abstractmethod
    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        """Store a manifest under a tag or its digest; returns its digest."""

    def flush(self) -> None:  # noqa: B027 - a registry has nothing to flush; a layout does
        """Make everything written visible (a layout writes its index.json here)."""

    def publish(self, spec: ImageSpec) -> str:
        """Push `spec` and tag it; returns the index digest."""
        entries: list[dict[str, Any]] = []
        arch_manifests: dict[str, bytes] = {}
        for platform in spec.platforms:
            os_name, arch = platform.split("/")[:2]
            manifest, entry = self._image(_config(spec, os_name, arch), os_name, arch)
            arch_manifests[arch] = manifest
            entries.append(entry)
        attestations = [self._attestation(spec, entry) for entry in entries]
        entries += [entry for entry in attestations if entry is not None]
        index = _canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        index_digest = self.put_manifest(_digest(index), index, OCI_INDEX)
        self.indexes[index_digest] = index
        for tag in spec.tags:
            self.put_manifest(tag, index, OCI_INDEX)
            if spec.arch_tags:
                for arch, manifest in arch_manifests.items():
                    self.put_manifest(f"{tag}-{arch}", manifest, OCI_MANIFEST)
        return index_digest

    def publish_manifest(self, spec: ImageSpec) -> str:
        """Push `spec`'s first platform as a plain image manifest (no index, no attestation)
        under its tags; returns the manifest's digest."""
        os_name, arch = spec.platforms[0].split("/")[:2]
        manifest, entry = self._image(_config(spec, os_name, arch), os_name, arch)
        for tag in spec.tags:
            self.put_manifest(tag, manifest, OCI_MANIFEST)
        return str(entry["digest"])

    def _image(
        self,
        config: dict[str, Any],
        os_name: str,
        arch: str,
        layers: list[dict[str, Any]] | None = None,
    ) -> tuple[bytes, dict[str, Any]]:
        """Store an image manifest for `config` (one empty layer unless `layers`); returns it
        and its index entry."""
        config_bytes = _canonical(config)
        if layers is None:
            layer = self.put_blob(EMPTY_LAYER)
            layers = [{"mediaType": OCI_LAYER, "digest": layer, "size": len(EMPTY_LAYER)}]
        manifest = _canonical(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": OCI_CONFIG,
                    "digest": self.put_blob(config_bytes),
                    "size": len(config_bytes),
                },
                "layers": layers,
            }
        )
        digest = self.put_manifest(_digest(manifest), manifest, OCI_MANIFEST)
        entry = {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": len(manifest),
            "platform": {"os": os_name, "architecture": arch},
        }
        return manifest, entry

    def _attestation(self, spec: ImageSpec, subject: dict[str, Any]) -> dict[str, Any] | None:
        """buildx's attestation manifest for one platform manifest: platform unknown/unknown,
        one in-toto layer holding the SLSA provenance statement."""
        platform = f"{subject['platform']['os']}/{subject['platform']['architecture']}"
        statement = spec.statement(subject["digest"], platform)
        if statement is None:
            return None
        predicate = SLSA_V1 if spec.slsa == "v1" else SLSA_V02
        layer = {
            "mediaType": IN_TOTO,
            "digest": self.put_blob(statement),
            "size": len(statement),
            "annotations": {"in-toto.io/predicate-type": predicate},
        }
        config = {"architecture": "unknown", "os": "unknown", "rootfs": {"type": "layers"}}
        _, entry = self._image(config, "unknown", "unknown", [layer])
        return {
            **entry,
            "annotations": {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": subject["digest"],
            },
        }


SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"


def provenance_statement(spec: ImageSpec, subject: str, platform: str) -> dict[str, Any]:
    """An in-toto statement shaped like BuildKit's for a build from a checkout (local context)
    with the build commit passed as a build argument and as buildx's `vcs:revision`."""
    sha = spec.attested_sha
    args = {"build-arg:OPENHANDS_BUILD_GIT_SHA": sha, "vcs:revision": sha, "vcs:source": SDK_URL}
    if spec.build_ref:
        args["build-arg:OPENHANDS_BUILD_GIT_REF"] = spec.build_ref
    request = {"frontend": "dockerfile.v0", "args": args, "locals": [{"name": "context"}]}
    vcs = {"revision": sha, "source": SDK_URL}
    base = {
        "uri": f"pkg:docker/python@3.12-slim?platform={platform.replace('/', '%2F')}",
        "digest": {"sha256": hashlib.sha256(platform.encode()).hexdigest()},
    }
    statement: dict[str, Any] = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "subject": [
            {
                "name": f"pkg:docker/openhands/agent-server@{spec.tags[0] if spec.tags else ''}",
                "digest": {"sha256": subject.partition(":")[2]},
            }
        ],
    }
    if spec.slsa == "v1":
        statement["predicateType"] = SLSA_V1
        statement["predicate"] = {
            "buildDefinition": {
                "buildType": "https://github.com/moby/buildkit/blob/master/docs/attestations/"
                "slsa-definitions.md",
                "externalParameters": {"configSource": {"path": "Dockerfile"}, "request": request},
                "internalParameters": {"builderPlatform": "linux/amd64"},
                "resolvedDependencies": [base],
            },
            "runDetails": {
                "builder": {"id": f"{SDK_URL}/actions/runs/1"},
                "metadata": {"invocationID": sha[:25], "buildkit_metadata": {"vcs": vcs}},
            },
        }
        return statement
    statement["predicateType"] = SLSA_V02
    statement["predicate"] = {
        "builder": {"id": f"{SDK_URL}/actions/runs/1"},
        "buildType": "https://mobyproject.org/buildkit@v1",
        "materials": [base],
        "invocation": {
            "configSource": {"entryPoint": "Dockerfile"},
            "parameters": request,
            "environment": {"platform": "linux/amd64"},
        },
        "metadata": {
            "buildInvocationID": sha[:25],
            "buildStartedOn": spec.created,
            "https://mobyproject.org/buildkit@v1#metadata": {"vcs": vcs},
        },
    }
    return statement


def _config(spec: ImageSpec, os_name: str, arch: str) -> dict[str, Any]:
    env = ["PATH=/usr/local/bin:/usr/bin:/bin"]
    if spec.build_sha:
        env.append(f"OPENHANDS_BUILD_GIT_SHA={spec.build_sha}")
    if spec.build_ref:
        env.append(f"OPENHANDS_BUILD_GIT_REF={spec.build_ref}")
    config: dict[str, Any] = {"Env": env, "Entrypoint": ["/usr/local/bin/openhands-agent-server"]}
    if spec.labels:
        config["Labels"] = spec.labels
    return {
        "architecture": arch,
        "os": os_name,
        "created": spec.created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [_digest(b"")]},
    }


class RegistryWriter(Writer):
    """Push through the OCI distribution API (monolithic uploads) to a loopback registry."""

    def __init__(self, address: str, repository: str) -> None:
        super().__init__()
        self.base = f"http://{address}/v2/{repository}"
        self._local = threading.local()
        self._known: set[str] = set()
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @property
    def session(self) -> requests.Session:
        """One keep-alive session per thread: publishing runs in a thread pool."""
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        session: requests.Session = self._local.session
        return session

    def put_blob(self, data: bytes) -> str:
        digest = _digest(data)
        self._once(digest, lambda: self._upload(digest, data))
        return digest

    def _once(self, digest: str, write: Callable[[], object]) -> None:
        """Shared content (the layer, the attestation manifest) is wanted by every thread at
        once: write it once, and make the others wait until it is committed, or the registry
        may not know it yet when they refer to it."""
        with self._guard:
            lock = self._locks.setdefault(digest, threading.Lock())
        with lock:
            if digest not in self._known:
                write()
                self._known.add(digest)

    def _upload(self, digest: str, data: bytes) -> None:
        start = self.session.post(f"{self.base}/blobs/uploads/", timeout=30)
        start.raise_for_status()
        location = start.headers["Location"]
        separator = "&" if "?" in location else "?"
        url = location if "://" in location else self.base.split("/v2/")[0] + location
        done = self.session.put(
            f"{url}{separator}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        done.raise_for_status()

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        digest = _digest(data)
        if reference == digest:
            self._once(digest, lambda: self._put_manifest(reference, data, media_type))
        else:
            self._put_manifest(reference, data, media_type)
        return digest

    def _put_manifest(self, reference: str, data: bytes, media_type: str) -> None:
        response = self.session.put(
            f"{self.base}/manifests/{reference}",
            data=data,
            headers={"Content-Type": media_type},
            timeout=30,
        )
        response.raise_for_status()


class LayoutWriter(Writer):
    """Write an OCI image layout (`oci:DIR`): blobs/sha256/*, index.json naming the tags."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self._index: dict[str, dict[str, Any]] = {}

    def put_blob(self, data: bytes) -> str:
        digest = _digest(data)
        (self.root / "blobs" / "sha256" / digest.partition(":")[2]).write_bytes(data)
        return digest

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        digest = self.put_blob(data)
        if not reference.startswith("sha256:"):
            self._index[reference] = {
                "mediaType": media_type,
                "digest": digest,
                "size": len(data),
                "annotations": {"org.opencontainers.image.ref.name": reference},
            }
        return digest

    def flush(self) -> None:
        manifests = list(self._index.values())
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        (self.root / "index.json").write_text(json.dumps(index, indent=1))
