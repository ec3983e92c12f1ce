"""Exact pins of packages, wherever Python projects write them: a version
(`openhands-sdk==1.34.0`) or a git revision (`{ git = …, rev = "be9725b…" }`,
`openhands-sdk @ git+https://…@be9725b…#subdirectory=openhands-sdk`).

In `pyproject.toml`: `[project].dependencies`, `[project.optional-dependencies]` and
`[tool.poetry.dependencies]` (and its groups) in string (`openhands-sdk = "==1.34.0"`) and table
(`{ version = "==1.34.0" }`, `{ git = …, subdirectory = …, rev = … }`) form; elsewhere a
requirements file, one requirement per line. A commented-out line is not a pin.
Requirements are parsed with `packaging`; the TOML is located by `toml_strings` and cross-checked
against `tomllib`, and every rewrite is re-read to prove only the versions changed.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pinbot.errors import UsageError
from pinbot.pins import Found, Target
from pinbot.pins.text import Change, line_starts
from pinbot.pins.toml_strings import TomlString, strings

_EXACT = re.compile(r"(?P<op>===?)\s*(?P<version>[^\s,;]+)")
_POETRY = re.compile(r"\s*(?:===?\s*)?(?P<version>[^\s,]+)\s*\Z")
_REV = re.compile(r"[0-9a-fA-F]{7,40}\Z")
# The revision of a PEP 508 git URL: `git+https://host/repo.git@<rev>#subdirectory=…`.
_URL_REV = re.compile(r"git\+[^#\s;]*@(?P<rev>[0-9a-fA-F]{7,40})(?=[#\s;]|\Z)")


@dataclass(frozen=True)
class _Pin:
    package: str
    version: str
    line: int
    start: int  # offset of the version's text
    end: int
    where: str  # the table (or "requirements") it is written in
    holds: str = "version"  # or "rev": `version` is then the git revision

    def found(self, file: str) -> Found:
        return Found(file, self.line, self.holds, self.version, self.label(self.version))

    def label(self, value: str) -> str:
        if self.holds == "rev":
            return f"{self.package} @ git rev {value}"
        return f"{self.package}=={value}"

    def new_value(self, target: Target | str, file: str) -> str:
        """What this pin says for `target` (a bare string: a version)."""
        where = f"{file}:{self.line}"
        if isinstance(target, str):
            if self.holds == "rev":
                raise UsageError(f"{where}: {self.package} is pinned by git revision, not version")
            return target
        if self.holds == "rev":
            return target.revision(self.version, where)
        return target.text("version", where)


def read(text: str, file: str, packages: Sequence[str]) -> list[Found]:
    """Every exact pin of `packages` in the file, in order (none: an empty list)."""
    return [pin.found(file) for pin in _pins(text, file, packages)]


def rewrite(
    text: str, target: Target | str, file: str, packages: Sequence[str]
) -> tuple[str, list[Change]]:
    """Move every pin of `packages` to `target` (a version pin to its version, a git revision
    pin to its build commit); the rest of the file stays byte for byte."""
    pins = _pins(text, file, packages)
    values = [pin.new_value(target, file) for pin in pins]
    for pin, value in zip(pins, values, strict=True):
        if pin.holds == "version":
            _check_version(value, file)
    new = text
    for pin, value in reversed(list(zip(pins, values, strict=True))):  # back to front
        new = new[: pin.start] + value + new[pin.end :]
    _confirm(text, new, file, packages, values)
    return new, [
        Change(file, p.line, p.label(p.version), p.label(value))
        for p, value in zip(pins, values, strict=True)
        if p.version != value
    ]


def _check_version(version: str, file: str) -> None:
    try:
        Version(version)
    except InvalidVersion:
        raise UsageError(f"{file}: {version!r} is not a package version") from None


def _pins(text: str, file: str, packages: Sequence[str]) -> list[_Pin]:
    wanted: set[str] = {canonicalize_name(p) for p in packages}
    if file.endswith(".toml"):
        return _toml_pins(text, file, wanted)
    return _requirements_pins(text, file, wanted)


# --- pyproject.toml ---------------------------------------------------------------------------


def _toml_pins(text: str, file: str, wanted: set[str]) -> list[_Pin]:
    meant = _meant(_load(text, file), wanted, file)
    found = [
        pin
        for string in strings(text, file)
        if (pin := _toml_pin(text, string, wanted, file)) is not None
    ]
    written = Counter((p.where, p.package) for p in found)
    if written != meant:
        missing = ", ".join(f"{pkg} in {where}" for where, pkg in sorted(meant - written))
        extra = ", ".join(f"{pkg} in {where}" for where, pkg in sorted(written - meant))
        raise UsageError(
            f"{file}: cannot locate every pin surgically ({missing or extra}): write each "
            'on one line, as a string (openhands-sdk = "1.34.0", "openhands-sdk==1.34.0") or '
            'an inline table (openhands-sdk = { version = "1.34.0" } or { git = "…", '
            'subdirectory = "openhands-sdk", rev = "<commit>" })'
        )
    return found


def _load(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file}: not valid TOML ({exc})") from None
    except RecursionError:
        raise UsageError(f"{file}: nests TOML too deep; refusing it") from None


def _meant(doc: dict[str, Any], wanted: set[str], file: str) -> Counter[tuple[str, str]]:
    """(table, package) of every pin tomllib sees: what the lexer must find, no more, no less."""
    found: Counter[tuple[str, str]] = Counter()
    for where, items in _requirement_lists(doc):
        for item in items:
            name = _requirement_name(item)
            if name in wanted:
                found[(where, name)] += 1
    for where, table in _poetry_tables(doc):
        for key in table:
            if canonicalize_name(key) in wanted:
                found[(where, canonicalize_name(key))] += 1
    return found


def _requirement_lists(doc: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    project = doc.get("project", {})
    lists = [("project.dependencies", project.get("dependencies", []))]
    for extra, items in project.get("optional-dependencies", {}).items():
        lists.append((f"project.optional-dependencies.{extra}", items))
    return [(where, items) for where, items in lists if isinstance(items, list)]


def _poetry_tables(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    poetry = doc.get("tool", {}).get("poetry", {})
    tables = [("tool.poetry.dependencies", poetry.get("dependencies", {}))]
    for group, body in poetry.get("group", {}).items():
        deps = body.get("dependencies", {}) if isinstance(body, dict) else {}
        tables.append((f"tool.poetry.group.{group}.dependencies", deps))
    return [(where, table) for where, table in tables if isinstance(table, dict)]


def _requirement_name(item: Any) -> str | None:
    try:
        return canonicalize_name(Requirement(item).name) if isinstance(item, str) else None
    except InvalidRequirement:
        return None


def _toml_pin(text: str, string: TomlString, wanted: set[str], file: str) -> _Pin | None:
    path = string.path
    where = ".".join(path)
    if string.in_array and _is_requirement_list(path):
        name = _requirement_name(string.value)
        if name not in wanted:
            return None
        if (rev := _url_rev_span(string.value)) is not None:
            return _revision(string, name, where, file, rev)
        return _exact(text, string, name, where, file, _pep508_span(string.value))
    poetry = _poetry_key(path)
    if poetry is None or string.in_array or canonicalize_name(poetry[1]) not in wanted:
        return None
    table, key, field = poetry
    name = canonicalize_name(key)
    if field in ("git", "subdirectory"):
        return None  # where the revision comes from, not the pin itself
    if field == "rev":
        return _revision(string, name, table, file, _rev_span(string.value))
    if field not in ("", "version"):
        raise UsageError(
            f"{file}:{string.line}: {name} is pinned by git {field} {string.value!r}, which "
            f'moves: pin it by a commit (rev = "<40 hex>") or a version so pinbot can move it'
        )
    return _exact(text, string, name, table, file, _poetry_span(string.value))


def _is_requirement_list(path: tuple[str, ...]) -> bool:
    return path == ("project", "dependencies") or (
        len(path) == 3 and path[:2] == ("project", "optional-dependencies")
    )


def _poetry_key(path: tuple[str, ...]) -> tuple[str, str, str] | None:
    """(table, package, field) for a string under a poetry dependency table, else None; the
    field is "" for `pkg = "1.2.3"`, else the inline table's key (version, rev, git, …)."""
    if path[:2] != ("tool", "poetry"):
        return None
    rest = path[2:]
    if rest[:1] == ("group",) and len(rest) >= 4 and rest[2] == "dependencies":
        table, tail = f"tool.poetry.group.{rest[1]}.dependencies", rest[3:]
    elif rest[:1] == ("dependencies",):
        table, tail = "tool.poetry.dependencies", rest[1:]
    else:
        return None
    if len(tail) == 1:
        return table, tail[0], ""
    if len(tail) == 2 and tail[1] in ("version", "rev", "git", "subdirectory", "branch", "tag"):
        return table, tail[0], tail[1]
    return None


