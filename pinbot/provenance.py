"""The `provenance` detector: does the image's build provenance name the commit its config names?

Indexes built by buildx carry one attestation manifest per platform (platform `unknown/unknown`,
annotation `vnd.docker.reference.type: attestation-manifest`, `vnd.docker.reference.digest`
naming the platform manifest). Its layers are in-toto statements; the SLSA provenance one names
the build's commit: `vcs.revision` in BuildKit's metadata, the `vcs:revision` frontend option,
the git context's digest (`configSource`, and the same repository among `materials` /
`resolvedDependencies`), and the `OPENHANDS_BUILD_GIT_SHA` build argument. The detector passes
when, for every platform, every commit the provenance names equals the build sha in that
platform's image config. Three ways to fail, three evidence lines: no attestation, one pinbot
cannot read, and one that names another commit. Every manifest and blob is digest-checked by the
Source; the verdict is cached by digest like every other detector's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pinbot.errors import ExternalError
from pinbot.model import DIGEST_RE, SHA_RE, Evidence, ImageFacts
from pinbot.registry.documents import NotFound, Source

NAME = "provenance"
IN_TOTO = "application/vnd.in-toto+json"
PREDICATE_TYPE = "in-toto.io/predicate-type"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"
SLSA_V1 = "https://slsa.dev/provenance/v1"
BUILD_ARG = "build-arg:OPENHANDS_BUILD_GIT_SHA"
# BuildKit has written its metadata under both names (the field tag, and the documented one).
_BUILDKIT_METADATA = ("https://mobyproject.org/buildkit@v1#metadata", "buildkit_metadata")

MISSING = "missing attestation"
UNREADABLE = "unreadable attestation"
MISMATCH = "attestation names another commit"
MAX_STATEMENTS = 8  # provenance layers in one attestation manifest (BuildKit writes one)


@dataclass(frozen=True)
class Claim:
    """One place in a provenance statement that names the build commit."""

    where: str
    commit: str


class _Failed(Exception):
    """One platform's attestation failed; `kind` is MISSING, UNREADABLE or MISMATCH."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


# --- reading a statement (pure) ------------------------------------------------------------------


def claims(statement: Mapping[str, Any]) -> list[Claim]:
    """Every commit an SLSA v0.2 or v1 provenance statement names for the build, in order."""
    predicate = _dict(statement.get("predicate"))
    if str(statement.get("predicateType", "")).startswith(SLSA_V1):
        definition = _dict(predicate.get("buildDefinition"))
        external = _dict(definition.get("externalParameters"))
        request = _dict(external.get("request")) or _dict(external.get("parameters"))
        source = _dict(external.get("configSource"))
        metadata = _dict(_dict(predicate.get("runDetails")).get("metadata"))
        materials = definition.get("resolvedDependencies")
        prefix = "buildDefinition.externalParameters"
    else:
        invocation = _dict(predicate.get("invocation"))
        request = _dict(invocation.get("parameters"))
        source = _dict(invocation.get("configSource"))
        metadata = _dict(predicate.get("metadata"))
        materials = predicate.get("materials")
        prefix = "invocation"
    found = [*_vcs(metadata), *_args(request), *_git_source(source, materials, prefix)]
    return found


def _vcs(metadata: Mapping[str, Any]) -> Iterator[Claim]:
    """`vcs.revision` under every metadata key BuildKit has used: all of them must agree (a
    second key naming another commit is a second claim, never ignored)."""
    found = False
    for key in _BUILDKIT_METADATA:
        revision = _dict(_dict(metadata.get(key)).get("vcs")).get("revision")
        if isinstance(revision, str) and revision:
            yield Claim(f"vcs.revision ({key})" if found else "vcs.revision", revision)
            found = True  # a second key is named, so a disagreement says which


def _args(request: Mapping[str, Any]) -> Iterator[Claim]:
    args = _dict(request.get("args"))
    for key, label in (
        ("vcs:revision", "vcs:revision arg"),
        (BUILD_ARG, "build-arg OPENHANDS_BUILD_GIT_SHA"),
    ):
        value = args.get(key)
        if isinstance(value, str) and value:
            yield Claim(label, value)


