"""Versions a team chose never to take: config `ignore`, tag patterns beside rollback holds.

A rollback holds one image because a human reverted its pin (pinbot/holds.py); `ignore` holds
back every tag a pattern matches (`ignore = ["1.45.*"]`), the way Renovate's `ignoreVersions`
does. Scan shows such a candidate as `ignored`, never selects it, and `cut --latest` passes over
it; an explicit `cut --tag` is a human's choice and is not second-guessed. Patterns are shell
globs (`*`, `?`, `[...]`) matched against the whole tag.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Sequence

from pinbot.model import Candidate, Evidence

NAME = "ignore"
VERDICT = "ignored"
PATTERN = re.compile(r"[A-Za-z0-9_.*?\[\]!-]{1,128}\Z")  # a tag's characters, and glob's


def matching(patterns: Sequence[str], tag: str) -> str | None:
    """The first pattern that matches `tag`, or None."""
    return next((p for p in patterns if fnmatch.fnmatchcase(tag, p)), None)


def mark(candidate: Candidate, pattern: str) -> Candidate:
    """`candidate` as scan shows an ignored tag: verdict `ignored`, the reason first."""
    line = Evidence(NAME, "fail", f"{candidate.tag} matches ignore pattern {pattern!r} (config)")
    return dataclasses.replace(candidate, verdict=VERDICT, evidence=(line, *candidate.evidence))
