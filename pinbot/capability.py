"""Does the image at a digest carry the capability? Detectors, and the digest-keyed cache.

A verdict is always bound to a digest. Image content never changes for a digest, so a cached
pass or fail stays true forever; an `error` (a detector could not decide) is never cached.

Three detectors: `source` reads the build sha from the image config and asks whether the route
file is in the SDK tree at that sha (no pull); `openapi` runs the image and reads what its
server says it serves, in a container run through the Docker seam (`pinbot.docker`);
`provenance` (pinbot/provenance.py) checks that the build attestation names the same commit as
the config.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pinbot import docker
from pinbot.config import DETECTORS, Settings
from pinbot.errors import ExternalError, UsageError
from pinbot.model import SHA_RE, Evidence, ImageFacts as ImageFacts, Verdict
from pinbot.net import free_port

if TYPE_CHECKING:
    import requests

    from pinbot.registry.documents import Source


class Detector(Protocol):
    """One way of knowing. `check` returns evidence with result pass, fail or error."""

    name: str

    def check(self, facts: ImageFacts) -> Evidence: ...


def capability_key(settings: Settings) -> str:
    """Changes whenever what 'capable' means changes, so old verdicts stop matching."""
    spec = json.dumps(
        [settings.capability, sorted(settings.routes), settings.sdk_repo, settings.route_file]
    )
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


class VerdictCache:
    """Facts and per-detector evidence on disk, keyed by digest. `None` directory: disabled."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        # Entries read or written in this run: a scan asks for each several times (to predict
        # a verdict, then to confirm it), and a warm scan's round of HEADs waits on those reads.
        self._seen: dict[Path, dict[str, Any]] = {}

    def facts(self, digest: str) -> ImageFacts | None:
        data = self._read(self._path("facts", digest))
        return ImageFacts.from_json(data) if data else None

    def put_facts(self, facts: ImageFacts) -> None:
        self._write(self._path("facts", facts.digest), facts.to_json())

    def evidence(self, digest: str, key: str, detector: str) -> Evidence | None:
        data = self._read(self._path("verdicts", digest, f"{key}-{detector}"))
        return Evidence.from_json(data) if data else None

    def put_evidence(self, digest: str, key: str, evidence: Evidence) -> None:
        if evidence.result in ("pass", "fail"):
            path = self._path("verdicts", digest, f"{key}-{evidence.detector}")
            self._write(path, evidence.to_json())

    def _path(self, kind: str, digest: str, name: str = "") -> Path | None:
        if self.directory is None:
            return None
        hexpart = digest.partition(":")[2] or digest
        return self.directory / kind / (f"{hexpart}-{name}.json" if name else f"{hexpart}.json")

    def _read(self, path: Path | None) -> dict[str, Any] | None:
        if path is None:
            return None
        if path in self._seen:
            return self._seen[path]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or torn entry: recompute rather than trust it
        if not isinstance(data, dict):
            return None
        self._seen[path] = data
        return data

    def _write(self, path: Path | None, data: dict[str, Any]) -> None:
        if path is None:
            return
        self._seen[path] = data
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename, so a concurrent reader never sees half an entry.
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, path)
        except OSError:
            pass  # the cache is an optimisation; failing to write it must not fail the scan


def platform_evidence(facts: ImageFacts, required: Sequence[str]) -> Evidence:
    missing = [p for p in required if p not in facts.platforms]
    if missing:
        have = ", ".join(facts.platforms) or "none"
        return Evidence("platforms", "fail", f"missing {', '.join(missing)} (has {have})")
    return Evidence("platforms", "pass", ", ".join(required))


def judge(
    facts: ImageFacts,
    detectors: Sequence[Detector],
    cache: VerdictCache,
    key: str,
    required_platforms: Sequence[str],
) -> Verdict:
    """Platforms first, then each detector in order; the first that does not pass decides."""
    evidence = [platform_evidence(facts, required_platforms)]
    result, decider = evidence[0].result, "platforms"
    for detector in detectors:
        if result != "pass":
            evidence.append(Evidence(detector.name, "skip", f"not run: {decider} said {result}"))
            continue
        found = cache.evidence(facts.digest, key, detector.name)
        if found is None:
            found = detector.check(facts)
            cache.put_evidence(facts.digest, key, found)
        evidence.append(found)
        result, decider = found.result, detector.name
    return Verdict(facts.digest, key, result, tuple(evidence))


