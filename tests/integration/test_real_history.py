"""pinbot on the real OpenHands history: the pin files of real commits (tests/fixtures/openhands).

Each real bump — a release tag (#11695), a sha tag moving only the image (#11715), sha tags
moving git-revision pins with them (#11549, #11626, #11633) — is replayed by the real
`pinbot cut` on a repository holding its parent's files: pinbot's commit must move what the
maintainer moved and nothing else. The real `pinbot gate` passes each real commit whose pins
agree and blocks each real split, and reads the real 1.25 MB poetry.lock of d6fab190 in time.
The SDK history is the real one, under the real commit ids (testing/openhands_history.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo import repos
from pinbot.demo.package_index import PackageIndex, serve
from testing import openhands_history as history
from testing.cli import pinbot
from testing.github import FakeGitHub

REPLAYS = [c for c in history.commits().values() if c.kind != "state"]
GATED = [c for c in history.commits().values() if c.gate is not None]
WARM_GATE_LIMIT = 2.0  # seconds (DESIGN.md §6), on the real 1.25 MB poetry.lock


@pytest.fixture(scope="module")
def digests(registry: str) -> dict[str, str]:
    return history.publish_images(registry)


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return history.sdk_repo(tmp_path_factory.mktemp("sdk") / "software-agent-sdk.git")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    """The version the release bump pins is published (a cut checks that first)."""
    with serve(tmp_path_factory.mktemp("index")) as served:
        served.publish(["1.1.0"])
        yield served


@pytest.fixture(autouse=True)
def _config(index: PackageIndex, tmp_path: Path) -> None:
    (tmp_path / "pinbot.toml").write_text(history.CONFIG.format(index=index.url))


def image_flags(registry: str, sdk: Path) -> list[str]:
    return ["--image", history.IMAGE, "--registry-url", registry, "--sdk", str(sdk)]


def cut(
    remote: repos.OpenHandsRepo, tag: str, registry: str, sdk: Path, *extra: str
) -> dict[str, Any]:
    argv = ["--json", "cut", "--tag", tag, "--openhands", remote.url]
    run = pinbot(*argv, "--openhands-branch", "main", "--push", *image_flags(registry, sdk), *extra)
    assert run.code == 0, run.err
    return dict(run.data)


def files_at(remote: repos.OpenHandsRepo, ref: str, paths: tuple[str, ...]) -> dict[str, str]:
    return {path: repos.show(remote.remote, ref, path) for path in paths}


# --- cut ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("real", REPLAYS, ids=lambda c: f"{c.kind}-{c.short}")
def test_a_real_bump_is_cut_as_the_maintainer_cut_it(
    real: history.Commit, digests: dict[str, str], registry: str, sdk: Path, tmp_path: Path
) -> None:
    assert real.parent is not None and real.tag is not None
    before = history.commit(real.parent)
    remote = history.openhands_repo(tmp_path / "remotes", before)

    report = cut(remote, real.tag, registry, sdk)

    ours = files_at(remote, report["openhands"]["commit"], real.paths)
    theirs = {path: data.decode() for path, data in real.files().items()}
    parent = {path: data.decode() for path, data in before.files().items()}
    for path in real.paths:
        # #11695 pinned the build f3c0c19 beside 1.1.0 packages (a split); its release is
        # 1.1.0-python, so that is what the constant gets from pinbot.
        expected = theirs[path].replace(_human_tag(theirs), real.tag)
        assert history.pin_lines(ours[path]) == history.pin_lines(expected), path
        assert _comments(ours[path]) == _comments(parent[path]), f"{path}: a comment moved"
    moved = {c["file"] for c in report["changes"]}
    assert moved == {p for p in real.paths if parent[p] != theirs[p]}
    assert report["tag"] == real.tag and report["digest"] == digests[real.tag]


def _human_tag(files: dict[str, str]) -> str:
    spec = files["openhands/app_server/sandbox/sandbox_spec_service.py"]
    line = next(x for x in spec.splitlines() if x.startswith("AGENT_SERVER_IMAGE ="))
    return line.rpartition(":")[2].rstrip("'\"")


def _comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def test_a_sha_tag_beside_its_version_moves_only_the_image_and_locks_nothing(
    digests: dict[str, str], registry: str, sdk: Path, tmp_path: Path
) -> None:
    """#11715: f3c0c19 → 4e2ecd8, the packages stay at 1.1.0 (4e2ecd8 declares 1.1.0)."""
    remote = history.openhands_repo(tmp_path / "remotes", history.commit("d5b2d2eb"))

    report = cut(remote, "4e2ecd8-python", registry, sdk)

    assert [(c["file"], c["old"], c["new"]) for c in report["changes"]] == [
        (
            "openhands/app_server/sandbox/sandbox_spec_service.py",
            f"{history.IMAGE}:f3c0c19-python",
            f"{history.IMAGE}:4e2ecd8-python",
        )
    ]
    assert report["lock"] == []


def test_a_sha_tag_whose_sdk_declares_another_version_moves_the_version_pins(
    digests: dict[str, str], registry: str, sdk: Path, tmp_path: Path
) -> None:
    """From #11695's parent (1.0.0a6 pins), d5995c3-python is 1.0.0a5: the pins follow it, so
    the cut leaves no split behind (the maintainers had one there)."""
    remote = history.openhands_repo(tmp_path / "remotes", history.commit("11636edf"))
    run = pinbot(
        "--json", "cut", "--tag", "f3c0c19-python", "--openhands", remote.url,
        "--openhands-branch", "main", "--dry-run", *image_flags(registry, sdk),
    )  # fmt: skip

    assert run.code == 1, run.err  # 1.0.0 is not on the test index: refused before any edit
    assert "openhands-agent-server==1.0.0" in run.err and "not published" in run.err


