"""The `${AGENT_SERVER_IMAGE_TAG:-<tag>}` defaults in the OpenHands compose files.

OpenHands CI fails unless these defaults carry the same tag as AGENT_SERVER_IMAGE, so each file
must hold at least one, and all of a file's defaults must agree before pinbot rewrites them: two
different defaults in one file mean the file is already inconsistent, and pinbot does not guess
which one is the pin.
"""

from __future__ import annotations

import re

from pinbot.errors import UsageError
from pinbot.model import TAG_RE, validate_tag
from pinbot.pins.text import Change, NotPresent, Site, line_at


def _pattern(variable: str) -> re.Pattern[str]:
    # `${VAR:-default}`: the `${` and `:-` anchor both ends of the name, so VAR_SUFFIX never
    # matches; the default runs to the closing brace and is checked to be a plain tag.
    return re.compile(r"\$\{" + re.escape(variable) + r":-(?P<tag>[^}\s]*)\}")


def read(text: str, file: str, variable: str) -> list[Site]:
    """Every default of `variable` in the file, in order; refuses a file with none."""
    sites = [
        Site(file, line_at(text, m.start("tag")), m.group("tag"))
        for m in _pattern(variable).finditer(text)
    ]
    if not sites:
        raise NotPresent(
            f"{file}: no ${{{variable}:-<tag>}} default found: check config pin.compose_files "
            "and pin.compose_variable"
        )
    for site in sites:
        if not TAG_RE.match(site.value):
            raise UsageError(
                f"{file}:{site.line}: the {variable} default {site.value!r} is not a plain tag: "
                "write a literal tag there"
            )
    return sites


def rewrite(text: str, tag: str, file: str, variable: str) -> tuple[str, list[Change]]:
    """Set every default of `variable` to `tag`; they must all agree beforehand."""
    validate_tag(tag)
    sites = read(text, file, variable)
    values = sorted({site.value for site in sites})
    if len(values) > 1:
        where = ", ".join(f"line {s.line}: {s.value}" for s in sites)
        raise UsageError(
            f"{file}: the {variable} defaults disagree ({where}): make them agree, then re-run"
        )
    matches = list(_pattern(variable).finditer(text))
    new_text = text
    for match in reversed(matches):  # back to front, so earlier offsets stay valid
        new_text = new_text[: match.start("tag")] + tag + new_text[match.end("tag") :]
    if len(_pattern(variable).findall(new_text)) != len(matches):
        raise AssertionError(f"{file}: rewriting {variable} changed the number of defaults")
    return new_text, [Change(file, site.line, site.value, tag) for site in sites]