NO_BUILD_SHA = (
    "image config has no OPENHANDS_BUILD_GIT_SHA env and no org.opencontainers.image.revision label"
)


class SourceDetector:
    """Is the route file in the SDK tree at the image's build sha? Asked once per sha."""

    name = "source"

    def __init__(self, sdk: SdkTree, route_file: str) -> None:
        self.sdk = sdk
        self.route_file = route_file
        self._known: dict[str, bool] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def check(self, facts: ImageFacts) -> Evidence:
        if facts.build_sha is None:
            return Evidence(self.name, "fail", NO_BUILD_SHA)
        sha = facts.build_sha.strip().lower()
        if not SHA_RE.match(sha):
            return Evidence(self.name, "fail", f"build sha {sha!r} is not a 40-hex commit sha")
        try:
            present = self._has_route_file(sha)
        except ExternalError as exc:
            return Evidence(self.name, "error", str(exc))
        # Short enough for a table row; JSON carries the full sha in build_sha.
        where = f"at {sha[:12]} in {self.sdk.where}"
        name = self.route_file.rsplit("/", 1)[-1]
        if present:
            return Evidence(self.name, "pass", f"route file {name} present {where}")
        return Evidence(self.name, "fail", f"route file {name} absent {where}")

    def _has_route_file(self, sha: str) -> bool:
        # Images of one build (variants, arches, sha tags) share a sha: look it up once,
        # even when the scan checks them concurrently.
        with self._guard:
            lock = self._locks.setdefault(sha, threading.Lock())
        with lock:
            if sha not in self._known:
                self._known[sha] = self.sdk.has_file(sha, self.route_file)
            return self._known[sha]


_MAX_CONTAINERS = 2  # each may take settings.openapi.memory; keep the host usable


class _Undecided(Exception):
    """A step of the openapi check failed; the message is the evidence's detail."""


class OpenapiDetector:
    """Run the image by digest on a free port, wait for health, read its OpenAPI paths."""

    name = "openapi"

    def __init__(
        self, client_factory: Callable[[], Any], pull_image: str, settings: Settings
    ) -> None:
        self.client_factory = client_factory
        self.pull_image = pull_image
        self.settings = settings
        self._slots = threading.BoundedSemaphore(_MAX_CONTAINERS)

    def check(self, facts: ImageFacts) -> Evidence:
        ref = f"{self.pull_image}@{facts.digest}"
        try:
            with self._slots:
                paths = self._served_paths(ref, facts.digest)
        except (_Undecided, docker.DockerError) as exc:
            return Evidence(self.name, "error", str(exc))
        document = self.settings.openapi.openapi_path
        missing = [f"{m} {p}" for m, p in self.settings.route_specs if not _serves(paths, m, p)]
        if missing:
            return Evidence(self.name, "fail", f"{ref} {document} lacks {'; '.join(missing)}")
        return Evidence(
            self.name, "pass", f"{ref} {document} has {'; '.join(self.settings.routes)}"
        )

    def _served_paths(self, ref: str, digest: str) -> dict[str, Any]:
        client = docker.connect(self.client_factory)
        try:
            self._ensure_image(client, ref, digest)
            return self._run_and_read(client, ref, digest)
        finally:
            client.close()

    def _ensure_image(self, client: Any, ref: str, digest: str) -> None:
        if docker.has_image(client, ref):
            return  # content is fixed by the digest, so a local copy is as good as a pull
        try:
            with docker.failures(f"pulling {ref}"):
                client.images.pull(self.pull_image, tag=digest)
        except docker.DockerError as exc:
            raise _Undecided(
                f"{exc}: check that the digest exists there (see --registry-url) and that the "
                "engine can reach the registry"
            ) from None

    def _run_and_read(self, client: Any, ref: str, digest: str) -> dict[str, Any]:
        port = free_port()
        labels = {"pinbot.detector": self.name, "pinbot.digest": digest}
        with docker.failures(f"creating a container from {ref}"):
            container = docker.create(
                client, ref, ["--port", str(port)], self.settings.openapi.memory, labels
            )
        try:
            with docker.failures(f"running {ref}"):
                container.start()
                return self._read_document(container, f"http://127.0.0.1:{port}")
        finally:
            docker.remove(container)

    def _read_document(self, container: Any, base: str) -> dict[str, Any]:
        import requests

        with requests.Session() as http:
            http.trust_env = False  # loopback: never through a proxy from the environment
            self._wait_healthy(container, http, base)
            document = self.settings.openapi.openapi_path
            response = http.get(base + document, timeout=self.settings.http_timeout)
            if response.status_code != 200:
                raise _Undecided(f"{document} answered {response.status_code}")
            try:
                paths = response.json().get("paths")
            except (ValueError, AttributeError):
                paths = None
            if not isinstance(paths, dict):
                raise _Undecided(f"{document} is not an OpenAPI document with 'paths'")
            return paths

    def _wait_healthy(self, container: Any, http: requests.Session, base: str) -> None:
        health, bound = self.settings.openapi.health_path, self.settings.openapi.startup_timeout
        deadline = time.monotonic() + bound
        while not _answers(http, base + health, deadline):
            if docker.has_exited(container):
                raise _Undecided(self._exited(container, health))
            if time.monotonic() >= deadline:
                raise _Undecided(
                    f"{health} did not answer within {bound:g}s: raise openapi.startup_timeout "
                    "if the server is just slow"
                )
            time.sleep(0.2)

    def _exited(self, container: Any, health: str) -> str:
        state = container.attrs.get("State", {})
        if state.get("OOMKilled"):
            return (
                f"the container ran out of memory (openapi.memory = {self.settings.openapi.memory})"
                f" before {health} answered: raise openapi.memory in the config"
            )
        tail = docker.logs_tail(container, 3)
        code = state.get("ExitCode")
        return f"the container exited (code {code}) before {health} answered: {tail!r}"


