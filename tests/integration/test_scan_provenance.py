"""`pinbot scan --detectors source,provenance` against a real Distribution registry whose indexes
carry buildx attestation manifests: matching, naming another commit, missing, unreadable."""

from __future__ import annotations

import json

import pytest

from pinbot.demo.builds import Build
from testing.builds import FaultyBuild
from testing.cli import pinbot
from testing.worlds import Images, publish_to

PIN = "1.26.0-python"


@pytest.fixture(scope="module")
def attested(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    builds = [
        Build(version="1.26.0"),
        Build(version="1.27.0", routes=True, slsa="v1"),
        FaultyBuild(version="1.28.0", routes=True, fault="unreadable"),
        FaultyBuild(version="1.29.0", routes=True, fault="missing"),
        Build(version="1.30.0", routes=True),
        Build(version="1.31.0", routes=True, provenance="mismatch"),
    ]
    return publish_to(registry, "attested/agent-server", builds, tmp_path_factory.mktemp("w"))


def scan(capsys: pytest.CaptureFixture[str], world: Images, *extra: str) -> tuple[int, dict]:
    argv = ["--json", "scan", "--image", world.image, "--sdk", str(world.world.sdk), *extra]
    code, out, _ = pinbot(*argv)
    return code, json.loads(out)


def provenance_of(report: dict, tag: str) -> dict[str, str]:
    candidate = next(c for c in report["candidates"] if c["tag"] == tag)
    return next(e for e in candidate["evidence"] if e["detector"] == "provenance")


def test_provenance_is_off_by_default(capsys, attested) -> None:
    code, report = scan(capsys, attested, "--current", PIN)

    assert code == 0
    assert report["selected"]["tag"] == "1.31.0-python"
    assert all(e["detector"] != "provenance" for e in report["candidates"][0]["evidence"])


def test_scan_skips_a_release_attesting_another_commit_and_selects_the_next(
    capsys, attested
) -> None:
    code, report = scan(capsys, attested, "--current", PIN, "--detectors", "source,provenance")

    assert code == 0
    assert report["selected"]["tag"] == "1.30.0-python"
    assert report["selected"]["digest"] == attested.world.digests["1.30.0-python"]
    first = report["candidates"][0]
    assert (first["tag"], first["verdict"]) == ("1.31.0-python", "fail")
    sha = attested.world.shas["1.31.0-python"]
    assert provenance_of(report, "1.31.0-python")["detail"].startswith(
        "attestation names another commit: linux/amd64: "
    )
    assert (
        f"OPENHANDS_BUILD_GIT_SHA is {sha[:12]}" in provenance_of(report, "1.31.0-python")["detail"]
    )
    assert provenance_of(report, "1.30.0-python")["result"] == "pass"


def test_the_table_says_why_the_mismatching_release_was_skipped(capsys, attested) -> None:
    argv = ["scan", "--image", attested.image, "--sdk", str(attested.world.sdk)]
    code, out, _ = pinbot(*[*argv, "--current", PIN, "--detectors", "source,provenance"])

    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("1.31.0-python"))
    assert "fail" in row and "provenance: attestation names another commit" in row
    assert "selected: " in out and "1.30.0-python@" in out


def test_every_kind_of_attestation_gets_its_own_evidence_line(capsys, attested) -> None:
    code, report = scan(
        capsys, attested, "--current", PIN, "--detectors", "source,provenance", "--all"
    )

    assert code == 0
    lines = {c["tag"]: provenance_of(report, c["tag"]) for c in report["candidates"]}
    assert lines["1.31.0-python"]["detail"].startswith("attestation names another commit: ")
    assert lines["1.29.0-python"]["detail"].startswith("missing attestation: ")
    assert lines["1.28.0-python"]["detail"].startswith("unreadable attestation: ")
    assert lines["1.27.0-python"]["result"] == "pass"  # a v1 predicate
    assert lines["1.26.0-python"]["result"] == "skip"  # no routes: source said fail first


def test_check_reports_the_provenance_of_one_image(capsys, attested) -> None:
    argv = ["--json", "check", "--image", attested.image, "--sdk", str(attested.world.sdk)]
    code, out, _ = pinbot(*argv, "--detectors", "provenance", "1.28.0-python")
    report = json.loads(out)

    assert code == 1
    assert report["evidence"][-1]["detail"].startswith("unreadable attestation: ")
