from __future__ import annotations

import pytest

from pinbot.edits import Change, workflow
from pinbot.errors import UsageError

FILE = ".github/workflows/deploy.yaml"
KEY = "OPENHANDS_SHA"
OLD = "1" * 40
NEW = "abcdef0123456789abcdef0123456789abcdef01"

BEFORE = f"""\
name: Deploy
on:
  workflow_dispatch:

# Everything production runs is pinned here.
env:
  # The OpenHands commit to deploy; pinbot moves it.
  OPENHANDS_SHA: {OLD}   # from the backend branch
  OPENHANDS_RUNTIME_IMAGE_TAG: "0.62-nikolaik"
  RUNTIME_API_SHA: '{"2" * 40}'

jobs:
  deploy:
    runs-on: ubuntu-latest
    env:
      OPENHANDS_SHA: {"3" * 40}  # a job-level value is not the pin
    steps:
      - run: echo "$OPENHANDS_SHA"
"""


def rewrite(text: str) -> tuple[str, Change]:
    return workflow.rewrite(text, NEW, FILE, KEY)


def test_rewrites_one_line_and_keeps_the_comment() -> None:
    new, change = rewrite(BEFORE)
    assert new == BEFORE.replace(f"OPENHANDS_SHA: {OLD}   #", f"OPENHANDS_SHA: {NEW}   #")
    assert change == Change(FILE, 8, OLD, NEW)


@pytest.mark.parametrize("quote", ["'", '"'])
def test_keeps_quotes(quote: str) -> None:
    text = BEFORE.replace(f" {OLD} ", f" {quote}{OLD}{quote} ")
    assert rewrite(text)[0] == text.replace(OLD, NEW)


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_keeps_line_endings(ending: str) -> None:
    new, change = rewrite(BEFORE.replace("\n", ending))
    assert new == BEFORE.replace("\n", ending).replace(OLD, NEW)
    assert change.line == 8


def test_mixed_line_endings() -> None:
    text = BEFORE.replace("env:\n", "env:\r\n", 1)
    assert rewrite(text)[0] == text.replace(OLD, NEW)


def test_anchors_merge_keys_and_flow_style_are_kept() -> None:
    text = f"""\
on: push
env: &deploy_env   # shared with the jobs
  OPENHANDS_SHA: &sha "{OLD}"
  RUNTIME_API_SHA: {"2" * 40}
jobs:
  deploy: {{runs-on: ubuntu, env: {{<<: *deploy_env, EXTRA: *sha}}, steps: [{{run: "true"}}]}}
"""
    new, change = rewrite(text)
    assert new == text.replace(OLD, NEW)
    assert change.line == 3


def test_read_returns_the_value_as_written() -> None:
    site = workflow.read(BEFORE, FILE, KEY)
    assert (site.line, site.value) == (8, OLD)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            BEFORE.replace("OPENHANDS_SHA: " + OLD, "OTHER: x"),
            f"{FILE}:6: no 'OPENHANDS_SHA' key in the top-level env",
        ),
        ("on: push\njobs: {}\n", f"{FILE}:1: no 'env' key in top level"),
        (
            BEFORE.replace("  RUNTIME_API_SHA", f"  OPENHANDS_SHA: {OLD}\n  RUNTIME_API_SHA"),
            "'OPENHANDS_SHA' appears 2 times",
        ),
        (
            BEFORE.replace(f"OPENHANDS_SHA: {OLD}", "OPENHANDS_SHA:"),
            f"{FILE}:8: env.OPENHANDS_SHA is not a plain or quoted",
        ),
        (
            BEFORE.replace(f"OPENHANDS_SHA: {OLD}", "OPENHANDS_SHA: |\n    " + OLD),
            "is not a plain or quoted",
        ),
        (f"x: &s {OLD}\nenv:\n  OPENHANDS_SHA: *s\n", "is not a plain or quoted"),
        (
            f"base: &e {{OPENHANDS_SHA: {OLD}}}\nenv: *e\n",
            f"{FILE}:2: the top-level env is not a plain mapping",
        ),
        ('env:\n  OPENHANDS_SHA: "\\x31' + OLD[1:] + '"\n', "is not a plain or quoted"),
        ("env: [\n", f"{FILE}:2: not valid YAML"),
        ("- a\n", "expected a workflow"),
    ],
)
def test_refuses_missing_duplicated_or_odd_values(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        rewrite(text)


def test_refuses_an_invalid_new_sha() -> None:
    with pytest.raises(UsageError, match="not a full commit sha"):
        workflow.rewrite(BEFORE, "abc", FILE, KEY)