def _pep508_span(value: str) -> tuple[int, int] | None:
    """Where the version of a `name==X` requirement is written, markers left out."""
    head = value.split(";", 1)[0]
    spec = Requirement(value).specifier
    matches = list(_EXACT.finditer(head))
    if len(spec) != 1 or len(matches) != 1:
        return None
    return matches[0].span("version")


def _url_rev_span(value: str) -> tuple[int, int] | None:
    """Where the revision of a `name @ git+…@<rev>` requirement is written (None: no URL)."""
    if "@" not in value.split(";", 1)[0] or "git+" not in value:
        return None
    match = _URL_REV.search(value)
    return match.span("rev") if match else (0, 0)


def _rev_span(value: str) -> tuple[int, int] | None:
    return (0, len(value)) if _REV.match(value) else None


def _revision(
    string: TomlString, name: str, where: str, file: str, span: tuple[int, int] | None
) -> _Pin:
    if span is None or span == (0, 0) or not string.raw:
        raise UsageError(
            f"{file}:{string.line}: {name} is written {string.value!r}, not at one git commit: "
            "pin it at a commit (a rev of 7 to 40 hex) so pinbot can move it"
        )
    rev = string.value[span[0] : span[1]]
    start = string.start + span[0]
    return _Pin(name, rev, string.line, start, start + len(rev), where, "rev")


