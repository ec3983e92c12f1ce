"""Provenance that lies: the real `pinbot check --detectors provenance` against images in the real
Distribution registry whose buildx attestations are digest-valid but hostile: a statement about
no subject, about another manifest, about two; a second BuildKit metadata key naming another
commit beside the right one; a statement nested 200,000 deep. None of them passes: a lie is a
`fail` (exit 1) naming what was wrong, a statement too deep to read is exit 3, never 4."""

from __future__ import annotations

import json

import pytest

from pinbot.demo.builds import Build
from testing.builds import HOSTILE, OTHER_SHA, FaultyBuild
from testing.cli import pinbot
from testing.worlds import Images, publish_to

AREA = "provenance"
ATTACK = (
    "digest-valid attestations whose in-toto statement names no subject, an empty or "
    "digest-less subject, another manifest, or two subjects; a second metadata key naming "
    "another commit; a statement 200,000 deep"
)
ANSWER = (
    "every statement must be about that platform's manifest alone and every key that names a "
    "commit must agree, else `fail` naming what was wrong; deep JSON is a clear error"
)
EXIT = "1 (3: too deep)"

VERSIONS = {fault: f"1.{40 + n}.0" for n, fault in enumerate(HOSTILE)}


@pytest.fixture(scope="module")
def hostile(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    builds = [Build(version="1.39.0", routes=True)]
    builds += [
        FaultyBuild(version=version, routes=True, fault=fault)
        for fault, version in VERSIONS.items()
    ]
    return publish_to(registry, "hostile/attested", builds, tmp_path_factory.mktemp("w"))


def check(world: Images, tag: str) -> tuple[int, dict[str, str], str]:
    argv = ["--json", "check", "--image", world.image, "--sdk", str(world.world.sdk)]
    code, out, err = pinbot(*argv, "--detectors", "provenance", tag)
    evidence = json.loads(out)["evidence"] if out.strip() else [{}]
    return code, evidence[-1], err


def test_an_honest_attestation_passes(hostile: Images) -> None:
    code, evidence, err = check(hostile, "1.39.0-python")

    assert code == 0, err
    assert evidence["result"] == "pass"


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("no-subject", "linux/amd64: the provenance names no subject; it must name sha256:"),
        ("empty-subject", "linux/amd64: the provenance names no subject"),
        ("subject-without-digest", "is (also) about a subject with no sha256, not only"),
        ("another-subject", "is (also) about sha256:abababababab, not only this platform's"),
        ("two-subjects", "is (also) about sha256:abababababab, not only this platform's"),
        ("second-metadata-key", f"vcs.revision (buildkit_metadata) is {OTHER_SHA[:12]}"),
    ],
)
def test_a_statement_that_lies_fails_naming_the_lie(hostile: Images, fault: str, says: str) -> None:
    code, evidence, err = check(hostile, VERSIONS[fault] + "-python")

    assert code == 1, err
    assert evidence["result"] == "fail"
    assert evidence["detail"].startswith("attestation names another commit: "), evidence
    assert says in evidence["detail"], evidence


def test_a_statement_nested_200000_deep_is_a_clear_error(hostile: Images) -> None:
    code, evidence, err = check(hostile, VERSIONS["deep"] + "-python")

    assert code == 3, err
    assert evidence["result"] == "error"
    assert "the provenance nests JSON too deep to be an in-toto statement" in evidence["detail"]
    assert "internal error" not in err
