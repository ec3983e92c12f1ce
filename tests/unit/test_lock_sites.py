"""Which locks of a tree are pin sites, and what a lock tool gets to read (pure)."""

from __future__ import annotations

import pytest

from pinbot.config import PinSettings
from pinbot.errors import UsageError
from pinbot.pins import profiles, projects

ROOT = b'[tool.poetry]\nname = "openhands-ai"\nreadme = "README.md"\n'
ENTERPRISE = (
    b'[tool.poetry]\nreadme = "README.md"\n\n'
    b'[tool.poetry.dependencies]\nopenhands-ai = { path = "../", develop = true }\n'
)
CLI = b'[project]\nname = "openhands"\ndependencies = ["openhands-sdk==1.1"]\n'
TREE = {
    "pyproject.toml": ROOT,
    "poetry.lock": b"",
    "README.md": b"# root\n",
    "enterprise/pyproject.toml": ENTERPRISE,
    "enterprise/poetry.lock": b"old",
    "openhands-cli/pyproject.toml": CLI,
    "openhands-cli/uv.lock": b"",
}


def test_a_lock_reaching_the_root_by_path_is_a_site_and_one_with_pins_of_its_own_is_not() -> None:
    specs = profiles.sites(PinSettings(), "pinbot.toml")
    locks = ["enterprise/poetry.lock", "openhands-cli/uv.lock", "poetry.lock"]

    found = profiles.with_tree_locks(specs, locks, TREE.get)

    extra = [s.file for s in found[len(specs) :]]
    assert extra == ["enterprise/poetry.lock"]
    assert all(s.optional and s.is_lock for s in found[len(specs) :])


def test_the_scratch_tree_holds_the_lock_its_project_the_root_it_reaches_and_their_readmes() -> (
    None
):
    files = projects.tree_files(TREE.get, "enterprise/poetry.lock")

    assert files == {
        "enterprise/poetry.lock": b"old",
        "enterprise/pyproject.toml": ENTERPRISE,
        "enterprise/README.md": b"",  # named but absent: poetry only needs it to exist
        "pyproject.toml": ROOT,
        "README.md": b"# root\n",
    }


@pytest.mark.parametrize("path", ["../../elsewhere", "/etc", "..\\\\x"])
def test_a_path_dependency_that_leaves_the_repository_is_refused(path: str) -> None:
    tree = dict(TREE)
    tree["pyproject.toml"] = f'[tool.poetry.dependencies]\nx = {{ path = "{path}" }}\n'.encode()

    with pytest.raises(UsageError, match="leaves the repository"):
        projects.tree_files(tree.get, "poetry.lock")
    assert not projects.reaches_root(tree.get, "poetry.lock")  # as a site: just not one


def test_a_cycle_of_path_dependencies_ends() -> None:
    tree = dict(TREE)
    tree["pyproject.toml"] = b'[tool.poetry.dependencies]\ne = { path = "enterprise" }\n'

    assert projects.folders(tree.get, "enterprise/poetry.lock") == ["enterprise", ""]
