"""`pinbot cut` on a project locked by uv: the real `uv lock` against the local package index.

The index is served on 127.0.0.1 and is the project's only index (`[[tool.uv.index]]` with
`default = true` replaces PyPI); uv may not download an interpreter (`UV_PYTHON_DOWNLOADS=never`)
and reads no user configuration (`XDG_CONFIG_HOME` is the test's), so nothing leaves the machine:
the cut test checks that the local index served the new lock. The images are the cut tests'
(1.27.0 carries the routes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pinbot.demo import repos
from pinbot.demo.package_index import PackageIndex, serve
from pinbot.demo.repos import Remotes
from testing import eras
from testing.cutworld import cut_json, cut_remotes, deploy_branch
from testing.services import missing_service

OLD, NEW = "1.26.0", "1.27.0"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    try:
        eras.installed("uv")
    except FileNotFoundError:
        missing_service("uv (./scripts/dev setup installs it)")
    with serve(tmp_path_factory.mktemp("uv-index")) as served:
        served.publish([OLD, NEW])
        yield served


@pytest.fixture(autouse=True)
def _uv_offline(index: PackageIndex, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """uv on PATH for pinbot, its cache in the test, and pinbot.toml naming the local index."""
    uv_dir = str(Path(eras.installed("uv")).parent)
    monkeypatch.setenv("PATH", os.pathsep.join([uv_dir, os.environ.get("PATH", "")]))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    (tmp_path / "pinbot.toml").write_text(f'[pin]\nindex_url = "{index.url}"\n')


@pytest.fixture
def world(index: PackageIndex, tmp_path: Path) -> Remotes:
    return cut_remotes(tmp_path / "uv-era", files=eras.package_era(OLD, index.url, "uv"))


def test_a_uv_locked_cut_regenerates_uv_lock_with_uv_and_reports_the_lock_diff(
    images, world, index
) -> None:
    code, report, err = cut_json(images, world, "--push")

    assert code == 0, err
    assert report is not None
    sha = report["openhands"]["commit"]
    touched = repos.git(world.openhands.remote, "diff", "--name-only", f"{sha}~1", sha).split()
    assert touched == ["pyproject.toml", "uv.lock"]
    upgrade = [a for name in sorted(eras.PACKAGES) for a in ("--upgrade-package", name)]
    assert report["lock_commands"] == [
        {"branch": world.openhands.branch, "file": "uv.lock", "command": ["uv", "lock", *upgrade]}
    ]
    assert [(c["file"], c["package"], c["old"], c["new"]) for c in report["lock"]] == [
        ("uv.lock", name, OLD, NEW) for name in sorted(eras.PACKAGES)
    ]
    tree = {p: repos.show(world.openhands.remote, sha, p) for p in ("pyproject.toml", "uv.lock")}
    check = eras.check_lock(tree, "uv")
    assert check.returncode == 0, check.stdout + check.stderr
    assert f'name = "openhands-sdk"\nversion = "{NEW}"' in tree["uv.lock"]
    assert f'source = {{ registry = "{index.url}" }}' in tree["uv.lock"]  # the local index
    assert any(NEW in path for path in index.requests)
    workflow = repos.show(world.deploy.remote, deploy_branch(), repos.WORKFLOW)
    assert f"OPENHANDS_SHA: {sha}" in workflow
    refs = world.refs()

    again, rerun, err = cut_json(images, world, "--push")

    assert again == 0, err
    assert rerun is not None and rerun["lock"] == [] and not rerun["openhands"]["changed"]
    assert world.refs() == refs


def test_the_stale_uv_lock_fails_uvs_own_check(index) -> None:
    """The check the cut test relies on can fail: a moved pin beside the old lock is stale."""
    old = eras.lock(eras.uv_pyproject(OLD, index.url), "uv")
    done = eras.check_lock(
        {"pyproject.toml": eras.uv_pyproject(NEW, index.url), "uv.lock": old}, "uv"
    )
    assert done.returncode != 0
    assert "--check" in done.stderr or "update" in done.stderr.lower(), done.stderr


def test_without_uv_the_cut_stops_naming_the_tool_and_the_fix(images, world, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    refs = world.refs()

    code, _, err = cut_json(images, world, "--push")

    assert code == 2
    assert "uv is not installed" in err and "pip install uv" in err
    assert world.refs() == refs
