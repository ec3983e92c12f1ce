from __future__ import annotations

import pytest

from pinbot.errors import UsageError
from pinbot.pins import compose
from pinbot.pins.text import Change

FILE = "docker-compose.yml"
VAR = "AGENT_SERVER_IMAGE_TAG"

BEFORE = """\
services:
  openhands:
    image: openhands:latest
    environment:
      # The agent-server image; OpenHands CI checks this default against AGENT_SERVER_IMAGE.
      - AGENT_SERVER_IMAGE_REPOSITORY=${AGENT_SERVER_IMAGE_REPOSITORY:-ghcr.io/openhands/a-s}
      - AGENT_SERVER_IMAGE_TAG=${AGENT_SERVER_IMAGE_TAG:-1.26.0-python}
      - AGENT_SERVER_IMAGE_TAG_SUFFIX=${AGENT_SERVER_IMAGE_TAG_SUFFIX:-ignored}
    ports:
      - "3000:3000"
"""
AFTER = BEFORE.replace(":-1.26.0-python}", ":-1.43.1-python}")


def test_rewrites_the_default_and_nothing_else() -> None:
    new, changes = compose.rewrite(BEFORE, "1.43.1-python", FILE, VAR)
    assert new == AFTER
    assert changes == [Change(FILE, 7, "1.26.0-python", "1.43.1-python")]


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_keeps_line_endings(ending: str) -> None:
    new, changes = compose.rewrite(BEFORE.replace("\n", ending), "1.43.1-python", FILE, VAR)
    assert new == AFTER.replace("\n", ending)
    assert changes[0].line == 7


def test_mixed_endings_and_every_agreeing_default_are_rewritten() -> None:
    text = (
        BEFORE
        + "  worker:\r\n    environment:\r\n      TAG: ${AGENT_SERVER_IMAGE_TAG:-1.26.0-python}\r\n"
    )
    new, changes = compose.rewrite(text, "1.43.1-python", FILE, VAR)
    assert new == text.replace(":-1.26.0-python}", ":-1.43.1-python}")
    assert [c.line for c in changes] == [7, 13]


def test_read_lists_every_default() -> None:
    sites = compose.read(BEFORE, FILE, VAR)
    assert [(s.line, s.value) for s in sites] == [(7, "1.26.0-python")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: {}\n", f"{FILE}: no \\$\\{{AGENT_SERVER_IMAGE_TAG:-<tag>}} default found"),
        (
            BEFORE + "# ${AGENT_SERVER_IMAGE_TAG:-1.25.0-python}\n",
            "defaults disagree \\(line 7: 1.26.0-python, line 11: 1.25.0-python\\)",
        ),
        (
            "x: ${AGENT_SERVER_IMAGE_TAG:-${OTHER}}\n",
            f"{FILE}:1: the AGENT_SERVER_IMAGE_TAG default '\\$\\{{OTHER' is not a plain tag",
        ),
        ("x: ${AGENT_SERVER_IMAGE_TAG:-}\n", "'' is not a plain tag"),
    ],
)
def test_refuses_missing_ambiguous_or_odd_defaults(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        compose.rewrite(text, "1.43.1-python", FILE, VAR)
