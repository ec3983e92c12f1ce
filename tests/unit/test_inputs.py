"""The edge's value parsers: the forms each kind of value may take, and what they become."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from pinbot import inputs


@pytest.fixture(autouse=True)
def _deploy_clone(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()  # the tests run in tmp_path: "deploy" is a local path


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("deploy", ("deploy", None)),
        ("deploy@main", ("deploy", "main")),
        ("file:///srv/deploy.git@pinbot/agent-server-1.27.0-python",
         ("file:///srv/deploy.git", "pinbot/agent-server-1.27.0-python")),
        ("git@github.com:acme/deploy.git", ("git@github.com:acme/deploy.git", None)),
        ("git@github.com:acme/deploy.git@v1.2", ("git@github.com:acme/deploy.git", "v1.2")),
        ("https://bot@github.com/acme/deploy", ("https://bot@github.com/acme/deploy", None)),
        ("https://bot@github.com/acme/deploy@" + "f" * 40,
         ("https://bot@github.com/acme/deploy", "f" * 40)),
        ("github.com/acme/deploy@main", ("https://github.com/acme/deploy", "main")),
    ],
)  # fmt: skip
def test_deploy_values_split_into_repo_and_ref(value: str, expected: tuple[str, Any]) -> None:
    assert inputs.deploy_repository(value) == expected


@pytest.mark.parametrize("value", ["deploy@", "@main", "deploy@a..b", "deploy@-x"])
def test_a_deploy_value_with_a_bad_ref_is_refused(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="write REPO or REPO@REF"):
        inputs.deploy_repository(value)


def test_a_path_with_an_at_sign_that_exists_is_a_path(tmp_path: Path) -> None:
    (tmp_path / "deploy@2024").mkdir()
    path = str(tmp_path / "deploy@2024")
    assert inputs.deploy_repository(path) == (path, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("github.com/acme/OpenHands", "https://github.com/acme/OpenHands"),
        ("https://github.com/acme/OpenHands.git", "https://github.com/acme/OpenHands.git"),
        ("git@github.com:acme/OpenHands.git", "git@github.com:acme/OpenHands.git"),
        ("file:///srv/openhands.git", "file:///srv/openhands.git"),
        ("deploy", "deploy"),
    ],
)
def test_cut_and_gate_take_the_same_repository_forms(value: str, expected: str) -> None:
    assert inputs.repository(value) == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "is empty"),
        ("nowhere", "no such directory, and not a git URL"),
        ("github.com/acme", "no such directory"),
    ],
)
def test_a_repository_that_is_no_repository_form_is_refused(value: str, says: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=says):
        inputs.repository(value)


def test_a_file_is_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(argparse.ArgumentTypeError, match="is a file, not a repository"):
        inputs.repository("notes.txt")


@pytest.mark.parametrize(
    "value", ["http://127.0.0.1:3000", "https://app.example.com/", "http://[::1]:8000"]
)
def test_http_urls_with_a_host_and_port_pass(value: str) -> None:
    assert inputs.http_url(value) == value.rstrip("/")


@pytest.mark.parametrize("value", ["127.0.0.1:5000", "https://ghcr.io", "oci:/srv/layout"])
def test_registry_endpoints_take_three_forms(value: str) -> None:
    assert inputs.registry_endpoint(value) == value


@pytest.mark.parametrize(("value", "expected"), [("300", 300.0), ("0.5", 0.5)])
def test_seconds_are_positive_numbers(value: str, expected: float) -> None:
    assert inputs.seconds(value) == expected


@pytest.mark.parametrize("value", ["inf", "1e9", "0", "-1", "x"])
def test_seconds_out_of_bounds_are_refused(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="positive number"):
        inputs.seconds(value)
