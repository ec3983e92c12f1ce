"""Every lock that locks the packages is a pin site: `enterprise/poetry.lock`, which locks them
through a path dependency on the root project (OpenHands #11695 moved both locks). The real
poetry against the local index; the images are the cut tests' (1.27.0 carries the routes).
Also: a lock follows package pins, so a move of the image constant alone runs no lock tool."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinbot.demo import repos
from pinbot.demo.package_index import PackageIndex, serve
from pinbot.demo.repos import Remotes
from testing import eras
from testing.cli import pinbot
from testing.cutworld import CAPABLE, IMAGE, cut_json, cut_remotes, deploy_branch
from testing.services import missing_service
from testing.worlds import Images

OLD, NEW = "1.26.0", "1.27.0"
LOCKS = ("enterprise/poetry.lock", "poetry.lock")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    try:
        eras.installed("poetry")
    except FileNotFoundError:
        missing_service("poetry (./scripts/dev setup installs it)")
    with serve(tmp_path_factory.mktemp("locks-index")) as served:
        served.publish([OLD, NEW])
        yield served


@pytest.fixture(autouse=True)
def _poetry_and_index(index: PackageIndex, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", eras.path_with_poetry())
    monkeypatch.setenv("PINBOT_CACHE_DIR", str(tmp_path / "pinbot-cache"))
    (tmp_path / "pinbot.toml").write_text(f'[pin]\nindex_url = "{index.url}"\n')


def _locked(text: str, package: str) -> str:
    from pinbot.pins import lock

    return next(e.version for e in lock.locked(text, "x") if e.package == package)


def _gate(images: Images, world: Remotes, ref: str) -> tuple[int, dict[str, object]]:
    argv = ["--json", "gate", "--deploy", f"{world.deploy.url}@{ref}"]
    argv += ["--openhands", world.openhands.url, "--image", IMAGE]
    argv += ["--registry-url", images.registry, "--sdk", str(images.world.sdk)]
    run = pinbot(*argv)
    return run.code, json.loads(run.out)


def test_a_cut_regenerates_the_second_lock_too_and_reports_both(
    images: Images, index: PackageIndex, tmp_path: Path
) -> None:
    world = cut_remotes(tmp_path / "two", files=eras.two_locks(OLD, index.url))

    code, report, err = cut_json(images, world, "--push")

    assert code == 0, err
    assert report is not None
    sha = report["openhands"]["commit"]
    changed = repos.git(world.openhands.remote, "diff", "--name-only", f"{sha}~1", sha).split()
    assert changed == ["enterprise/poetry.lock", "poetry.lock", "pyproject.toml"]
    moved = {(c["file"], c["package"], c["old"], c["new"]) for c in report["lock"]}
    assert moved == {(f, p, OLD, NEW) for f in LOCKS for p in eras.PACKAGES}
    assert [c["file"] for c in report["lock_commands"]] == ["poetry.lock", "enterprise/poetry.lock"]
    for path in LOCKS:
        text = repos.show(world.openhands.remote, sha, path)
        assert {_locked(text, p) for p in eras.PACKAGES} == {NEW}
    gated, out = _gate(images, world, deploy_branch())
    assert gated == 0, out


def test_the_gate_blocks_a_stale_second_lock_and_a_cut_relocks_only_it(
    images: Images, index: PackageIndex, tmp_path: Path
) -> None:
    files = eras.two_locks(NEW, index.url)
    files["enterprise/poetry.lock"] = eras.two_locks(OLD, index.url)["enterprise/poetry.lock"]
    world = cut_remotes(tmp_path / "stale", files=files)  # the deploy's main deploys this tree

    gated, out = _gate(images, world, "main")

    assert gated == 1
    check = next(c for c in out["checks"] if isinstance(c, dict) and c["name"] == "pin_sites_agree")
    assert f"openhands-sdk=={OLD} (locked) at enterprise/poetry.lock:" in check["detail"]

    code, report, err = cut_json(images, world, "--push")

    assert code == 0, err
    assert report is not None
    assert {c["file"] for c in report["lock"]} == {"enterprise/poetry.lock"}
    sha = report["openhands"]["commit"]
    changed = repos.git(world.openhands.remote, "diff", "--name-only", f"{sha}~1", sha).split()
    assert changed == ["enterprise/poetry.lock"]


def test_an_image_only_move_runs_no_lock_tool(
    images: Images, index: PackageIndex, tmp_path: Path
) -> None:
    files = eras.constant_era(NEW, index.url)  # the packages are at the new version already
    world = cut_remotes(tmp_path / "image-only", files=files)  # the constant names the old tag

    code, report, err = cut_json(images, world, "--push")

    assert code == 0, err
    assert report is not None
    assert report["lock"] == [], report["lock_commands"]
    assert report["lock_commands"] == []
    sha = report["openhands"]["commit"]
    changed = repos.git(world.openhands.remote, "diff", "--name-only", f"{sha}~1", sha).split()
    assert "poetry.lock" not in changed and repos.SPEC_FILE in changed
    assert f"AGENT_SERVER_IMAGE = '{IMAGE}:{CAPABLE}'" in repos.show(
        world.openhands.remote, sha, repos.SPEC_FILE
    )
