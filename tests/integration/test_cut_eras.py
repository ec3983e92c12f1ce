"""`pinbot cut` and `pinbot gate` on both eras of the pin, with the real poetry and a real lock.

The package index is served on 127.0.0.1 (tiny wheels of the three OpenHands packages); poetry
locks against it, offline. The images are the cut tests' (1.27.0 carries the routes).
"""

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


@pytest.fixture(scope="session")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    """The pinned and the capable versions are published; 1.28.0 is not."""
    try:
        eras.installed("poetry")
    except FileNotFoundError:
        missing_service("poetry (./scripts/dev setup installs it)")
    with serve(tmp_path_factory.mktemp("index")) as served:
        served.publish([OLD, NEW])
        yield served


@pytest.fixture(autouse=True)
def _poetry_and_index(index: PackageIndex, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """poetry on PATH for pinbot, and pinbot.toml (read from the working directory) naming the
    local index."""
    monkeypatch.setenv("PATH", eras.path_with_poetry())
    monkeypatch.setenv("POETRY_CACHE_DIR", str(tmp_path / "poetry-cache"))
    (tmp_path / "pinbot.toml").write_text(f'[pin]\nindex_url = "{index.url}"\n')


def files_at(world: Remotes, sha: str, *paths: str) -> dict[str, str]:
    return {path: repos.show(world.openhands.remote, sha, path) for path in paths}


def touched(world: Remotes, sha: str) -> list[str]:
    return repos.git(world.openhands.remote, "diff", "--name-only", f"{sha}~1", sha).split()


@pytest.fixture
def package_era(index: PackageIndex, tmp_path: Path) -> Remotes:
    return cut_remotes(tmp_path / "package-era", files=eras.package_era(OLD, index.url))


@pytest.fixture
def constant_era(index: PackageIndex, tmp_path: Path) -> Remotes:
    return cut_remotes(tmp_path / "constant-era", files=eras.constant_era(OLD, index.url))


def test_a_package_era_cut_moves_every_pin_and_the_lock_in_one_commit(images, package_era) -> None:
    code, report, err = cut_json(images, package_era, "--push")

    assert code == 0, err
    assert report is not None
    sha = report["openhands"]["commit"]
    assert touched(package_era, sha) == ["poetry.lock", "pyproject.toml"]
    tree = files_at(package_era, sha, "pyproject.toml", "poetry.lock")
    assert tree["pyproject.toml"].count(f"=={NEW}") == 6 and OLD not in tree["pyproject.toml"]
    assert [(c["package"], c["old"], c["new"]) for c in report["lock"]] == [
        (name, OLD, NEW) for name in sorted(eras.PACKAGES)
    ]
    check = eras.check_lock(tree)
    assert check.returncode == 0, check.stdout + check.stderr
    workflow = repos.show(package_era.deploy.remote, deploy_branch(), repos.WORKFLOW)
    assert f"OPENHANDS_SHA: {sha}" in workflow

    again, rerun, err = cut_json(images, package_era, "--push")
    assert again == 0, err
    assert rerun is not None
    assert rerun["openhands"]["commit"] == sha and not rerun["openhands"]["changed"]
    assert rerun["deploy"]["changed"] is False and rerun["lock"] == []


def test_a_constant_era_cut_moves_the_constant_the_defaults_and_the_package_pins(
    images, constant_era
) -> None:
    code, report, err = cut_json(images, constant_era, "--push")

    assert code == 0, err
    assert report is not None
    sha = report["openhands"]["commit"]
    assert sorted(touched(constant_era, sha)) == sorted(
        [
            "containers/dev/compose.yml",
            "docker-compose.yml",
            "poetry.lock",
            "pyproject.toml",
            repos.SPEC_FILE,
        ]
    )
    tree = files_at(constant_era, sha, "pyproject.toml", "poetry.lock")
    assert eras.check_lock(tree).returncode == 0
    assert f"AGENT_SERVER_IMAGE = '{IMAGE}:{CAPABLE}'" in repos.show(
        constant_era.openhands.remote, sha, repos.SPEC_FILE
    )


def test_a_version_not_on_the_index_changes_nothing_and_names_it(
    images, package_era, index, tmp_path
) -> None:
    with serve(tmp_path / "only-old") as older:
        older.publish([OLD])
        (tmp_path / "pinbot.toml").write_text(f'[pin]\nindex_url = "{older.url}"\n')
        refs = package_era.refs()
        code, _, err = cut_json(images, package_era, "--push")

    assert code == 1
    assert f"openhands-agent-server=={NEW}" in err and "not published" in err
    assert package_era.refs() == refs


def test_an_unreachable_index_is_an_external_failure(images, package_era, tmp_path) -> None:
    (tmp_path / "pinbot.toml").write_text('[pin]\nindex_url = "http://127.0.0.1:9/simple/"\n')
    refs = package_era.refs()

    code, _, err = cut_json(images, package_era, "--push")

    assert code == 3
    assert "could not be reached" in err
    assert package_era.refs() == refs


def test_a_tag_that_is_not_a_release_cannot_be_pinned_where_a_site_holds_a_version(
    images, package_era
) -> None:
    build = "1.27-python"  # carries the routes, but names no published package version
    refs = package_era.refs()

    code, _, err = cut_json(images, package_era, "--push", tag=build)

    assert code == 2
    assert "holds a package version" in err and "not a release" in err
    assert package_era.refs() == refs


def test_without_poetry_the_cut_stops_naming_the_tool_and_the_fix(
    images, package_era, monkeypatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    refs = package_era.refs()

    code, _, err = cut_json(images, package_era, "--push")

    assert code == 2
    assert "poetry is not installed" in err and "pip install poetry" in err
    assert package_era.refs() == refs


@pytest.mark.parametrize("era", ["package", "constant"])
def test_the_gate_passes_the_cut_and_blocks_a_split_naming_sites_and_values(
    images, index, tmp_path, era
) -> None:
    files = (eras.package_era if era == "package" else eras.constant_era)(OLD, index.url)
    world = cut_remotes(tmp_path / era, files=files)
    code, report, err = cut_json(images, world, "--push")
    assert code == 0, err
    assert report is not None
    sha = report["openhands"]["commit"]

    gated = pinbot(*_gate_argv(images, world, deploy_branch()))
    assert gated.code == 0, gated.err

    pyproject = repos.show(world.openhands.remote, sha, "pyproject.toml")
    split = repos.add_commit(
        world.openhands.remote,
        "split",
        {"pyproject.toml": pyproject.replace(f'"openhands-sdk=={NEW}"', f'"openhands-sdk=={OLD}"')},
        "Hold the sdk back",
        start=sha,
    )
    workflow = repos.show(world.deploy.remote, deploy_branch(), repos.WORKFLOW)
    repos.add_commit(
        world.deploy.remote,
        "deploy-split",
        {repos.WORKFLOW: workflow.replace(sha, split)},
        "Deploy the split",
        start=repos.git(world.deploy.remote, "rev-parse", deploy_branch()),
    )
    code, text, _ = pinbot(*_gate_argv(images, world, "deploy-split"))
    out = json.loads(text)
    assert code == 1
    check = next(c for c in out["checks"] if c["name"] == "pin_sites_agree")
    deployed = (
        f"openhands-agent-server=={NEW} (locked) at poetry.lock:"
        if era == "package"
        else f"AGENT_SERVER_IMAGE={IMAGE}:{CAPABLE} at {repos.SPEC_FILE}:15"
    )
    assert f"openhands-sdk=={OLD} at pyproject.toml:" in check["detail"]
    assert f"beside {deployed}" in check["detail"]


def _gate_argv(images: Images, world: Remotes, ref: str) -> list[str]:
    argv = ["--json", "gate", "--deploy", f"{world.deploy.url}@{ref}"]
    argv += ["--openhands", world.openhands.url, "--image", IMAGE]
    return [*argv, "--registry-url", images.registry, "--sdk", str(images.world.sdk)]


@pytest.mark.parametrize("era", ["package", "constant"])
def test_scan_reads_the_current_pin_from_the_branch_in_either_era(
    images, index, tmp_path, era
) -> None:
    files = (eras.package_era if era == "package" else eras.constant_era)(NEW, index.url)
    if era == "constant":
        files[repos.SPEC_FILE] = repos.sandbox_spec_service(IMAGE, CAPABLE)
        files["docker-compose.yml"] = repos.docker_compose(IMAGE, CAPABLE)
        files["containers/dev/compose.yml"] = repos.dev_compose(IMAGE, CAPABLE)
    world = cut_remotes(tmp_path / era, files=files)
    argv = ["--json", "scan", "--openhands", world.openhands.url]
    argv += ["--openhands-branch", world.openhands.branch, "--image", IMAGE]
    argv += ["--registry-url", images.registry, "--sdk", str(images.world.sdk)]

    code, out, _ = pinbot(*argv)
    report = json.loads(out)

    assert code == 0
    assert report["current"] == CAPABLE
    assert report["selected"]["tag"] == CAPABLE
    assert [c["tag"] for c in report["candidates"]][-1] == CAPABLE  # stopped at the pin