# --- gate ---------------------------------------------------------------------------------------


def gate(
    remote: repos.OpenHandsRepo, sha: str, registry: str, sdk: Path, root: Path
) -> tuple[int, dict[str, Any], float]:
    deploy = repos.deploy_repo(root, sha)
    start = time.perf_counter()
    run = pinbot(
        "--json", "--config", "pinbot.toml", "gate", "--deploy", f"{deploy.url}@main",
        "--openhands", remote.url, *image_flags(registry, sdk),
    )  # fmt: skip
    seconds = time.perf_counter() - start
    assert run.code in (0, 1), run.err
    return run.code, dict(run.data), seconds


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(c for c in report["checks"] if c["name"] == name))


@pytest.mark.parametrize("real", GATED, ids=lambda c: f"{c.gate}-{c.short}")
def test_the_gate_judges_each_real_commit_by_what_its_pins_mean(
    real: history.Commit, digests: dict[str, str], registry: str, sdk: Path, tmp_path: Path
) -> None:
    remote = history.openhands_repo(tmp_path / "remotes", real)

    _, report, _ = gate(remote, remote.main, registry, sdk, tmp_path / "deploy")

    agree = check(report, "pin_sites_agree")
    assert agree["ok"] is (real.gate == "pass"), agree["detail"]
    if real.gate == "block":
        assert report["verdict"] == "block"
        assert "pyproject.toml:" in agree["detail"] or "git rev" in agree["detail"]


def test_at_8b6521de_the_gate_names_the_split_and_what_the_sdk_declares(
    digests: dict[str, str], registry: str, sdk: Path, tmp_path: Path
) -> None:
    remote = history.openhands_repo(tmp_path / "remotes", history.commit("8b6521de"))

    _, report, _ = gate(remote, remote.main, registry, sdk, tmp_path / "deploy")

    detail = check(report, "pin_sites_agree")["detail"]
    assert "openhands-sdk==1.1.0 at pyproject.toml:119" in detail
    assert "f3c0c19-python" in detail and "declares 1.0.0" in detail


def test_the_real_main_passes_the_whole_gate_warm_in_under_two_seconds(
    digests: dict[str, str], registry: str, sdk: Path, tmp_path: Path
) -> None:
    """#11715 cut by pinbot, then main (d6fab190, with the real 1.25 MB poetry.lock) on top:
    every check passes, and a warm gate reads it all in under 2 s."""
    remote = history.openhands_repo(tmp_path / "remotes", history.commit("d5b2d2eb"))
    report = cut(remote, "4e2ecd8-python", registry, sdk)
    main = history.commit("d6fab190")
    head = report["openhands"]["head"]
    tip = repos.add_commit(remote.remote, head, main.files(), main.subject)

    gate(remote, tip, registry, sdk, tmp_path / "cold")  # fills the verdict cache
    code, result, seconds = gate(remote, tip, registry, sdk, tmp_path / "warm")

    assert code == 0, result["checks"]
    assert check(result, "pin_sites_agree")["detail"].endswith(
        "(the SDK at 4e2ecd8 declares 1.1.0)"
    )
    assert seconds < WARM_GATE_LIMIT


# --- scan ---------------------------------------------------------------------------------------


def test_scan_reads_the_real_main_and_takes_its_build_tag_as_the_version_it_declares(
    digests: dict[str, str], registry: str, sdk: Path, tmp_path: Path
) -> None:
    """d6fab190 pins 4e2ecd8-python, which is 1.1.0: 1.1.0-python is no upgrade from it."""
    remote = history.openhands_repo(tmp_path / "remotes", history.commit("d6fab190"))

    run = pinbot(
        "--json", "scan", "--openhands", remote.url, "--openhands-branch", "main",
        *image_flags(registry, sdk),
    )  # fmt: skip

    assert run.code == 1, run.err  # nothing newer than 1.1.0 is published here
    assert run.data["current"] == "4e2ecd8-python"
    assert run.data["candidates"] == []
    assert "4e2ecd8-python is a build of 4e2ecd8, whose SDK declares 1.1.0" in run.err


def test_without_sdk_the_gate_reads_what_the_sdk_declares_through_githubs_api(
    digests: dict[str, str], registry: str, sdk: Path, tmp_path: Path, github: FakeGitHub
) -> None:
    github.remotes["OpenHands/software-agent-sdk"] = sdk
    remote = history.openhands_repo(tmp_path / "remotes", history.commit("bc86796a"))
    deploy = repos.deploy_repo(tmp_path / "deploy", remote.main)

    run = pinbot(
        "--json", "--config", "pinbot.toml", "gate", "--deploy", f"{deploy.url}@main",
        "--openhands", remote.url, "--image", history.IMAGE, "--registry-url", registry,
        "--detectors", "provenance",  # the capability is not what this test reads from GitHub
    )  # fmt: skip

    assert run.data is not None, run.err
    assert check(run.data, "pin_sites_agree")["ok"], run.data
    path = "/repos/OpenHands/software-agent-sdk/contents/openhands-sdk/pyproject.toml"
    assert ("GET", path) in github.calls
