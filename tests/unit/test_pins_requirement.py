"""Golden tests for the `requirement` site: PEP 508 pins wherever a Python project writes them."""

from __future__ import annotations

import pytest

from pinbot.errors import UsageError
from pinbot.pins import requirement
from pinbot.pins.text import Change

PACKAGES = ("openhands-agent-server", "openhands-sdk", "openhands-tools")

# The package era's pyproject.toml, as OpenHands writes it since #15168 (trimmed).
BEFORE = """\
[project]
name = "openhands-ai"
version = "1.11.0"
requires-python = ">=3.12,<3.14"
dependencies = [
  "aiohttp>=3.9",
  "openhands-agent-server==1.34.0",  # keep in step with the sandbox image
  "openhands-sdk==1.34.0",
  'openhands-tools == 1.34.0 ; python_version >= "3.12"',
  # "openhands-sdk==0.0.1" is an old note, not a pin
]

[project.optional-dependencies]
server = ["openhands-agent-server[extra]==1.34.0", "uvicorn"]

[tool.poetry.dependencies]
python = "^3.12,<3.14"
openhands-agent-server = "==1.34.0"
openhands-sdk = "1.34.0"
"openhands-tools" = { version = "==1.34.0", extras = ["browser"] }  # table form

[tool.poetry.group.dev.dependencies]
pytest = "*"
"""
AFTER = (
    BEFORE.replace("openhands-agent-server==1.34.0", "openhands-agent-server==1.40.1")
    .replace("openhands-sdk==1.34.0", "openhands-sdk==1.40.1")
    .replace("openhands-tools == 1.34.0", "openhands-tools == 1.40.1")
    .replace("[extra]==1.34.0", "[extra]==1.40.1")
    .replace('"==1.34.0"', '"==1.40.1"')
    .replace('"1.34.0"', '"1.40.1"')
)


def test_reads_every_pin_in_both_tables_with_its_line() -> None:
    found = requirement.read(BEFORE, "pyproject.toml", PACKAGES)
    assert [(f.line, f.label) for f in found] == [
        (7, "openhands-agent-server==1.34.0"),
        (8, "openhands-sdk==1.34.0"),
        (9, "openhands-tools==1.34.0"),
        (14, "openhands-agent-server==1.34.0"),
        (18, "openhands-agent-server==1.34.0"),
        (19, "openhands-sdk==1.34.0"),
        (20, "openhands-tools==1.34.0"),
    ]
    assert {f.holds for f in found} == {"version"}


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_rewrites_only_the_versions_keeping_quotes_comments_and_endings(ending: str) -> None:
    new, changes = requirement.rewrite(
        BEFORE.replace("\n", ending), "1.40.1", "pyproject.toml", PACKAGES
    )
    assert new == AFTER.replace("\n", ending)
    assert "0.0.1" in new  # the comment is not a pin
    assert changes[0] == Change(
        "pyproject.toml", 7, "openhands-agent-server==1.34.0", "openhands-agent-server==1.40.1"
    )
    assert len(changes) == 7


def test_a_rewrite_to_the_same_version_changes_nothing() -> None:
    new, changes = requirement.rewrite(BEFORE, "1.34.0", "pyproject.toml", PACKAGES)
    assert (new, changes) == (BEFORE, [])


def test_a_requirements_file_keeps_hashes_and_comments() -> None:
    text = "# pins\r\nopenhands-sdk==1.2.0 \\\r\n    --hash=sha256:ab\r\nrequests>=2 # x\r\n"
    new, changes = requirement.rewrite(text, "1.3.0", "requirements.txt", PACKAGES)
    assert new == text.replace("1.2.0", "1.3.0")
    assert changes == [
        Change("requirements.txt", 2, "openhands-sdk==1.2.0", "openhands-sdk==1.3.0")
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('  "openhands-sdk>=1.34.0",', "not as one exact version"),
        ('  "openhands-sdk==1.34.*",', "not an exact version"),
    ],
)
def test_a_range_is_refused_naming_the_line(line: str, why: str) -> None:
    text = BEFORE.replace('  "openhands-sdk==1.34.0",', line)
    with pytest.raises(UsageError, match=rf"pyproject.toml:8: .*{why}"):
        requirement.rewrite(text, "1.40.1", "pyproject.toml", PACKAGES)


def test_a_poetry_caret_is_refused() -> None:
    text = BEFORE.replace('openhands-sdk = "1.34.0"', 'openhands-sdk = "^1.34.0"')
    with pytest.raises(UsageError, match=r"pyproject.toml:19: openhands-sdk pins '\^1.34.0'"):
        requirement.read(text, "pyproject.toml", PACKAGES)


def test_an_escaped_string_is_refused_rather_than_guessed() -> None:
    text = BEFORE.replace('"openhands-sdk==1.34.0"', '"openhands\\u002dsdk==1.34.0"')
    with pytest.raises(UsageError, match=r"pyproject.toml:8"):
        requirement.rewrite(text, "1.40.1", "pyproject.toml", PACKAGES)


def test_no_pin_of_the_packages_reads_as_none() -> None:
    assert requirement.read('[project]\nname = "x"\n', "pyproject.toml", PACKAGES) == []


def test_invalid_toml_names_the_file() -> None:
    with pytest.raises(UsageError, match=r"pyproject.toml: not valid TOML"):
        requirement.read("[project\n", "pyproject.toml", PACKAGES)


def test_an_invalid_new_version_is_refused() -> None:
    with pytest.raises(UsageError, match=r"not a package version"):
        requirement.rewrite(BEFORE, "abc1234", "pyproject.toml", PACKAGES)
