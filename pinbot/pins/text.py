"""What the surgical rewriters share: changes, line arithmetic. Pure: text in, data out.

Each rewriter finds its site exactly (a parser, not a guess), replaces only the value, keeps
everything else byte for byte, and re-reads the result to prove only that value changed. A
missing, duplicated or non-literal site is a UsageError naming the file and line.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from pinbot.errors import UsageError

# Python and YAML both end a line at \r\n, \r or \n; offsets must agree with their parsers.
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Change:
    """One value replaced at one site (line is 1-based)."""

    file: str
    line: int
    old: str
    new: str

    def to_json(self, repo: str) -> dict[str, object]:
        return {
            "repo": repo,
            "file": self.file,
            "line": self.line,
            "old": self.old,
            "new": self.new,
        }


class NotPresent(UsageError):
    """The file holds no such site. For an optional site that only means it is absent."""


@dataclass(frozen=True)
class Site:
    """A value read from a pin site, for checks that do not edit (the gate)."""

    file: str
    line: int
    value: str


def line_starts(text: str) -> list[int]:
    """Offset of the first character of each line; index 0 is line 1."""
    return [0, *(m.end() for m in _LINE_END.finditer(text))]


def line_at(text: str, offset: int) -> int:
    """1-based line number of the character at `offset` (one lookup; for many, use Lines)."""
    return Lines(text).at(offset)


class Lines:
    """Line numbers of many offsets in one text: the line starts are found once, then each
    lookup is a bisection. (Rescanning from the top per lookup made reading the real 1.25 MB
    poetry.lock, 21,561 strings, quadratic: over a minute.)"""

    def __init__(self, text: str) -> None:
        self.starts = line_starts(text)

    def at(self, offset: int) -> int:
        """1-based line number of the character at `offset`."""
        return bisect_right(self.starts, offset)


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split the way Python and YAML split them."""
    starts = line_starts(text)
    ends = [*starts[1:], len(text)]
    return [text[a:b] for a, b in zip(starts, ends, strict=True) if a < b or a == 0]


def changed_lines(old: str, new: str) -> int:
    """How many lines differ; the rewriters promise a fixed number."""
    before, after = split_lines(old), split_lines(new)
    if len(before) != len(after):
        return max(len(before), len(after))
    return sum(1 for a, b in zip(before, after, strict=True) if a != b)


def compose_yaml(text: str, file: str, what: str) -> Any:
    """The YAML node tree of `text` (None for an empty document), with line marks to splice
    at; YAML that does not parse, or nests too deep to, is bad input naming `file`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML().compose(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise UsageError(f"{file}:{line}: not valid YAML ({exc.problem})") from None
    except YAMLError as exc:
        raise UsageError(f"{file}: not valid YAML ({exc})") from None
    except RecursionError:
        raise UsageError(f"{file}: nests YAML too deep for {what}; refusing it") from None