def _git_source(source: Mapping[str, Any], materials: object, prefix: str) -> Iterator[Claim]:
    """The git context's commit: configSource's digest, and the material of the same repository
    (other git materials, an `ADD` of another repository say, are not the build's source)."""
    uri = source.get("uri")
    if not isinstance(uri, str) or not _is_git(uri):
        return
    commit = _git_digest(source.get("digest"))
    if commit:
        yield Claim("configSource", commit)
    repository = uri.split("#", 1)[0]
    for material in materials if isinstance(materials, list) else []:
        entry = _dict(material)
        other = entry.get("uri")
        if isinstance(other, str) and other.split("#", 1)[0] == repository:
            commit = _git_digest(entry.get("digest"))
            if commit:
                yield Claim(
                    "materials" if prefix == "invocation" else "resolvedDependencies", commit
                )


def _is_git(uri: str) -> bool:
    base = uri.split("#", 1)[0]
    return base.endswith(".git") or uri.startswith(("git+", "git@", "git://")) or "#" in uri


def _git_digest(digest: object) -> str | None:
    values = _dict(digest)
    for key in ("sha1", "gitCommit"):
        value = values.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def attestations(index: Mapping[str, Any]) -> dict[str, str]:
    """platform manifest digest -> the digest of the attestation manifest that describes it."""
    found: dict[str, str] = {}
    for entry in index.get("manifests") or []:
        annotations = _dict(_dict(entry).get("annotations"))
        if annotations.get("vnd.docker.reference.type") != "attestation-manifest":
            continue
        subject, digest = annotations.get("vnd.docker.reference.digest"), entry.get("digest")
        if isinstance(subject, str) and isinstance(digest, str) and DIGEST_RE.match(digest):
            found.setdefault(subject, digest)
    return found


def platform_manifests(index: Mapping[str, Any]) -> dict[str, str]:
    """platform name -> manifest digest, attestation entries left out."""
    found: dict[str, str] = {}
    for entry in index.get("manifests") or []:
        entry = _dict(entry)
        annotations = _dict(entry.get("annotations"))
        platform = _dict(entry.get("platform"))
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        name = f"{platform.get('os', 'unknown')}/{platform.get('architecture', 'unknown')}"
        if platform.get("variant"):
            name += f"/{platform['variant']}"
        digest = entry.get("digest")
        if name != "unknown/unknown" and isinstance(digest, str) and DIGEST_RE.match(digest):
            found.setdefault(name, digest)
    return found


def compare(platform: str, build_sha: str, named: list[Claim]) -> str:
    """The pass detail for one platform, or _Failed(MISMATCH) naming the first disagreement."""
    for claim in named:
        if claim.commit.strip().lower() != build_sha:
            raise _Failed(
                MISMATCH,
                f"{platform}: {claim.where} is {_show(claim.commit)}, the image config's "
                f"OPENHANDS_BUILD_GIT_SHA is {build_sha[:12]}",
            )
    return ", ".join(sorted({c.where for c in named}))


def _show(value: str) -> str:
    """A commit from outside, fit for a table row: a sha shortened, anything else quoted."""
    value = value.strip()
    return value.lower()[:12] if SHA_RE.match(value.lower()) else repr(value[:48])


# --- the detector --------------------------------------------------------------------------------


