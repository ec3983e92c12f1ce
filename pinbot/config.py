"""Settings: built-in OpenHands defaults, overridden by `pinbot.toml` or `[tool.pinbot]`.

Every key is validated at load; an unknown key or a wrong type is a UsageError naming the file
and the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pinbot.errors import UsageError
from pinbot.model import BRANCH_RE

DEFAULT_IMAGE = "ghcr.io/openhands/agent-server"
ROUTE_FILE = "openhands-agent-server/openhands/agent_server/acp_session_blob_router.py"
BLOB_ROUTE = "/api/acp_session_blob/{conversation_id}/{provider}"
DEFAULT_AUTHOR = "pinbot <pinbot@users.noreply.github.com>"


CONFIG_NAME = "pinbot.toml"
DEFAULT_SOURCE = "built-in defaults"


@dataclass(frozen=True)
class PinSettings:
    """Where the OpenHands repository pins the agent-server image (every site must agree)."""

    python_file: str = "openhands/app_server/sandbox/sandbox_spec_service.py"
    python_constant: str = "AGENT_SERVER_IMAGE"
    compose_files: list[str] = field(
        default_factory=lambda: ["docker-compose.yml", "containers/dev/compose.yml"]
    )
    compose_variable: str = "AGENT_SERVER_IMAGE_TAG"
    # Which sites: a profile (pinbot.pins.profiles), or an explicit [[pin.sites]] list.
    profile: str = "openhands"
    sites: list[dict[str, Any]] = field(default_factory=list)
    packages: list[str] = field(
        default_factory=lambda: ["openhands-agent-server", "openhands-sdk", "openhands-tools"]
    )
    # Where a version's packages must be published before a site may hold that version.
    index_url: str = "https://pypi.org/simple/"
    # Bounds of each lock-tool run (it runs the target repository's build backends).
    lock_timeout: float = 900.0
    lock_memory_mib: int = 4096


@dataclass(frozen=True)
class DeploySettings:
    """Where the deploy repository names the OpenHands commit it deploys."""

    workflow: str = ".github/workflows/deploy.yaml"
    sha_key: str = "OPENHANDS_SHA"
    branch: str = "main"


@dataclass(frozen=True)
class OpenapiSettings:
    """Bounds for running a candidate image to read its OpenAPI document."""

    startup_timeout: float = 60.0
    memory: str = "1g"
    health_path: str = "/health"
    openapi_path: str = "/openapi.json"


@dataclass(frozen=True)
class ProbeSettings:
    agents: list[str] = field(default_factory=lambda: ["claude-code", "codex"])
    timeout: float = 300.0
    recycle: str = "pause"


@dataclass(frozen=True)
class PrSettings:
    """What a PR pinbot opens gets on creation, as reviewers expect of a bot's PRs (a human may
    change them afterwards: a re-run does not put them back)."""

    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)  # logins, or ORG/TEAM for a team
    assignees: list[str] = field(default_factory=list)
    draft: bool = False


@dataclass(frozen=True)
class CutSettings:
    """The `pinbot/…` branches a cut pushes to. A head that is not exactly what pinbot would
    make from its base is refused (exit 2) unless pinbot owns the namespace: then it is
    replaced, with --force-with-lease on the tip pinbot saw."""

    own_head_branches: bool = False


@dataclass(frozen=True)
class Settings:
    image: str = DEFAULT_IMAGE
    variant: str = "python"
    platforms: list[str] = field(default_factory=lambda: ["linux/amd64", "linux/arm64"])
    capability: str = "acp-session-blob"
    routes: list[str] = field(default_factory=lambda: [f"GET {BLOB_ROUTE}", f"PUT {BLOB_ROUTE}"])
    sdk_repo: str = "OpenHands/software-agent-sdk"
    route_file: str = ROUTE_FILE
    detectors: list[str] = field(default_factory=lambda: ["source"])
    require_commits: list[str] = field(default_factory=list)
    require_prs: list[int] = field(default_factory=list)
    ignore: list[str] = field(
        default_factory=list
    )  # tag patterns never selected (pinbot/ignore.py)
    git_author: str = DEFAULT_AUTHOR
    concurrency: int = 7  # most unpredicted candidates in flight; see engine.lookahead
    http_timeout: float = 30.0
    # Most candidates one scan examines (each costs a manifest and a config blob; a build tag
    # costs them before ranking): a registry listing 100000 tags cannot make a scan fetch
    # 100000 images. Past it the scan stops (exit 3), naming the registry.
    max_candidates: int = 1000
    pr: PrSettings = field(default_factory=PrSettings)
    pin: PinSettings = field(default_factory=PinSettings)
    deploy: DeploySettings = field(default_factory=DeploySettings)
    openapi: OpenapiSettings = field(default_factory=OpenapiSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    cut: CutSettings = field(default_factory=CutSettings)
    source: str = DEFAULT_SOURCE

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def route_specs(self) -> list[tuple[str, str]]:
        """`routes` as (METHOD, path) pairs."""
        return [_split_route(route) for route in self.routes]


VARIANTS = ("python", "java", "golang")  # the agent-server image's tag variants
RECYCLES = ("pause", "restart", "command")  # --recycle's choices (pinbot/options.py)
DETECTORS = ("source", "openapi", "provenance")
# What a word-valued key may hold, named in each message about one, a wrong type included.
CHOICES = {
    "variant": f"one of {', '.join(VARIANTS)}",
    "detectors": f"each one of {', '.join(DETECTORS)}",
    "probe.recycle": f"one of {', '.join(RECYCLES)}",
}


def _split_route(route: str) -> tuple[str, str]:
    method, _, path = route.partition(" ")
    return method.upper(), path


def load(path: Path | None = None, cwd: Path | None = None) -> Settings:
    """Settings from `path`, else pinbot.toml, else [tool.pinbot] in pyproject.toml in `cwd`
    (the face's working directory), else the defaults. The face gives no `cwd` to the gate:
    there the working directory is what is under review, and policy never comes from what it
    judges."""
    if path is not None:
        return typing.cast(Settings, _from_file(path, required=True))
    return (discovered(cwd) if cwd is not None else None) or Settings()


def discovered(base: Path) -> Settings | None:
    """The settings of ./pinbot.toml, else of [tool.pinbot] in ./pyproject.toml, in `base`."""
    for candidate in (base / CONFIG_NAME, base / "pyproject.toml"):
        if candidate.is_file():
            settings = _from_file(candidate, required=False)
            if settings is not None:
                return settings
    return None


def _from_file(path: Path, required: bool) -> Settings | None:
    data = _read(path, required)
    if data is None:
        return None
    settings: Settings = _build(Settings, data, str(path), "")
    settings = dataclasses.replace(settings, source=str(path))
    validate(settings)
    return settings


def given(path: Path) -> set[str]:
    """The dotted keys `path` sets (`pin.index_url`; a list, `[[pin.sites]]` too, is one key)."""
    return set(_keys(_read(path, required=True) or {}, ""))


def _keys(data: dict[str, Any], prefix: str) -> list[str]:
    found = []
    for key, value in data.items():
        nested = isinstance(value, dict) and key != "sites"
        found += _keys(value, f"{prefix}{key}.") if nested else [prefix + key]
    return found


def effective(settings: Settings) -> list[tuple[str, Any]]:
    """Every setting as (dotted key, value), in the order of the dataclasses."""
    return [(k, v) for k, v in _fields(dataclasses.asdict(settings), "") if k != "source"]


def _fields(data: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for key, value in data.items():
        nested = isinstance(value, dict) and key != "sites"
        found += _fields(value, f"{prefix}{key}.") if nested else [(prefix + key, value)]
    return found


def _read(path: Path, required: bool) -> dict[str, Any] | None:
    """The pinbot table of `path` (a pyproject's [tool.pinbot]); None for a pyproject without
    one when not `required`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"config file {path} does not exist: check --config / PINBOT_CONFIG"
        ) from None
    except IsADirectoryError:
        raise UsageError(f"config file {path} is a directory: name a TOML file") from None
    except OSError as exc:
        raise UsageError(f"config file {path} cannot be read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"config file {path} nests TOML too deep; refusing it") from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("pinbot")
        if data is None:
            if required:
                raise UsageError(f"{path} has no [tool.pinbot] table: add one or use pinbot.toml")
            return None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: [tool.pinbot] must be a table")
    return data


def _build(cls: type[Any], data: Any, where: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise UsageError(f"{where}: [{prefix.rstrip('.')}] must be a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            known = ", ".join(sorted(names))
            raise UsageError(f"{where}: unknown key {prefix + key!r}; known keys: {known}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            values[key] = _build(typing.cast(type, hint), value, where, f"{prefix}{key}.")
        else:
            values[key] = _check_type(value, hint, where, f"{prefix}{key}")
    return cls(**values)


def _check_type(value: Any, hint: Any, where: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list) or not all(_is(v, item) for v in value):
            choices = f" ({CHOICES[key]})" if key in CHOICES else ""
            raise UsageError(f"{where}: {key} must be a list of {item.__name__}{choices}")
        return list(value)
    if not _is(value, hint):
        wanted = _A.get(hint, hint.__name__) + (f" {_bounds(key)}" if key in RANGES else "")
        choices = f" ({CHOICES[key]})" if key in CHOICES else ""
        raise UsageError(
            f"{where}: {key} must be {wanted}{choices}, not {type(value).__name__} ({value!r})"
        )
    return float(value) if hint is float else value


_A = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _is(value: Any, kind: Any) -> bool:
    kind = typing.get_origin(kind) or kind  # dict[str, Any] is checked as dict
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def validate(settings: Settings) -> None:
    """Checks that need more than a type; messages name the key and what to write instead."""
    from pinbot.ignore import PATTERN
    from pinbot.model import ImageName, validate_sha

    where = settings.source
    ImageName.parse(settings.image)
    unknown = [d for d in settings.detectors if d not in DETECTORS]
    if unknown or not settings.detectors:
        raise UsageError(f"{where}: detectors {settings.detectors!r}: choose from {DETECTORS}")
    for route in settings.routes:
        method, path = _split_route(route)
        if method not in ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD") or not path.startswith(
            "/"
        ):
            raise UsageError(f"{where}: route {route!r} must look like 'GET /api/path'")
    for sha in settings.require_commits:
        validate_sha(sha, f"{where}: require_commits entry")
    for pattern in settings.ignore:
        if not PATTERN.match(pattern):
            raise UsageError(
                f"{where}: ignore entry {pattern!r}: write a tag pattern such as '1.45.*' "
                "(tag characters and * ? [ ])"
            )
    _validate_pin(settings)
    _validate_bounds(settings)
    _check_bounds(settings)
    _check_names(settings)


MAX_CANDIDATES = 100_000  # the registry client's own cap on a tag list
_SDK_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9]+(?:/[a-z0-9]+)?\Z")
_MEMORY = re.compile(r"[1-9][0-9]*[bkmg]?\Z")
_AGENT = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # a Python constant or an environment variable
_PACKAGE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\Z")  # PEP 508 names


# The bounds of every number in the config (seconds for the timeouts), named in each message
# about one, a wrong type included.
RANGES: dict[str, tuple[float, float]] = {
    "concurrency": (1, 64),
    "max_candidates": (1, MAX_CANDIDATES),
    "http_timeout": (0.1, 600.0),
    "openapi.startup_timeout": (1.0, 3600.0),
    "probe.timeout": (1.0, 7200.0),
    "pin.lock_timeout": (1.0, 7200.0),
    "pin.lock_memory_mib": (64, 65536),
}


def _bounds(key: str) -> str:
    low, high = RANGES[key]
    unit = " s" if key.endswith("timeout") else " MiB" if key.endswith("_mib") else ""
    return f"between {low:g} and {high:g}{unit}"


def _check_bounds(settings: Settings) -> None:
    """Numbers: each within its RANGES (a zero, negative, NaN or endless timeout would hang or
    break every wait it bounds); pull request numbers are positive."""
    for key, (low, high) in RANGES.items():
        value: Any = settings
        for part in key.split("."):
            value = getattr(value, part)
        if not low <= value <= high:  # also false for NaN
            raise UsageError(f"{settings.source}: {key} {value} must be {_bounds(key)}")
    for number in settings.require_prs:
        if number < 1:
            raise UsageError(
                f"{settings.source}: require_prs entry {number} is not a pull request number"
            )


def _check_names(settings: Settings) -> None:
    """Names, paths and words: each is what its key says, or the message says what to write."""
    where = settings.source
    if settings.variant not in VARIANTS:
        raise UsageError(f"{where}: variant {settings.variant!r}: {variant_hint(settings.variant)}")
    if not _SDK_REPO.match(settings.sdk_repo):
        raise UsageError(f"{where}: sdk_repo {settings.sdk_repo!r}: write OWNER/NAME")
    for platform in settings.platforms:
        if not _PLATFORM.match(platform):
            raise UsageError(f"{where}: platform {platform!r}: write OS/ARCH, e.g. linux/amd64")
    _check_inside(where, "route_file", settings.route_file, "the SDK repository")
    _check_author(where, settings.git_author)
    _check_probe(where, settings.probe)
    _check_openapi(where, settings.openapi)
    if not BRANCH_RE.match(settings.deploy.branch):
        raise UsageError(f"{where}: deploy.branch {settings.deploy.branch!r} is not a branch name")
    _check_inside(where, "deploy.workflow", settings.deploy.workflow, "the deploy repository")
    _check_name(where, "deploy.sha_key", settings.deploy.sha_key, "OPENHANDS_SHA")
    _check_pin(where, settings.pin)
    _check_pr(where, settings.pr)


_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\Z")  # a GitHub user name
_TEAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")


def _check_pr(where: str, pr: PrSettings) -> None:
    for label in pr.labels:
        if not label.strip() or len(label) > 50 or not label.isprintable():
            raise UsageError(f"{where}: pr.labels entry {label!r}: a label of 1 to 50 characters")
    for name in pr.reviewers:
        if not (_LOGIN.match(name) or _TEAM.match(name)):
            raise UsageError(f"{where}: pr.reviewers entry {name!r}: write a login or ORG/TEAM")
    for name in pr.assignees:
        if not _LOGIN.match(name):
            raise UsageError(f"{where}: pr.assignees entry {name!r}: write a GitHub login")


def _check_inside(where: str, key: str, path: str, repository: str) -> None:
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise UsageError(f"{where}: {key} {path!r}: give a path inside {repository}")


def _check_name(where: str, key: str, name: str, example: str) -> None:
    if not _NAME.match(name):
        raise UsageError(f"{where}: {key} {name!r} is not a variable name: write e.g. {example}")


def _check_pin(where: str, pin: PinSettings) -> None:
    """The built-in profile's sites: files inside the OpenHands repository, names it can hold."""
    _check_inside(where, "pin.python_file", pin.python_file, "the OpenHands repository")
    for file in pin.compose_files:
        _check_inside(where, "pin.compose_files entry", file, "the OpenHands repository")
    _check_name(where, "pin.python_constant", pin.python_constant, "AGENT_SERVER_IMAGE")
    _check_name(where, "pin.compose_variable", pin.compose_variable, "AGENT_SERVER_IMAGE_TAG")
    for package in pin.packages:
        if not _PACKAGE.match(package):
            raise UsageError(
                f"{where}: pin.packages entry {package!r} is not a package name: write e.g. "
                "openhands-sdk"
            )


# `Name <email>` as git takes it: no control characters (a newline would forge a commit
# header or trailer), no `<`/`>` in the name, no blank, `<` or `>` in the email.
_CONTROL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
_AUTHOR = re.compile(
    rf" *([^<>{_CONTROL}]*[^<>\s{_CONTROL}]) *<([^<>\s@{_CONTROL}]+@[^<>\s{_CONTROL}]+)> *\Z"
)


def parse_author(text: str) -> tuple[str, str] | None:
    """(name, email) of `Name <email@example.com>`, or None if it is not one."""
    found = _AUTHOR.match(text)
    return (found[1].strip(), found[2]) if found and found[1].strip() else None


def _check_author(where: str, text: str) -> None:
    if parse_author(text) is None:
        raise UsageError(
            f"{where}: git_author {text!r}: write 'Name <email@example.com>' on one line"
        )


def _check_probe(where: str, probe: ProbeSettings) -> None:
    if probe.recycle not in RECYCLES:
        raise UsageError(
            f"{where}: probe.recycle {probe.recycle!r}: choose from {', '.join(RECYCLES)}"
        )
    if not probe.agents or not all(_AGENT.match(agent) for agent in probe.agents):
        raise UsageError(
            f"{where}: probe.agents {probe.agents!r}: name ACP agents, e.g. claude-code, codex"
        )


def _check_openapi(where: str, openapi: OpenapiSettings) -> None:
    if not _MEMORY.match(openapi.memory.lower()):
        raise UsageError(f"{where}: openapi.memory {openapi.memory!r}: write a size like 1g")
    for key in ("health_path", "openapi_path"):
        value = getattr(openapi, key)
        if not value.startswith("/"):
            raise UsageError(f"{where}: openapi.{key} {value!r} must start with /")


def variant_hint(text: str) -> str:
    """What to write instead of a variant that is not one, with the likely one."""
    return f"choose {', '.join(VARIANTS)}{did_you_mean(text, VARIANTS)}"


def did_you_mean(word: str, known: Sequence[str]) -> str:
    """ " (did you mean X?)" for the one of `known` that `word` is likely a typo of, else ""."""
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


MAX_ITEMS = 100  # entries in any list
MAX_TEXT = 1000  # characters in any string


def _validate_bounds(settings: Settings) -> None:
    where = settings.source
    for key, value in _leaves(dataclasses.asdict(settings), ""):
        if isinstance(value, list) and len(value) > MAX_ITEMS:
            raise UsageError(f"{where}: {key} has {len(value)} entries; at most {MAX_ITEMS}")
        if isinstance(value, str) and (len(value) > MAX_TEXT or "\0" in value):
            raise UsageError(f"{where}: {key} is longer than {MAX_TEXT} characters or holds NUL")


def _leaves(data: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, f"{prefix}{k}.")]
    found = [(prefix.rstrip("."), data)]
    if isinstance(data, list):
        found += [leaf for item in data for leaf in _leaves(item, prefix)]
    return found


def _validate_pin(settings: Settings) -> None:
    from pinbot.pins.profiles import sites

    sites(settings.pin, settings.source)
    validate_index_url(settings, f"{settings.source}: pin.index_url")


def validate_index_url(settings: Settings, what: str) -> None:
    url = settings.pin.index_url
    if not url.startswith(("https://", "http://")) or not url.split("://", 1)[1].split("/")[0]:
        raise UsageError(
            f"{what} {url!r} must be an http(s) URL of a simple package index, e.g. "
            "https://pypi.org/simple/"
        )


def git_author(settings: Settings) -> tuple[str, str]:
    """(name, email) of the bot identity: config `git_author` (which PINBOT_GIT_AUTHOR
    overrides at the face, `pinbot.inputs.with_environment`), else the default."""
    text = settings.git_author
    parsed = parse_author(text)
    if parsed is None:
        raise UsageError(f"git author {text!r} must look like 'Name <email@example.com>'")
    return parsed
