"""Golden tests for the `requirement` site: PEP 508 pins wherever a Python project writes them."""

from __future__ import annotations

import pytest

from pinbot.errors import UsageError
from pinbot.pins import Target, requirement
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


# --- git revisions: poetry git tables and PEP 508 direct references ----------------------------

OLD_REV, NEW_REV = (
    "3d8af53b2f0259dc98555a4acd4238f90e0afbce",
    "be9725b459c0afabc18cfba89acf11dc756b42f0",
)
GIT = "https://github.com/OpenHands/agent-sdk.git"
# As OpenHands wrote them before the first SDK releases (#11626), a commented-out pin beside.
REVISIONS = f"""\
[project]
name = "openhands-ai"
dependencies = [
  "openhands-tools @ git+{GIT}@{OLD_REV[:7]}#subdirectory=openhands-tools",
]

[tool.poetry.dependencies]
openhands-agent-server = {{ git = "{GIT}", subdirectory = "x", rev = "{OLD_REV}" }}\r
openhands-sdk = {{ git = "{GIT}", subdirectory = "openhands-sdk", rev = "{OLD_REV}" }}  # V1
#openhands-sdk = "1.0.0a5"
"""


def revision_target() -> Target:
    return Target("ghcr.io/openhands/agent-server", "be9725b-python", "python", NEW_REV, "1.0.0a5")


def test_git_revision_pins_are_read_as_revisions_and_comments_are_not_pins() -> None:
    found = requirement.read(REVISIONS, "pyproject.toml", PACKAGES)

    assert [(f.holds, f.value, f.line) for f in found] == [
        ("rev", OLD_REV[:7], 4),
        ("rev", OLD_REV, 8),
        ("rev", OLD_REV, 9),
    ]


def test_git_revision_pins_move_to_the_build_commit_written_as_long_as_before() -> None:
    new, changes = requirement.rewrite(REVISIONS, revision_target(), "pyproject.toml", PACKAGES)

    expected = REVISIONS.replace(OLD_REV, NEW_REV).replace(f"@{OLD_REV[:7]}#", f"@{NEW_REV[:7]}#")
    assert new == expected
    assert [c.line for c in changes] == [4, 8, 9]


def test_a_git_branch_pin_is_refused_naming_line_and_fix() -> None:
    text = f'[tool.poetry.dependencies]\nopenhands-sdk = {{ git = "{GIT}", branch = "main" }}\n'

    with pytest.raises(UsageError, match=r"pyproject.toml:2: .*git branch 'main'.*rev ="):
        requirement.read(text, "pyproject.toml", PACKAGES)


def test_a_revision_in_a_requirements_file_moves_too() -> None:
    text = f"openhands-sdk @ git+{GIT}@{OLD_REV}#subdirectory=openhands-sdk\nrequests==2\n"

    new, _ = requirement.rewrite(text, revision_target(), "requirements.txt", PACKAGES)

    assert new == text.replace(OLD_REV, NEW_REV)


def test_a_build_tag_moves_version_pins_to_the_version_its_sdk_declares() -> None:
    text = '[tool.poetry.dependencies]\nopenhands-sdk = "1.0.0a6"\n'

    new, _ = requirement.rewrite(text, revision_target(), "pyproject.toml", PACKAGES)

    assert new == text.replace("1.0.0a6", "1.0.0a5")


def test_a_build_whose_sdk_version_is_unknown_is_refused_for_version_pins() -> None:
    target = Target("ghcr.io/openhands/agent-server", "be9725b-python", "python", NEW_REV)

    with pytest.raises(UsageError, match=r"could not read .*--sdk"):
        requirement.rewrite(BEFORE, target, "pyproject.toml", PACKAGES)


def test_a_build_whose_image_names_another_commit_than_its_tag_is_refused_for_revisions() -> None:
    lying = Target("ghcr.io/openhands/agent-server", "be9725b-python", "python", OLD_REV)

    with pytest.raises(UsageError, match=r"names commit be9725b while its image records 3d8af53"):
        requirement.rewrite(REVISIONS, lying, "pyproject.toml", PACKAGES)
