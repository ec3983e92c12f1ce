"""Golden tests for the `yaml` site: a scalar at a key path, spliced into the original text."""

from __future__ import annotations

import pytest

from pinbot.errors import UsageError
from pinbot.pins import yaml_value
from pinbot.pins.text import Change, NotPresent

ITEM = "spec.groups[name=sandbox_configuration].items[name=custom_sandbox_image_tag]"
# The shapes of OpenHands-Cloud's four pin spots, in one document.
BEFORE = """\
global:
  # Canonical agent-server image.
  agentServerImage:
    repository: ghcr.io/openhands/agent-server
    tag: &pin '1.41.0-python'   # all four spots move together
image:
  tag: 1.41.0-python
  pullPolicy: Always
spec:
  groups:
    - name: domain_configuration
      items: []
    - name: sandbox_configuration
      items:
        - name: custom_sandbox_image_tag
          help_text: Image tag, e.g. 1.41.0-python
          default: "1.41.0-python"
mirror: *pin
"""


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
@pytest.mark.parametrize(
    ("path", "within", "line", "old_line", "new_line"),
    [
        ("global.agentServerImage.tag", False, 5, "&pin '1.41.0-python'", "&pin '1.50.0-python'"),
        ("image.tag", False, 7, "tag: 1.41.0-python", "tag: 1.50.0-python"),
        (f"{ITEM}.default", False, 17, '"1.41.0-python"', '"1.50.0-python"'),
        (f"{ITEM}.help_text", True, 16, "e.g. 1.41.0-python", "e.g. 1.50.0-python"),
    ],
)
def test_rewrites_one_value_keeping_quotes_anchors_comments_and_endings(
    ending: str, path: str, within: bool, line: int, old_line: str, new_line: str
) -> None:
    text = BEFORE.replace("\n", ending)
    new, change = yaml_value.rewrite(text, "1.50.0-python", "v.yaml", path, "tag", within)
    assert new == text.replace(old_line, new_line, 1)
    assert change == Change("v.yaml", line, "1.41.0-python", "1.50.0-python")


def test_read_gives_the_value_and_its_line() -> None:
    found = yaml_value.read(BEFORE, "v.yaml", f"{ITEM}.default", "tag")
    assert (found.line, found.value, found.holds) == (17, "1.41.0-python", "tag")


def test_a_missing_key_is_not_present() -> None:
    with pytest.raises(NotPresent, match=r"no 'nope' on the key path global.nope"):
        yaml_value.read(BEFORE, "v.yaml", "global.nope", "tag")


def test_an_alias_is_refused_pointing_at_the_anchor() -> None:
    with pytest.raises(UsageError, match=r"v.yaml:18: mirror is an alias"):
        yaml_value.read(BEFORE, "v.yaml", "mirror", "tag")


def test_a_selector_that_matches_nothing_is_refused() -> None:
    with pytest.raises(UsageError, match=r"no list item has name: nope"):
        yaml_value.read(BEFORE, "v.yaml", "spec.groups[name=nope].items", "tag")


def test_prose_mentioning_two_tags_is_refused() -> None:
    text = BEFORE.replace("e.g. 1.41.0-python", "e.g. 1.41.0-python or 1.40.0-python")
    with pytest.raises(UsageError, match=r"exactly one tag"):
        yaml_value.read(text, "v.yaml", f"{ITEM}.help_text", "tag", within=True)


def test_a_mapping_is_not_a_value() -> None:
    with pytest.raises(UsageError, match=r"not a plain or quoted one-line value"):
        yaml_value.read(BEFORE, "v.yaml", "global.agentServerImage", "tag")


@pytest.mark.parametrize("path", ["", "a..b", "a[", "a[x]"])
def test_a_bad_key_path_is_refused(path: str) -> None:
    with pytest.raises(UsageError):
        yaml_value.parse_path(path, "pinbot.toml")


def test_index_steps_work() -> None:
    found = yaml_value.read(BEFORE, "v.yaml", "spec.groups[1].items[0].default", "tag")
    assert found.line == 17
