"""The provenance detector: statements of both SLSA versions, and indexes read from a real OCI
image layout (written by the world writer, read by the LayoutSource: digests checked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pinbot.capability import ImageFacts, VerdictCache, judge
from pinbot.demo.registry import ImageSpec, LayoutWriter, provenance_statement
from pinbot.model import ImageName
from pinbot.provenance import MISMATCH, MISSING, UNREADABLE, Claim, ProvenanceDetector, claims
from pinbot.registry.documents import Source
from pinbot.registry.layouts import LayoutSource
from testing.builds import FaultySpec

SHA = "a1" * 20
OTHER = "b2" * 20
SUBJECT = "sha256:" + "c" * 64
BOTH = ("linux/amd64", "linux/arm64")


def spec(**changes: Any) -> ImageSpec:
    fields: dict[str, Any] = {"tags": ["1.41.0-python"], "build_sha": SHA, "created": "2026-01-01"}
    return FaultySpec(**{**fields, **changes})


def test_a_v02_statement_names_the_commit_in_vcs_revision_and_the_build_argument() -> None:
    statement = provenance_statement(spec(), SUBJECT, "linux/amd64")

    assert statement["predicateType"] == "https://slsa.dev/provenance/v0.2"
    assert claims(statement) == [
        Claim("vcs.revision", SHA),
        Claim("vcs:revision arg", SHA),
        Claim("build-arg OPENHANDS_BUILD_GIT_SHA", SHA),
    ]


def test_a_v1_statement_is_read_from_build_definition_and_run_details() -> None:
    statement = provenance_statement(spec(slsa="v1"), SUBJECT, "linux/amd64")

    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert claims(statement) == [
        Claim("vcs.revision", SHA),
        Claim("vcs:revision arg", SHA),
        Claim("build-arg OPENHANDS_BUILD_GIT_SHA", SHA),
    ]


def test_a_git_context_names_its_commit_in_config_source_and_the_same_repository_material() -> None:
    repo = "https://github.com/OpenHands/software-agent-sdk.git"
    statement = {
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "externalParameters": {
                    "configSource": {"uri": f"{repo}#refs/tags/v1.41.0", "digest": {"sha1": SHA}},
                    "parameters": {"args": {}},
                },
                "resolvedDependencies": [
                    {"uri": f"{repo}#refs/tags/v1.41.0", "digest": {"sha1": SHA}},
                    # another repository fetched during the build is not the build's source
                    {"uri": "https://github.com/other/tool.git#main", "digest": {"sha1": OTHER}},
                ],
            },
            "runDetails": {"metadata": {"https://mobyproject.org/buildkit@v1#metadata": {}}},
        },
    }

    assert claims(statement) == [
        Claim("configSource", SHA),
        Claim("resolvedDependencies", SHA),
    ]


def test_a_statement_without_a_commit_names_nothing() -> None:
    assert claims({"predicateType": "https://slsa.dev/provenance/v0.2", "predicate": {}}) == []


def layout(tmp_path: Path, **changes: Any) -> tuple[Source, ImageFacts]:
    writer = LayoutWriter(tmp_path / "layout")
    digest = writer.publish(spec(**changes))
    writer.flush()
    source = LayoutSource(ImageName.parse(f"oci:{tmp_path / 'layout'}"))
    return source, source.facts(digest, BOTH)


@pytest.mark.parametrize("slsa", ["v0.2", "v1"])
def test_an_attestation_naming_the_config_commit_passes_for_every_platform(
    tmp_path: Path, slsa: str
) -> None:
    source, found = layout(tmp_path, slsa=slsa)

    evidence = ProvenanceDetector(source).check(found)

    assert evidence.result == "pass", evidence.detail
    assert evidence.detail.startswith(f"linux/amd64, linux/arm64 attest build commit {SHA[:12]}")
    assert "vcs.revision" in evidence.detail


@pytest.mark.parametrize(
    ("changes", "line", "says"),
    [
        ({"fault": "missing"}, MISSING,
         "linux/amd64: the index has no attestation manifest for it"),
        ({"fault": "unreadable"}, UNREADABLE,
         "linux/amd64: the provenance is not an in-toto JSON statement"),
        ({"provenance": "mismatch"}, MISMATCH,
         f"the image config's OPENHANDS_BUILD_GIT_SHA is {SHA[:12]}"),
    ],
)  # fmt: skip
def test_missing_unreadable_and_mismatching_attestations_are_three_different_failures(
    tmp_path: Path, changes: dict[str, str], line: str, says: str
) -> None:
    source, found = layout(tmp_path, **changes)

    evidence = ProvenanceDetector(source).check(found)

    assert evidence.result == "fail"
    assert evidence.detail.startswith(f"{line}: ")
    assert says in evidence.detail


def test_a_platform_attested_for_another_commit_fails_even_when_the_first_matches(
    tmp_path: Path,
) -> None:
    source, found = layout(tmp_path)
    index = source.manifest(found.digest).data
    arm = index["manifests"][1]["digest"]
    # Re-point arm64's attestation at a statement of another build, as a hand-made index could.
    writer = LayoutWriter(tmp_path / "layout")
    other = writer.publish(spec(tags=["other"], build_sha=OTHER))
    writer.flush()
    other_index = LayoutSource(ImageName.parse(f"oci:{tmp_path / 'layout'}")).manifest(other)
    index["manifests"][3] = {**other_index.data["manifests"][3]}
    index["manifests"][3]["annotations"]["vnd.docker.reference.digest"] = arm
    forged = writer.put_manifest("forged", json.dumps(index).encode(), "x")
    writer.flush()
    source = LayoutSource(ImageName.parse(f"oci:{tmp_path / 'layout'}"))

    evidence = ProvenanceDetector(source).check(source.facts(forged, BOTH))

    assert evidence.result == "fail"
    assert evidence.detail.startswith(f"{MISMATCH}: linux/arm64: ")


def test_a_tampered_statement_is_an_error_not_a_verdict(tmp_path: Path) -> None:
    source, found = layout(tmp_path)
    index = source.manifest(found.digest).data
    attestation = source.manifest(index["manifests"][2]["digest"]).data
    blob = tmp_path / "layout" / "blobs" / "sha256" / attestation["layers"][0]["digest"][7:]
    blob.write_bytes(blob.read_bytes().replace(SHA.encode(), OTHER.encode()))

    evidence = ProvenanceDetector(source).check(found)

    assert evidence.result == "error"
    assert "refusing to trust it" in evidence.detail


def test_the_verdict_is_cached_by_digest_and_not_read_again(tmp_path: Path) -> None:
    source, found = layout(tmp_path, provenance="mismatch")
    cache = VerdictCache(tmp_path / "cache")
    detector = ProvenanceDetector(source)
    first = judge(found, [detector], cache, "key", BOTH)
    (tmp_path / "layout" / "blobs").rename(tmp_path / "gone")  # nothing left to read

    second = judge(found, [detector], cache, "key", BOTH)

    assert first.result == second.result == "fail"
    assert second.evidence == first.evidence