def _poetry_span(value: str) -> tuple[int, int] | None:
    match = _POETRY.match(value)
    return match.span("version") if match else None


def _exact(
    text: str,
    string: TomlString,
    name: str,
    where: str,
    file: str,
    span: tuple[int, int] | None,
) -> _Pin:
    line = string.line
    if span is None or not string.raw:
        raise UsageError(
            f"{file}:{line}: {name} is written {string.value!r}, not as one exact version: "
            f'pin it exactly ("{name}==1.2.3") so pinbot can move it'
        )
    version = string.value[span[0] : span[1]]
    _valid(version, name, f"{file}:{line}")
    return _Pin(name, version, line, string.start + span[0], string.start + span[1], where)


def _valid(version: str, name: str, where: str) -> None:
    try:
        Version(version)
    except InvalidVersion:
        raise UsageError(
            f"{where}: {name} pins {version!r}, which is not an exact version: write {name}==X.Y.Z"
        ) from None


# --- requirements files -----------------------------------------------------------------------


def _requirements_pins(text: str, file: str, wanted: set[str]) -> list[_Pin]:
    pins: list[_Pin] = []
    starts = line_starts(text)
    for number, start in enumerate(starts, 1):
        end = starts[number] if number < len(starts) else len(text)
        line = text[start:end].rstrip("\r\n")
        body = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].rstrip().removesuffix("\\").rstrip()
        if not body.strip() or body.lstrip().startswith("-"):
            continue
        try:
            requirement = Requirement(body.strip())
        except InvalidRequirement:
            continue  # a URL, a path or an option: not a pin of ours
        name = canonicalize_name(requirement.name)
        if name not in wanted:
            continue
        if requirement.url is not None:
            pins.append(_requirements_rev(body, file, number, start, name))
            continue
        span = _pep508_span(body)
        if span is None:
            raise UsageError(
                f"{file}:{number}: {name} is written {body.strip()!r}, not as one exact "
                f"version: pin it exactly ({name}==1.2.3)"
            )
        version = body[span[0] : span[1]]
        _valid(version, name, f"{file}:{number}")
        pins.append(_Pin(name, version, number, start + span[0], start + span[1], "requirements"))
    return pins


def _requirements_rev(body: str, file: str, number: int, start: int, name: str) -> _Pin:
    span = _url_rev_span(body)
    if span is None or span == (0, 0):
        raise UsageError(
            f"{file}:{number}: {name} is written {body.strip()!r}, not at one git commit: "
            f"pin it as {name} @ git+https://…@<commit>, or {name}==1.2.3"
        )
    rev = body[span[0] : span[1]]
    return _Pin(name, rev, number, start + span[0], start + span[1], "requirements", "rev")


# --- proof ------------------------------------------------------------------------------------


def _confirm(old: str, new: str, file: str, packages: Sequence[str], values: Sequence[str]) -> None:
    """The same pins, each now at its value, and nothing else different once they are masked."""
    before, after = _pins(old, file, packages), _pins(new, file, packages)
    places = [(p.package, p.line, p.holds) for p in before]
    if places != [(p.package, p.line, p.holds) for p in after] or [
        p.version for p in after
    ] != list(values):
        raise AssertionError(f"{file}: rewriting the pins moved or missed one")
    if _masked(old, before) != _masked(new, after):
        raise AssertionError(f"{file}: rewriting the pins changed more than their values")


def _masked(text: str, pins: Sequence[_Pin]) -> str:
    for pin in reversed(pins):
        text = text[: pin.start] + "\0" + text[pin.end :]
    return text