def _answers(http: requests.Session, url: str, deadline: float) -> bool:
    import requests

    timeout = max(0.1, min(2.0, deadline - time.monotonic()))
    try:
        return http.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False  # not listening yet


def _serves(paths: dict[str, Any], method: str, path: str) -> bool:
    operations = paths.get(path)
    return isinstance(operations, dict) and method.lower() in operations


class SdkTree(Protocol):
    where: str  # names the tree in evidence, e.g. "github.com/OpenHands/software-agent-sdk"

    def has_file(self, sha: str, path: str) -> bool:
        """Whether `path` is a file at commit `sha`; ExternalError when that cannot be told."""
        ...

    def read(self, sha: str, path: str) -> bytes | None:
        """The file `path` at commit `sha` (None: not there); ExternalError when the commit
        cannot be found."""
        ...


def open_sdk(spec: str | None, settings: Settings, cache: Path) -> SdkTree:
    """The tree named by `--sdk`: a clone's path, a git URL (mirrored under `cache`, pinbot's
    cache directory), or (None) GitHub's contents API."""
    if not spec:
        from pinbot.github.contents import GithubContents

        return GithubContents(settings.sdk_repo, timeout=settings.http_timeout)
    from pinbot.git.sdk import open_sdk_git

    return open_sdk_git(spec, cache)


def make_detectors(
    settings: Settings,
    names: Sequence[str],
    sdk_spec: str | None,
    pull_image: str,
    cache: Path,
    source: Source | None = None,
) -> list[Detector]:
    """The detectors named (from config 'detectors' or --detectors), in that order.
    `source` is the registry the engine reads: the provenance detector reads it too."""
    detectors: list[Detector] = []
    for name in names:
        if name == "source":
            detectors.append(
                SourceDetector(open_sdk(sdk_spec, settings, cache), settings.route_file)
            )
        elif name == "openapi":
            detectors.append(
                OpenapiDetector(docker.client_factory(settings.http_timeout), pull_image, settings)
            )
        elif name == "provenance" and source is not None:
            from pinbot.provenance import ProvenanceDetector

            detectors.append(ProvenanceDetector(source))
        else:
            raise UsageError(f"detector {name!r} is unknown: choose from {', '.join(DETECTORS)}")
    return detectors


class _CacheMiss(Exception):
    pass


class _FromCacheOnly:
    """A detector that only answers from the cache: running it means the cache missed."""

    def __init__(self, name: str) -> None:
        self.name = name

    def check(self, facts: ImageFacts) -> Evidence:
        raise _CacheMiss


def cached_result(
    facts: ImageFacts,
    names: Sequence[str],
    cache: VerdictCache,
    key: str,
    required_platforms: Sequence[str],
) -> str | None:
    """What `judge` would say from the cache alone; None when some detector would have to run."""
    try:
        detectors = [_FromCacheOnly(name) for name in names]
        return judge(facts, detectors, cache, key, required_platforms).result
    except _CacheMiss:
        return None
