"""The site kinds: what each reads and rewrites, and the keys a `[[pin.sites]]` entry may have.

| kind              | keys                              | holds                          |
|-------------------|-----------------------------------|--------------------------------|
| python-constant   | file, name                        | `repo:tag`                     |
| compose-default   | file, name                        | the tag                        |
| requirement       | file, packages                    | the version                    |
| yaml              | file, path, holds, within         | `tag`, `version` or `image`    |
| lock              | file, packages, command           | the version (rewritten by the lock tool) |

Every kind also takes `optional` (default false: the site must exist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pinbot.errors import UsageError
from pinbot.pins import (
    HOLDS,
    Found,
    Target,
    compose,
    lock,
    python_constant,
    requirement,
    yaml_value,
)
from pinbot.pins.text import Change

PACKAGES = ("openhands-agent-server", "openhands-sdk", "openhands-tools")
KEYS: dict[str, tuple[str, ...]] = {
    "python-constant": ("file", "name"),
    "compose-default": ("file", "name"),
    "requirement": ("file", "packages"),
    "yaml": ("file", "path", "holds", "within"),
    "lock": ("file", "packages", "command"),
}
REQUIRED = {"python-constant": ("name",), "compose-default": ("name",), "yaml": ("path",)}
FIXED_HOLDS = {
    "python-constant": "image",
    "compose-default": "tag",
    "requirement": "version",
    "lock": "version",
}


@dataclass(frozen=True)
class SiteSpec:
    """One configured pin site."""

    kind: str
    file: str
    name: str = ""
    packages: tuple[str, ...] = PACKAGES
    path: str = ""
    holds: str = "tag"
    within: bool = False
    command: str = ""
    optional: bool = False

    @property
    def is_lock(self) -> bool:
        return self.kind == "lock"

    @property
    def held(self) -> str:
        return FIXED_HOLDS.get(self.kind, self.holds)

    def describe(self) -> str:
        detail = self.name or self.path or ", ".join(self.packages)
        return f"{self.kind} {self.file} ({detail})"


def parse(entry: Any, where: str, index: int) -> SiteSpec:
    """A `[[pin.sites]]` table, checked: unknown kinds and keys are named with the file."""
    at = f"{where}: pin.sites[{index}]"
    if not isinstance(entry, Mapping):
        raise UsageError(f"{at} must be a table with kind and file")
    kind = entry.get("kind")
    if kind not in KEYS:
        raise UsageError(f"{at}: unknown kind {kind!r}: choose from {', '.join(KEYS)}")
    allowed = ("kind", "file", "optional", *KEYS[kind])
    for key in entry:
        if key not in allowed:
            raise UsageError(
                f"{at}: unknown key {key!r} for kind {kind}; known keys: {', '.join(allowed)}"
            )
    for key in ("file", *REQUIRED.get(kind, ())):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise UsageError(f"{at}: {key} (a non-empty string) is required for kind {kind}")
    return SiteSpec(
        kind=kind,
        file=_relative(entry["file"], at),
        name=entry.get("name", ""),
        packages=_packages(entry.get("packages", PACKAGES), at),
        path=_checked_path(entry.get("path", ""), at),
        holds=_holds(entry.get("holds", "tag"), at),
        within=_flag(entry, "within", at),
        command=_string(entry.get("command", ""), "command", at),
        optional=_flag(entry, "optional", at),
    )


def _relative(path: str, at: str) -> str:
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"{at}: file {path!r} must be a path inside the repository (a/b.yaml)")
    return path


def _packages(value: Any, at: str) -> tuple[str, ...]:
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(v, str) for v in value)
    ):
        raise UsageError(f'{at}: packages must be a list of package names, e.g. ["openhands-sdk"]')
    return tuple(value)


def _checked_path(path: Any, at: str) -> str:
    text = _string(path, "path", at)
    if text:
        yaml_value.parse_path(text, at)
    return text


def _holds(value: Any, at: str) -> str:
    if value not in HOLDS:
        raise UsageError(f"{at}: holds {value!r}: choose from {', '.join(HOLDS)}")
    return str(value)


def _flag(entry: Mapping[str, Any], key: str, at: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise UsageError(f"{at}: {key} must be true or false")
    return value


def _string(value: Any, key: str, at: str) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{at}: {key} must be a string")
    return value


# --- reading and rewriting ------------------------------------------------------------------


def read(spec: SiteSpec, data: bytes) -> list[Found]:
    """What the site says; NotPresent (a UsageError) when the file holds no such site."""
    if spec.kind == "python-constant":
        text, _ = python_constant.decode(data, spec.file)
        site = python_constant.read(text, spec.file, spec.name)
        return [Found(spec.file, site.line, "image", site.value, f"{spec.name}={site.value}")]
    text = utf8(data, spec.file)
    if spec.kind == "compose-default":
        sites = compose.read(text, spec.file, spec.name)
        return [Found(s.file, s.line, "tag", s.value, f"{spec.name}:-{s.value}") for s in sites]
    if spec.kind == "requirement":
        return requirement.read(text, spec.file, spec.packages)
    if spec.kind == "yaml":
        return [yaml_value.read(text, spec.file, spec.path, spec.holds, spec.within)]
    return lock.read(text, spec.file, spec.packages)


def rewrite(spec: SiteSpec, data: bytes, target: Target) -> tuple[bytes, list[Change]]:
    """The file with this site moved to `target` (a lock is rewritten by its tool, not here)."""
    if spec.kind == "requirement":  # each pin by its form: a version, or a git revision
        new, changes = requirement.rewrite(utf8(data, spec.file), target, spec.file, spec.packages)
        return new.encode("utf-8"), _real(changes)
    value = target.text(spec.held, spec.describe())
    if spec.kind == "python-constant":
        text, encoding = python_constant.decode(data, spec.file)
        new, change = python_constant.rewrite(
            text, target.tag, spec.file, spec.name, target.repository
        )
        return new.encode(encoding), _real([change])
    text = utf8(data, spec.file)
    if spec.kind == "compose-default":
        new, changes = compose.rewrite(text, value, spec.file, spec.name)
    elif spec.kind == "yaml":
        if spec.held == "image":
            _same_repository(spec, text, target)
        new, change = yaml_value.rewrite(text, value, spec.file, spec.path, spec.holds, spec.within)
        changes = [change]
    else:
        raise AssertionError(f"{spec.file}: a lock file is rewritten only by its tool")
    return new.encode("utf-8"), _real(changes)


def _same_repository(spec: SiteSpec, text: str, target: Target) -> None:
    """A site holding a whole reference keeps its repository: a cut moves the tag, and never
    points a site at another image (the python constant refuses the same way)."""
    found = yaml_value.read(text, spec.file, spec.path, spec.holds, spec.within)
    if found.repository != target.repository:
        raise UsageError(
            f"{found.where}: {spec.path} holds {found.value}, an image of {found.repository}, "
            f"not of {target.repository} (the image being pinned): pass --image "
            f"{found.repository} (use --registry-url to read it elsewhere), or change "
            f"{spec.path} by hand if the image really moved"
        )


def _real(changes: Sequence[Change]) -> list[Change]:
    return [c for c in changes if c.old != c.new]


def utf8(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
