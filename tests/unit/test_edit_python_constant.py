from __future__ import annotations

import pytest

from pinbot.errors import UsageError
from pinbot.pins import python_constant
from pinbot.pins.text import Change

FILE = "openhands/app_server/sandbox/sandbox_spec_service.py"
NAME = "AGENT_SERVER_IMAGE"
REPO = "ghcr.io/openhands/agent-server"

BEFORE = """\
import os

# The version of the agent server to use for deployments.
# AGENT_SERVER_IMAGE = 'ghcr.io/openhands/agent-server:0.1.0-python' (old, kept for history)
AGENT_SERVER_IMAGE = 'ghcr.io/openhands/agent-server:1.26.0-python'  # keep in sync with compose


def get_agent_server_image() -> str:
    repository = os.getenv('AGENT_SERVER_IMAGE_REPOSITORY')
    tag = os.getenv('AGENT_SERVER_IMAGE_TAG')
    if repository and tag:
        return f'{repository}:{tag}'
    return AGENT_SERVER_IMAGE
"""

AFTER = BEFORE.replace(
    "AGENT_SERVER_IMAGE = 'ghcr.io/openhands/agent-server:1.26.0-python'",
    "AGENT_SERVER_IMAGE = 'ghcr.io/openhands/agent-server:1.43.1-python'",
)


def rewrite(text: str, tag: str = "1.43.1-python") -> tuple[str, Change]:
    return python_constant.rewrite(text, tag, FILE, NAME, REPO)


def test_replaces_only_the_tag_and_reports_the_line() -> None:
    new, change = rewrite(BEFORE)
    assert new == AFTER
    assert change == Change(FILE, 5, f"{REPO}:1.26.0-python", f"{REPO}:1.43.1-python")


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_keeps_crlf_and_cr_line_endings(ending: str) -> None:
    new, change = rewrite(BEFORE.replace("\n", ending))
    assert new == AFTER.replace("\n", ending)
    assert change.line == 5


def test_keeps_mixed_line_endings_exactly() -> None:
    lines = BEFORE.splitlines(keepends=True)
    mixed = "".join(line.replace("\n", "\r\n") if i % 2 else line for i, line in enumerate(lines))
    new, _ = rewrite(mixed)
    assert new == mixed.replace("1.26.0-python'", "1.43.1-python'")
    assert new.count("\r\n") == mixed.count("\r\n")


@pytest.mark.parametrize(
    "literal",
    [
        '"ghcr.io/openhands/agent-server:1.26.0-python"',
        "r'ghcr.io/openhands/agent-server:1.26.0-python'",
        "'''ghcr.io/openhands/agent-server:1.26.0-python'''",
        "('ghcr.io/openhands/agent-server:1.26.0-python')",
    ],
)
def test_keeps_the_quote_style(literal: str) -> None:
    text = f"X = 1\nAGENT_SERVER_IMAGE = {literal}\n"
    new, _ = rewrite(text)
    assert new == text.replace("1.26.0-python", "1.43.1-python")


def test_annotated_assignment_and_non_ascii_comment_before_the_literal() -> None:
    text = "# café ☕\nAGENT_SERVER_IMAGE: str = 'ghcr.io/openhands/agent-server:1.26.0-python'\n"
    new, change = rewrite(text)
    assert new == text.replace("1.26.0", "1.43.1")
    assert change.line == 2


def test_decode_honours_a_coding_cookie_and_a_bom() -> None:
    latin = f"# -*- coding: latin-1 -*-\n# é\nAGENT_SERVER_IMAGE = '{REPO}:1.26.0-python'\n"
    text, encoding = python_constant.decode(latin.encode("latin-1"), FILE)
    assert (text, encoding) == (latin, "iso-8859-1")
    bom = "\ufeffAGENT_SERVER_IMAGE = 'ghcr.io/openhands/agent-server:1.26.0-python'\n"
    text, encoding = python_constant.decode(bom.encode("utf-8"), FILE)
    assert encoding == "utf-8-sig"
    assert rewrite(text)[0].encode(encoding).startswith(b"\xef\xbb\xbfAGENT")


def test_read_returns_the_pinned_reference() -> None:
    site = python_constant.read(BEFORE, FILE, NAME)
    assert (site.file, site.line, site.value) == (FILE, 5, f"{REPO}:1.26.0-python")


def test_names_in_functions_and_classes_do_not_count() -> None:
    text = (
        BEFORE
        + "\n\nclass Spec:\n    AGENT_SERVER_IMAGE = 'other:1'\n"
        + "\n\ndef f():\n    AGENT_SERVER_IMAGE = 'x:2'\n"
    )
    assert rewrite(text)[0] == AFTER + text[len(BEFORE) :]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("X = 1\n", f"{FILE}: no module-level AGENT_SERVER_IMAGE"),
        (
            BEFORE + "AGENT_SERVER_IMAGE = 'ghcr.io/openhands/agent-server:1.0.0-python'\n",
            "assigned 2 times (lines 5, 14)",
        ),
        (
            "if X:\n    AGENT_SERVER_IMAGE = 'a.io/b:1'\n"
            "else:\n    AGENT_SERVER_IMAGE = 'a.io/b:2'\n",
            "assigned 2 times (lines 2, 4)",
        ),
        (
            "TAG = '1'\nAGENT_SERVER_IMAGE = f'ghcr.io/openhands/agent-server:{TAG}'\n",
            f"{FILE}:2: AGENT_SERVER_IMAGE is built with an f-string",
        ),
        (
            "AGENT_SERVER_IMAGE = os.environ['IMAGE']\n",
            f"{FILE}:1: AGENT_SERVER_IMAGE is not a string literal",
        ),
        (
            "AGENT_SERVER_IMAGE = 'ghcr.io/openhands/' 'agent-server:1.26.0-python'\n",
            "not one plain string literal",
        ),
        (
            "AGENT_SERVER_IMAGE = 'ghcr.io/openhands/agent-server:1.26.0-pyth\\x6fn'\n",
            "not one plain string literal",
        ),
        (
            "AGENT_SERVER_IMAGE = b'ghcr.io/openhands/agent-server:1.26.0-python'\n",
            "not a string literal",
        ),
        (
            "AGENT_SERVER_IMAGE, B = 'a', 'b'\n",
            f"{FILE}:1: AGENT_SERVER_IMAGE is not bound by a plain",
        ),
        ("from x import y as AGENT_SERVER_IMAGE\n", "no module-level"),
        ("AGENT_SERVER_IMAGE = 'agent-server:1.26.0-python'\n", "names no repository"),
        (
            "AGENT_SERVER_IMAGE = 'ghcr.io/openhands/agent-server@sha256:" + "a" * 64 + "'\n",
            "must be REPO:TAG",
        ),
        ("AGENT_SERVER_IMAGE = 'ghcr.io/x\n", f"{FILE}:1: not valid Python"),
    ],
)
def test_refuses_anything_but_one_plain_literal(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        rewrite(text)
    assert FILE in str(info.value)


def test_refuses_another_repository_and_an_invalid_tag() -> None:
    with pytest.raises(
        UsageError, match=r"pins ghcr\.io/openhands/agent-server, not ghcr\.io/other/x"
    ):
        python_constant.rewrite(BEFORE, "1.43.1-python", FILE, NAME, "ghcr.io/other/x")
    with pytest.raises(UsageError, match="not a valid image tag"):
        rewrite(BEFORE, "1.43.1 python")
