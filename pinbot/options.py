"""The one table of options, and what each command was asked to do.

`OPTIONS` declares every flag once: its name, kind, check, default, help, example, `PINBOT_*`
variable, config key and the commands that take it. The parser (`pinbot.cli`), the environment
defaults, `pinbot.api`'s keywords, the action's `PINBOT_<FLAG>` names and the CLI reference
(`pinbot.reference`, docs/reference/cli.md) are all read from it, and tests/unit/test_options.py
proves the dataclasses below and `pinbot.api`'s signatures agree with it. To add a flag, add a row
(CONTRIBUTING.md shows one worked through).

Nothing below `cli` sees argparse: commands get the frozen dataclasses at the end of this file,
built once by `cli`, values already validated (`pinbot.inputs`) and merged with the config where
a flag falls back to a config key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pinbot import inputs
from pinbot.config import RECYCLES, Settings
from pinbot.model import ImageName

Kind = Literal["text", "int", "float", "path", "list", "choice", "switch", "count"]
IMAGE_GROUP = "image and detector options"
GLOBAL_GROUP = "global options (before or after the command)"
GLOBAL = "global"  # the commands of a global option: before or after any command
IMAGE_COMMANDS = ("scan", "check", "cut", "gate")


@dataclass(frozen=True)
class Option:
    """One flag. `name` is its Python name: the flag is --name-with-dashes, the variable
    PINBOT_NAME, the `pinbot.api` keyword `name`."""

    name: str
    help: str
    commands: tuple[str, ...]
    kind: Kind = "text"
    check: Callable[[str], object] | None = None  # pinbot.inputs: validates where it enters
    metavar: str | None = None
    example: str = ""  # a value to show in the reference (switches: none)
    config: str | None = None  # the config key it overrides, when it falls back to one
    default: object = None
    choices: tuple[str, ...] = ()
    required: bool = False
    repeat: bool = False  # may be given more than once (a list)
    one_of: str | None = None  # an either-or group, one member of which is required
    group: str | None = None  # the --help section
    short: str | None = None
    api: bool = True  # False: only how the CLI shows things (a library call returns data)
    positional: bool = False

    @property
    def flag(self) -> str:
        return self.name if self.positional else "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str | None:
        """The environment variable that sets it (a positional has none)."""
        return None if self.positional else "PINBOT_" + self.name.upper()


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    description: str
    examples: tuple[str, ...]


def _image(name: str, help: str, **more: Any) -> Option:
    return Option(name, help, IMAGE_COMMANDS, group=IMAGE_GROUP, **more)


def _global(name: str, help: str, **more: Any) -> Option:
    return Option(name, help, (GLOBAL,), group=GLOBAL_GROUP, **more)


OPENHANDS_HELP = "OpenHands repo: a path, a git URL or github.com/OWNER/NAME"
# The pin-site profiles of pinbot.pins.profiles, named here so --help costs no import.
PROFILES = ("openhands", "openhands-cloud-chart")

OPTIONS: tuple[Option, ...] = (
    # --- global ---------------------------------------------------------------------------------
    _global("config", "pinbot.toml, or a pyproject.toml with [tool.pinbot] (default: "
            "./pinbot.toml, then ./pyproject.toml)", kind="path", check=inputs.existing_file,
            metavar="FILE", example="ci/pinbot.toml"),
    _global("json", "print the result as JSON on stdout", kind="switch", default=False, api=False),
    _global("verbose", "more detail on stderr (-vv: debug)", kind="count", short="-v", default=0,
            api=False, example="2"),
    _global("no_cache", "ignore the verdict cache ($PINBOT_CACHE_DIR, else "
            "$XDG_CACHE_HOME/pinbot, else ~/.cache/pinbot)", kind="switch", default=False),
    # --- check's image --------------------------------------------------------------------------
    Option("ref", "TAG, sha256:DIGEST, or REPO:TAG / REPO@DIGEST", ("check",), metavar="REF",
           positional=True, required=True, example="1.43.1-python"),
    # --- scan -----------------------------------------------------------------------------------
    Option("current", "the tag pinned today: never select an older one, stop examining at it "
           "(default with --openhands: the pin that branch carries, in either era)", ("scan",),
           check=inputs.tag, metavar="TAG", example="1.43.1-python"),
    Option("all", "examine every candidate instead of stopping at the first that qualifies",
           ("scan",), kind="switch", default=False),
    Option("openhands", "OpenHands repo (path or git URL) whose --openhands-branch is read for "
           "its pin (the current pin) and its rollbacks: an image whose pinbot pin was reverted "
           "there is shown as held, never selected", ("scan",), check=inputs.repository,
           metavar="REPO", example="../OpenHands"),
    Option("openhands_branch", "the branch to read (with --openhands)", ("scan",),
           check=inputs.branch, metavar="BRANCH", example="main"),
    # --- cut ------------------------------------------------------------------------------------
    Option("tag", "the tag to pin (must carry the capability)", ("cut",), check=inputs.tag,
           metavar="TAG", one_of="which", example="1.43.1-python"),
    Option("latest", "scan first and pin the newest qualifying tag", ("cut",), kind="switch",
           default=False, one_of="which"),
    Option("openhands", OPENHANDS_HELP, ("cut",), check=inputs.repository, metavar="REPO",
           required=True, example="github.com/OpenHands/OpenHands"),
    Option("openhands_branch", "the branch that carries the backend change; repeat for release "
           "lines (one commit per branch; the deploy names the first)", ("cut",),
           check=inputs.branch, metavar="BRANCH", required=True, repeat=True,
           example="release/1.2"),
    Option("deploy", "deploy repo: a path, a git URL or github.com/OWNER/NAME (optional: without "
           "it only the OpenHands branches are pinned)", ("cut",), check=inputs.repository,
           metavar="REPO", example="../deploy"),
    Option("deploy_branch", "deploy base branch (default: config deploy.branch, main)", ("cut",),
           check=inputs.branch, metavar="BRANCH", config="deploy.branch", example="main"),
    Option("require_commit", "backend commit the OpenHands branch must contain (repeatable; "
           "default: config require_commits / require_prs)", ("cut",), check=inputs.sha,
           metavar="SHA", repeat=True, config="require_commits", example="0123456789abcdef" * 2
           + "01234567"),
    Option("push", "push the commits (otherwise only build them)", ("cut",), kind="switch",
           default=False),
    Option("open_prs", "open or update the two PRs (implies --push)", ("cut",), kind="switch",
           default=False),
    Option("dry_run", "print the plan (diffs, commit messages, PRs) and change nothing", ("cut",),
           kind="switch", default=False),
    Option("force_capability", "pin even if the tag fails the capability check (said in the PR)",
           ("cut",), kind="switch", default=False),
    Option("allow_held", "pin an image even though a pinbot pin of it was reverted on the branch "
           "(a rollback holds it back otherwise)", ("cut",), kind="switch", default=False),
    Option("index_url", "simple package index where a pinned version's packages must be "
           "published (default: config pin.index_url, else https://pypi.org/simple/)", ("cut",),
           check=inputs.index_url, metavar="URL", config="pin.index_url",
           example="https://pypi.org/simple/"),
    # --- gate -----------------------------------------------------------------------------------
    Option("deploy", "deploy repo (a path, a git URL or github.com/OWNER/NAME) and optional ref",
           ("gate",), check=inputs.deploy_repository, metavar="REPO[@REF]", required=True,
           example="../deploy@main"),
    Option("openhands", OPENHANDS_HELP, ("gate",), check=inputs.repository, metavar="REPO",
           required=True, example="../OpenHands"),
    Option("require_commit", "backend commit OPENHANDS_SHA must contain (repeatable)", ("gate",),
           check=inputs.sha, metavar="SHA", repeat=True, config="require_commits",
           example="0123456789abcdef" * 2 + "01234567"),
    Option("allow_retag", "pass even if the tag moved to another digest since the cut",
           ("gate",), kind="switch", default=False),
    Option("probe_report", "a `pinbot probe --json` report of this image (an upgrade probe, "
           "with --rollback): its leg table goes into every PR, and a rollback that loses "
           "conversations is a warning there", ("cut",), kind="path",
           check=inputs.existing_file, metavar="FILE", example="probe.json"),
    Option("require_probe", "a `pinbot probe --json` report that must say native for this "
           "digest", ("gate",), kind="path", check=inputs.existing_file, metavar="FILE",
           example="probe.json"),
    Option("require_rollback_safe", "block when the --require-probe report's rollback legs "
           "lose conversations (else a warning: reverting the pin would cost them)", ("gate",),
           kind="switch", default=False),
    # --- cut and gate ---------------------------------------------------------------------------
    Option("profile", "which pin sites: openhands (both eras of the OpenHands repository, the "
           "default) or openhands-cloud-chart (the four chart spots); overrides config [pin]",
           ("cut", "gate"), kind="choice", choices=PROFILES, config="pin.profile",
           example="openhands-cloud-chart"),
    # --- the image: scan, check, cut, gate ------------------------------------------------------
    _image("image", "image repository: HOST/NAME, localhost:PORT/NAME or oci:DIR (default: "
           "config 'image', ghcr.io/openhands/agent-server)", check=inputs.image_repository,
           metavar="REPO", config="image", example="ghcr.io/openhands/agent-server"),
    _image("variant", "tag variant: python, java or golang (default: config 'variant', python)",
           check=inputs.variant, metavar="V", config="variant", example="python"),
    _image("registry_url", "send registry traffic for --image to this endpoint (a mirror, or a "
           "local registry) while names written into files stay --image",
           check=inputs.registry_endpoint, metavar="URL", example="localhost:5000"),
    _image("sdk", "software-agent-sdk clone (path or git URL) for the source detector; without "
           "it the GitHub contents API is asked", check=inputs.sdk, metavar="PATH|URL",
           example="../software-agent-sdk"),
    _image("detectors", "comma-separated detectors to require: source, openapi, provenance "
           "(default: config 'detectors', source)", kind="list", check=inputs.detectors,
           metavar="LIST", config="detectors", example="source,openapi"),
    _image("include_sha_tags", "also consider <sha>-VARIANT build tags (after releases, newest "
           "build first)", kind="switch", default=False),
    _image("max_candidates", "examine at most N candidates; past them the scan stops with exit "
           "3 (default: config 'max_candidates', 1000)", kind="int",
           check=inputs.candidate_limit, metavar="N", config="max_candidates", example="200"),
    # --- probe ----------------------------------------------------------------------------------
    Option("target", "app: the OpenHands app server (--app-url); agent-server: an agent server "
           "directly (--image, --server-command or --agent-server-url); acp: an ACP agent over "
           "stdio (--acp-command), no server between (default: app)",
           ("probe",), kind="choice", choices=("app", "agent-server", "acp"), default="app",
           example="agent-server"),
    Option("agents", "comma-separated ACP agents (default: claude-code,codex)", ("probe",),
           kind="list", check=inputs.agents, metavar="LIST", config="probe.agents",
           example="claude-code,codex"),
    Option("timeout", "seconds to wait for each turn (default: 300)", ("probe",), kind="float",
           check=inputs.seconds, metavar="S", config="probe.timeout", example="120"),
    Option("app_url", "OpenHands app server (target app); key from PINBOT_APP_API_KEY",
           ("probe",), check=inputs.http_url, metavar="URL", example="https://app.example"),
    Option("app_auth", "how the app server takes PINBOT_APP_API_KEY: bearer (an API key, sent as "
           "Authorization: Bearer) or session-key (a server started with SESSION_API_KEY "
           "accepts only X-Session-API-Key: use this with that key; or PINBOT_APP_AUTH) "
           "(default: bearer)", ("probe",), kind="choice", choices=("bearer", "session-key"),
           example="session-key"),
    Option("recycle", "how to recycle the sandbox (target app): pause (pause + resume; proves "
           "resume where a pause restarts the runtime on its volume, as in the cloud; a process "
           "sandbox's pause restarts nothing: error), restart (delete the sandbox, start the "
           "conversation again: the sandbox is archived, so today's servers say lost), command "
           "(run --recycle-command, then start the conversation again if its sandbox is gone; "
           "proves resume on process sandboxes when CMD restarts the agent server on its own "
           "storage) (default: pause). --target agent-server always restarts the server on the "
           "same storage (--image, --server-command, or --agent-server-url's --recycle-command)",
           ("probe",), kind="choice", choices=RECYCLES,
           config="probe.recycle", example="command"),
    Option("image", "run this agent-server image by digest (target agent-server)", ("probe",),
           check=inputs.image_ref, metavar="REF",
           example="ghcr.io/openhands/agent-server:1.43.1-python"),
    Option("registry_url", "pull --image through this registry endpoint", ("probe",),
           check=inputs.registry_endpoint, metavar="URL", example="localhost:5000"),
    Option("server_command", "start the agent server with CMD ({port}, {workdir})", ("probe",),
           check=inputs.command_line, metavar="CMD", example="'agent-server --port {port}'"),
    Option("agent_server_url", "an agent server that is already running", ("probe",),
           check=inputs.http_url, metavar="URL", example="http://127.0.0.1:8000"),
    Option("recycle_command", "how to recycle --agent-server-url ({port}, {workdir} are "
           "substituted), or the sandbox with --recycle command ({sandbox_id}, {conversation_id}, "
           "{agent_server_url})",
           ("probe",), check=inputs.command_line, metavar="CMD",
           example="'kubectl delete pod sandbox-{sandbox_id}'"),
    Option("acp_command", "custom ACP server command ({workdir} with --target agent-server); "
           "with --target acp, the agent itself ({workdir})", ("probe",),
           check=inputs.command_line, metavar="CMD", example="'claude-agent-acp'"),
    Option("from_image", "start the conversation on this image (the pin today), then move it "
           "to --image on the same volume", ("probe",), check=inputs.image_ref, metavar="REF",
           example="ghcr.io/openhands/agent-server:1.50.1-python"),
    Option("from_server_command", "start the conversation on this server ({port}, {workdir}), "
           "then move it to --server-command's on the same storage", ("probe",),
           check=inputs.command_line, metavar="CMD",
           example="'uvx openhands-agent-server==1.50.1 --port {port}'"),
    Option("from_acp_command", "target acp: start the session with this agent ({workdir}), "
           "then reopen it with --acp-command's", ("probe",), check=inputs.command_line,
           metavar="CMD", example="'codex-acp'"),
    Option("rollback", "with a from side: also move the conversation back, and move one born "
           "on the candidate to the from side (what reverting the pin does)", ("probe",),
           kind="switch", default=False),
    Option("report", "also write the JSON report to FILE", ("probe",), kind="path",
           check=inputs.output_file, metavar="FILE", example="probe.json"),
    Option("keep", "keep the conversations and sandboxes it made", ("probe",), kind="switch",
           default=False),
    # --- config ---------------------------------------------------------------------------------
    Option("action", "check: validate a config and print every effective setting with where it "
           "came from; sample: print a commented sample pinbot.toml", ("config",),
           kind="choice", choices=("check", "sample"), positional=True, required=True,
           example="check"),
    Option("file", "the config to check (default: --config, else ./pinbot.toml, else "
           "[tool.pinbot] in ./pyproject.toml)", ("config",), kind="path",
           check=inputs.existing_file, metavar="FILE", positional=True, example="pinbot.toml"),
    # --- demo -----------------------------------------------------------------------------------
    Option("workdir", "build the world here and keep it", ("demo",), kind="path",
           check=inputs.work_directory, metavar="DIR", example="pinbot-demo"),
    Option("keep", "keep the temporary world (removed at the end otherwise)", ("demo",),
           kind="switch", default=False),
    Option("serve", "after the pipeline, keep the world's registry and package index up and "
           "print the PINBOT_* settings that point pinbot at them, until Ctrl-C", ("demo",),
           kind="switch", default=False),
)  # fmt: skip

COMMANDS: tuple[Command, ...] = (
    Command(
        "scan",
        "find the newest tag whose image carries the capability",
        "List release tags newest first, bind each to its digest, and examine them until one "
        "carries the capability. Exit 0 when a tag qualifies, 1 when none does (with why, per "
        "tag).",
        ("", "--current 1.43.1-python --json",
         "--registry-url localhost:5000 --sdk ../software-agent-sdk --all"),
    ),
    Command(
        "check",
        "verdict and evidence for one image",
        "Check one image (tag or digest) for the capability. Exit 0/1.",
        ("1.43.1-python",
         "ghcr.io/openhands/agent-server:1.43.1-python --detectors source,openapi"),
    ),
    Command(
        "cut",
        "pin a tag in OpenHands and point the deploy repo at that commit",
        "Rewrite every agent-server pin site on the OpenHands branch that carries the backend "
        "change, commit it, and set OPENHANDS_SHA in the deploy workflow to that commit on a "
        "pinbot/... branch. Works in temporary clones; never touches your working tree.",
        ("--latest --openhands github.com/OpenHands/OpenHands --openhands-branch main "
         "--deploy ../deploy --dry-run",
         "--tag 1.43.1-python --openhands ../OpenHands --openhands-branch feature/blob "
         "--deploy ../deploy --push"),
    ),
    Command(
        "gate",
        "check what the deploy would run before it runs",
        "Read OPENHANDS_SHA from the deploy workflow, AGENT_SERVER_IMAGE at that commit, and "
        "check each fact. Read-only. Exit 0 pass, 1 block. Policy comes from the invocation "
        "only: flags, PINBOT_* variables and --config FILE (or PINBOT_CONFIG). The gate never "
        "reads ./pinbot.toml or ./pyproject.toml, and never reads a config from the commit or "
        "branch it gates: in a workflow, check out the default branch and pass its pinbot.toml "
        "as --config.",
        ("--deploy ../deploy@main --openhands ../OpenHands",
         "--deploy github.com/acme/deploy@pinbot/agent-server-1.43.1-python "
         "--openhands github.com/OpenHands/OpenHands --require-probe probe.json"),
    ),
    Command(
        "probe",
        "prove a recycled conversation resumes natively",
        "Plant a codeword, recycle the sandbox, ask for it back. Exit 0 only when every agent "
        "resumed natively (same ACP session id, no <<RESUMED CONVERSATION>> marker, codeword "
        "recalled); 1 for bootstrap or lost.",
        ("--app-url https://app.example --recycle pause",
         "--app-url http://127.0.0.1:3000 --recycle command "
         "--recycle-command 'my-restart {sandbox_id} {agent_server_url}'",
         "--target agent-server --image ghcr.io/openhands/agent-server:1.43.1-python",
         "--target agent-server --server-command 'agent-server --port {port}'"),
    ),
    Command(
        "config",
        "check a config, or print a commented sample",
        "check [FILE]: load the config as every command would (unknown keys, types and bounds "
        "are errors naming the key), then print each effective setting and where it came from: "
        "the file, a PINBOT_* variable that overrides it, or the built-in default. sample: "
        "print a pinbot.toml with every key at its default and a comment on each.",
        ("check", "check ci/pinbot.toml --json", "sample > pinbot.toml"),
    ),
    Command(
        "demo",
        "run scan, cut, gate and probe on a local world",
        "Build a local world (registry, SDK, OpenHands and deploy repos, probe target) in a "
        "temporary directory and run the whole pipeline on it. No network, no tokens. Run "
        "again with the same --workdir (or after Ctrl-C), it reuses the world and does only "
        "what is left.",
        ("", "--workdir pinbot-demo --json"),
    ),
)  # fmt: skip


def command(name: str) -> Command:
    (found,) = [c for c in COMMANDS if c.name == name]
    return found


def of(command: str) -> tuple[Option, ...]:
    """The options `command` takes, its own and the image options, in --help order (the global
    options are `of(GLOBAL)`)."""
    return tuple(o for o in OPTIONS if command in o.commands)


def for_api(command: str) -> Iterator[Option]:
    """The options a `pinbot.api` call of `command` takes: its own and the global ones that are
    not about how the CLI shows things."""
    return (o for o in (*of(GLOBAL), *of(command)) if o.api)


def argv(command: str, given: dict[str, Any]) -> list[str]:
    """The command line that says what `given` (`pinbot.api` keywords) says: `--name=VALUE` per
    value, the flag alone for True, one flag per item of a repeated option, a comma-joined
    list; None and False say nothing. A keyword the command does not take is a TypeError."""
    known = {o.name: o for o in for_api(command)}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise TypeError(f"{command} got unexpected keyword arguments: {', '.join(unknown)}")
    front: list[str] = []
    back: list[str] = []
    positional: list[str] = []
    for name, value in given.items():
        option = known[name]
        words = _words(option, value)
        (positional if option.positional else front if GLOBAL in option.commands else back).extend(
            words
        )
    return [*front, command, *back, *(["--", *positional] if positional else [])]


def _words(option: Option, value: Any) -> list[str]:
    if value is None or value is False:
        return []
    if option.positional:
        return [str(value)]
    if value is True:
        return [option.flag]
    if option.repeat:
        items = [value] if isinstance(value, str) else list(value)
        return [f"{option.flag}={item}" for item in items]
    if option.kind == "list" and not isinstance(value, str):
        value = ",".join(value)
    return [f"{option.flag}={value}"]


def api_type(option: Option) -> object:
    """The type `pinbot.api` takes for `option`: what a caller would write in Python."""
    base: object = {
        "text": str,
        "int": int,
        "float": float,
        "path": str | Path,
        "list": Sequence[str],
        "switch": bool,
        "count": int,
    }.get(option.kind)
    if option.kind == "choice":
        base = Literal[option.choices]
    if option.repeat:
        base = str | Sequence[str]
    if option.kind in ("switch", "count") or option.required or option.default is not None:
        return base
    return base | None  # type: ignore[operator]


# --- what each command was asked to do ------------------------------------------------------


@dataclass(frozen=True)
class ImageOptions:
    """The image and detector flags shared by scan, check, cut and gate."""

    image: ImageName
    registry_url: str | None
    variant: str
    sdk: str | None
    detectors: tuple[str, ...]
    include_sha_tags: bool
    max_candidates: int | None = None  # None: config 'max_candidates'


@dataclass(frozen=True)
class ScanOptions:
    image_options: ImageOptions
    current: str | None
    all: bool
    openhands: str | None = None  # with openhands_branch: whose rollbacks hold images back
    openhands_branch: str | None = None


@dataclass(frozen=True)
class CheckOptions:
    image_options: ImageOptions
    ref: str


@dataclass(frozen=True)
class CutOptions:
    image_options: ImageOptions
    tag: str | None
    latest: bool
    openhands: str
    openhands_branch: list[str]  # one or more: release lines
    deploy: str | None  # without it only the OpenHands branches are pinned
    deploy_branch: str | None
    require_commit: list[str] | None
    push: bool
    open_prs: bool
    dry_run: bool
    force_capability: bool
    allow_held: bool = False  # pin an image a rollback holds back, on purpose
    probe_report: Path | None = None  # its leg table goes into the PRs
    profile: str | None = None  # applied to the settings by cli: overrides config [pin]
    index_url: str | None = None  # applied to the settings by cli: overrides pin.index_url


@dataclass(frozen=True)
class GateOptions:
    image_options: ImageOptions
    deploy: tuple[str, str | None]  # (repository, ref or None)
    openhands: str
    require_commit: list[str] | None
    allow_retag: bool
    require_probe: Path | None
    require_rollback_safe: bool = False
    profile: str | None = None  # applied to the settings by cli: overrides config [pin]


@dataclass(frozen=True)
class ProbeOptions:
    target: str
    agents: str | None  # comma-separated, checked by inputs.agents
    timeout: float | None
    app_url: str | None
    app_auth: str | None  # bearer or session-key (X-Session-API-Key)
    recycle: str | None
    image: str | None
    registry_url: str | None
    server_command: str | None
    agent_server_url: str | None
    recycle_command: str | None
    acp_command: str | None
    report: Path | None
    keep: bool
    # The side a conversation starts on (the pin today), moved to the candidate; --rollback
    # moves it back (DESIGN.md §3 probe).
    from_image: str | None = None
    from_server_command: str | None = None
    from_acp_command: str | None = None
    rollback: bool = False


@dataclass(frozen=True)
class ConfigOptions:
    action: str  # check or sample
    file: Path | None = None


@dataclass(frozen=True)
class DemoOptions:
    workdir: Path | None
    keep: bool = False  # keep the temporary world (a --workdir world is always kept)
    serve: bool = False  # keep the world's services up after the pipeline, until Ctrl-C


# Each command's options dataclass (the test over the table checks each against it).
KINDS: dict[str, type] = {
    "scan": ScanOptions,
    "check": CheckOptions,
    "cut": CutOptions,
    "gate": GateOptions,
    "probe": ProbeOptions,
    "config": ConfigOptions,
    "demo": DemoOptions,
}


def typed(command: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """What the parser makes of `given` (`pinbot.api` keywords, values as a user writes them):
    each value through its option's check, as argparse's `type`; a repeated option's items one
    by one, a list comma-joined first. A name the command does not take is a TypeError."""
    known = {o.name: o for o in of(command)}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise TypeError(f"{command} got unexpected options: {', '.join(unknown)}")
    return {name: _typed(known[name], value) for name, value in given.items()}


def _typed(option: Option, value: Any) -> Any:
    if value is None or option.kind in ("switch", "count"):
        return value
    if option.repeat:
        items = [value] if isinstance(value, str) else list(value)
        return [_checked(option, str(item)) for item in items]
    if option.kind == "list" and not isinstance(value, str):
        value = ",".join(value)
    return _checked(option, str(value))


def _checked(option: Option, text: str) -> object:
    return option.check(text) if option.check else text


def build(command: str, values: Mapping[str, Any], settings: Settings) -> Any:
    """`command`'s options dataclass (KINDS) from parsed values by option name, every field by
    name: a value not given is its option's default in the table, and the image flags become
    one ImageOptions over the config. The CLI builds from its parse, the demo from `typed`."""
    kind = KINDS[command]
    table = {o.name: o for o in of(command)}

    def value(name: str) -> Any:
        return values[name] if name in values else table[name].default

    names = {f.name for f in dataclasses.fields(kind)}
    made = {name: value(name) for name in names - {"image_options"}}
    if "image_options" in names:
        made["image_options"] = _image_options(value, settings)
    return kind(**made)


def _image_options(value: Callable[[str], Any], settings: Settings) -> ImageOptions:
    """The image and detector flags shared by scan, check, cut and gate, over the config."""
    return ImageOptions(
        image=ImageName.parse(value("image") or settings.image),
        registry_url=value("registry_url"),
        variant=value("variant") or settings.variant,
        sdk=value("sdk"),
        detectors=value("detectors") or tuple(settings.detectors),
        include_sha_tags=value("include_sha_tags"),
        max_candidates=value("max_candidates"),
    )
