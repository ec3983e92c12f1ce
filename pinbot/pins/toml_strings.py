"""Where each string of a TOML document sits, and under which key: enough to splice one.

`tomllib` says what a document means but not where anything is written. This lexer walks the
text once and reports every string literal (comments skipped) with its key path — table header,
dotted keys and inline-table keys — and whether it sits in an array. Callers cross-check what
it finds against `tomllib`'s reading and refuse when the two disagree, so an exotic construct
this lexer misreads is refused, never silently mis-edited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pinbot.errors import UsageError
from pinbot.pins.text import Lines

_TOKEN = re.compile(
    r"""
      (?P<comment>\#[^\r\n]*)
    | (?P<ml>\"\"\"(?:\\.|[^\\])*?\"\"\"\"{0,2}|'''.*?''''{0,2})
    | (?P<basic>"(?:\\.|[^"\\\r\n])*")
    | (?P<literal>'[^'\r\n]*')
    | (?P<newline>\r\n|\n|\r)
    | (?P<punct>[\[\]{}=,.])
    | (?P<bare>[A-Za-z0-9_+:-]+)
    | (?P<space>[ \t]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class TomlString:
    """One string literal: its decoded value and where its content sits in the text."""

    path: tuple[str, ...]
    in_array: bool
    value: str
    start: int  # offset of the first character inside the quotes
    end: int
    line: int
    raw: bool  # the content is written exactly as the value (no escapes): safe to splice


@dataclass
class _Frame:
    kind: str  # "[" or "{"
    path: tuple[str, ...]


class _Lexer:
    def __init__(self, text: str, file: str) -> None:
        self.text, self.file = text, file
        self.lines = Lines(text)
        self.table: tuple[str, ...] = ()
        self.keys: list[str] = []  # dotted key being read (before `=`)
        self.stack: list[_Frame] = []
        self.value_path: tuple[str, ...] | None = None  # the key whose value is being read
        self.header: list[str] | None = None  # parts of a `[table]` header being read
        self.line_start = True
        self.found: list[TomlString] = []

    def run(self) -> list[TomlString]:
        for match in _TOKEN.finditer(self.text):
            kind = match.lastgroup or "other"
            if kind in ("space", "comment"):
                continue
            self._token(kind, match)
        return self.found

    def _token(self, kind: str, match: re.Match[str]) -> None:
        at_start, self.line_start = self.line_start, kind == "newline"
        if kind == "newline":
            if not self.stack:
                self.value_path = None
                self.keys = []
            return
        if self.header is not None:
            return self._in_header(kind, match)
        if at_start and not self.stack and self.value_path is None and match.group() == "[":
            self.header = []
            return None
        if kind in ("basic", "literal", "ml"):
            return self._string(kind, match)
        if kind == "punct":
            return self._punct(match.group())
        if kind == "bare" and self._reading_key():
            self.keys.append(match.group())
        return None

    def _reading_key(self) -> bool:
        return (not self.stack and self.value_path is None) or (
            bool(self.stack) and self.stack[-1].kind == "{" and self.value_path is None
        )

    def _in_header(self, kind: str, match: re.Match[str]) -> None:
        assert self.header is not None
        token = match.group()
        if kind == "bare":
            self.header.append(token)
        elif kind in ("basic", "literal"):
            self.header.append(_decode(token))
        elif token == "]":
            self.table, self.header = tuple(self.header), None
            self.keys = []

    def _punct(self, token: str) -> None:
        if token == "=" and self._reading_key():
            self.value_path = (*self._base(), *self.keys)
            self.keys = []
        elif token in "[{":
            path = self.value_path if self.value_path is not None else self._base()
            self.stack.append(_Frame(token, path))
            self.value_path = None
        elif token in "]}" and self.stack:
            # The value that just closed is complete: no key is read until the next `,`.
            self.value_path = self.stack.pop().path
        elif token == "," and self.stack and self.stack[-1].kind == "{":
            self.value_path = None

    def _base(self) -> tuple[str, ...]:
        return self.stack[-1].path if self.stack else self.table

    def _string(self, kind: str, match: re.Match[str]) -> None:
        token = match.group()
        if self._reading_key():
            self.keys.append(_decode(token))
            return
        in_array = bool(self.stack) and self.stack[-1].kind == "["
        path = self.stack[-1].path if in_array else self.value_path
        if path is None:
            raise UsageError(f"{self.file}:{self.lines.at(match.start())}: unexpected string")
        quote = 3 if kind == "ml" else 1
        start, end = match.start() + quote, match.end() - quote
        value = _decode(token)
        raw = self.text[start:end] == value
        line = self.lines.at(start)
        self.found.append(TomlString(path, in_array, value, start, end, line, raw))


def _decode(token: str) -> str:
    """A string token's value; basic strings are decoded by tomllib itself."""
    import tomllib

    if token.startswith(("'''", '"""')):
        token = token[:3] + token[3:-3].replace("\r\n", "\n") + token[-3:]
    if token.startswith("'"):
        return token[3:-3] if token.startswith("'''") else token[1:-1]
    if not token.startswith('"""') and "\\" not in token:
        return token[1:-1]  # nothing to decode (most strings of a lock: a hash, a file name)
    try:
        return str(tomllib.loads(f"v = {token}")["v"])
    except tomllib.TOMLDecodeError:
        return token


def strings(text: str, file: str) -> list[TomlString]:
    """Every string literal that is a value (keys excluded), in order."""
    return _Lexer(text, file).run()