class ProvenanceDetector:
    """Read the attestation of every platform of an index and compare the commit it names."""

    name = NAME

    def __init__(self, source: Source) -> None:
        self.source = source

    def check(self, facts: ImageFacts) -> Evidence:
        try:
            detail = self._check(facts)
        except _Failed as failed:
            return Evidence(self.name, "fail", f"{failed.kind}: {failed}")
        except (ExternalError, NotFound) as exc:
            return Evidence(self.name, "error", str(exc))
        return Evidence(self.name, "pass", detail)

    def _check(self, facts: ImageFacts) -> str:
        top = self.source.manifest(facts.digest)
        if not top.is_index:
            raise _Failed(MISSING, "a single-platform manifest carries no attestation manifests")
        platforms = platform_manifests(top.data)
        attested = attestations(top.data)
        if not platforms:
            raise _Failed(UNREADABLE, "the index names no platform manifest")
        expected = (facts.build_sha or "").strip().lower()
        where: set[str] = set()
        for platform, digest in platforms.items():
            commit, fields = self._platform(platform, digest, attested.get(digest))
            if commit != expected:
                raise _Failed(
                    MISMATCH,
                    f"{platform}: its image config names {commit[:12]}, the image's "
                    f"OPENHANDS_BUILD_GIT_SHA is {_show(expected) or 'missing'}",
                )
            where.update(fields.split(", "))
        names = ", ".join(platforms)
        return f"{names} attest build commit {expected[:12]} ({', '.join(sorted(where))})"

    def _platform(self, platform: str, digest: str, attestation: str | None) -> tuple[str, str]:
        """Every provenance statement of the platform's attestation: about this platform's
        manifest, and naming only its build commit."""
        if attestation is None:
            raise _Failed(MISSING, f"{platform}: the index has no attestation manifest for it")
        build_sha = self._build_sha(platform, digest)
        named: list[Claim] = []
        for statement in self._statements(platform, attestation):
            _check_subject(platform, digest, statement)
            named += claims(statement)
        if not named:
            raise _Failed(
                UNREADABLE,
                f"{platform}: the provenance names no build commit (no vcs.revision, no "
                f"{BUILD_ARG.partition(':')[2]} build argument, no git context)",
            )
        return build_sha, compare(platform, build_sha, named)

    def _build_sha(self, platform: str, digest: str) -> str:
        sha = (self.source.facts(digest, ()).build_sha or "").strip().lower()
        if not SHA_RE.match(sha):
            raise _Failed(
                MISMATCH,
                f"{platform}: the image config names no 40-hex OPENHANDS_BUILD_GIT_SHA to "
                "compare the provenance with",
            )
        return sha

    def _statements(self, platform: str, attestation: str) -> list[dict[str, Any]]:
        try:
            manifest = self.source.manifest(attestation)
        except NotFound:
            raise _Failed(
                UNREADABLE, f"{platform}: attestation manifest {attestation[:19]} is not there"
            ) from None
        layers = [_dict(layer) for layer in manifest.data.get("layers") or []]
        statements = [layer for layer in layers if layer.get("mediaType") == IN_TOTO]
        chosen = [s for s in statements if _is_provenance(_dict(s.get("annotations")))]
        # An in-toto layer without the annotation may still be provenance: its body says.
        chosen = chosen or [s for s in statements if not _dict(s.get("annotations"))]
        if not chosen:
            raise _Failed(MISSING, f"{platform}: the attestation manifest holds no SLSA provenance")
        if len(chosen) > MAX_STATEMENTS:
            raise _Failed(
                UNREADABLE, f"{platform}: the attestation holds {len(chosen)} provenance layers"
            )
        return [self._layer(platform, layer) for layer in chosen]

    def _layer(self, platform: str, layer: Mapping[str, Any]) -> dict[str, Any]:
        digest = layer.get("digest")
        if not isinstance(digest, str) or not DIGEST_RE.match(digest):
            raise _Failed(UNREADABLE, f"{platform}: the provenance layer names no digest")
        return _parse(platform, self.source.blob(digest))


def _is_provenance(annotations: Mapping[str, Any]) -> bool:
    kind = annotations.get(PREDICATE_TYPE)
    return isinstance(kind, str) and kind.startswith((SLSA_V02, SLSA_V1))


def _parse(platform: str, body: bytes) -> dict[str, Any]:
    try:
        statement = json.loads(body)
    except ValueError:
        statement = None
    except RecursionError:  # a hostile statement nested 200,000 deep: the registry's fault
        raise ExternalError(
            f"{platform}: the provenance nests JSON too deep to be an in-toto statement; the "
            "registry sent a broken attestation"
        ) from None
    if not isinstance(statement, dict) or not isinstance(statement.get("predicate"), dict):
        raise _Failed(UNREADABLE, f"{platform}: the provenance is not an in-toto JSON statement")
    kind = str(statement.get("predicateType", ""))
    if not kind.startswith((SLSA_V02, SLSA_V1)):
        raise _Failed(
            UNREADABLE, f"{platform}: predicate type {_show(kind)} is not SLSA provenance"
        )
    return statement


def _check_subject(platform: str, digest: str, statement: Mapping[str, Any]) -> None:
    """The statement must be about this platform's manifest, and only about it: at least one
    subject, and every subject's digest that manifest's (BuildKit names one subject per image
    name pushed, all of the same digest)."""
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise _Failed(
            MISMATCH, f"{platform}: the provenance names no subject; it must name {digest[:19]}"
        )
    for subject in subjects:
        sha256 = _dict(_dict(subject).get("digest")).get("sha256")
        named = f"sha256:{sha256}" if isinstance(sha256, str) else None
        if named != digest:
            shown = (
                named[:19] if named and DIGEST_RE.match(named)
                else repr(sha256)[:48] if sha256 is not None else "a subject with no sha256"
            )  # fmt: skip
            raise _Failed(
                MISMATCH,
                f"{platform}: the provenance is (also) about {shown}, not only this platform's "
                f"manifest {digest[:19]}",
            )
