"""Argument parsing, dispatch, and the one error boundary (exit codes: DESIGN.md §3).

Nothing below this module prints or exits: commands return an int, the core returns data.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from pinbot import __version__, cleanup, config, inputs, options
from pinbot.errors import PinbotError, UsageError
from pinbot.model import ImageName
from pinbot.report import Output, RedactingFilter

T = TypeVar("T")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


class Parser(argparse.ArgumentParser):
    """argparse, but bad usage raises UsageError (exit 2) instead of exiting on its own."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


# The libraries whose versions a bug report needs: the seams' clients. Read from the installed
# distributions' metadata, so `--version` imports none of them.
KEY_LIBRARIES = (
    "requests",
    "urllib3",
    "docker",
    "GitPython",
    "PyGithub",
    "ruamel.yaml",
    "packaging",
)


def version_report() -> str:
    import platform
    from importlib import metadata

    def installed(name: str) -> str:
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            return f"{name} not installed"

    python = f"{platform.python_implementation()} {platform.python_version()}"
    return "\n".join(
        [
            f"pinbot {__version__}",
            f"Python {python} on {platform.system().lower()}-{platform.machine()}",
            ", ".join(installed(name) for name in KEY_LIBRARIES),
        ]
    )


class _VersionAction(argparse.Action):
    """Like argparse's "version" action, but several lines, kept as written."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(version_report() + "\n")  # stdout, as argparse's own version does
        parser.exit()


def _value(p: Any, flag: str, metavar: str, check: Callable[[str], object], help: str) -> None:
    """A flag that takes one value, checked by `check` where it enters (pinbot.inputs)."""
    p.add_argument(flag, metavar=metavar, type=check, help=help)


def _switch(p: Any, flag: str, help: str) -> None:
    p.add_argument(flag, action="store_true", help=help)


def _add_image_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("image and detector options")
    _value(
        g,
        "--image",
        "REPO",
        inputs.image_repository,
        "image repository: HOST/NAME, localhost:PORT/NAME "
        "or oci:DIR (default: config 'image', ghcr.io/openhands/agent-server)",
    )
    _value(
        g,
        "--variant",
        "V",
        inputs.variant,
        "tag variant: python, java or golang (default: config 'variant', python)",
    )
    _value(
        g,
        "--registry-url",
        "URL",
        inputs.registry_endpoint,
        "send registry traffic for --image to this "
        "endpoint (a mirror, or a local registry) while names written into files stay --image",
    )
    _value(
        g,
        "--sdk",
        "PATH|URL",
        inputs.sdk,
        "software-agent-sdk clone (path or git URL) for the "
        "source detector; without it the GitHub contents API is asked",
    )
    _value(
        g,
        "--detectors",
        "LIST",
        inputs.detectors,
        "comma-separated detectors to require: "
        "source, openapi, provenance (default: config 'detectors', source)",
    )
    _switch(
        g,
        "--include-sha-tags",
        "also consider <sha>-VARIANT build tags (after releases, newest build first)",
    )
    g.add_argument(
        "--max-candidates",
        metavar="N",
        type=inputs.candidate_limit,
        help="examine at most N candidates; past them the scan stops with exit 3 "
        "(default: config 'max_candidates', 1000)",
    )


OPENHANDS_HELP = "OpenHands repo: a path, a git URL or github.com/OWNER/NAME"


def _add_repository(
    p: argparse.ArgumentParser, flag: str, help: str, required: bool = False
) -> None:
    p.add_argument(flag, metavar="REPO", required=required, type=inputs.repository, help=help)


def _add_branch(p: argparse.ArgumentParser, flag: str, help: str, required: bool = False) -> None:
    p.add_argument(flag, metavar="BRANCH", required=required, type=inputs.branch, help=help)


def _add_require_commit(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument(
        "--require-commit", metavar="SHA", action="append", type=inputs.sha, default=None, help=help
    )


def _add_global_options(p: argparse.ArgumentParser) -> None:
    """--config, --json, -v and --no-cache, defaulting to "not given" (see build_parser)."""
    g = p.add_argument_group("global options (before or after the command)")
    g.add_argument(
        "--config",
        metavar="FILE",
        type=inputs.existing_file,
        default=argparse.SUPPRESS,
        help="pinbot.toml, or a pyproject.toml with "
        "[tool.pinbot] (default: ./pinbot.toml, then ./pyproject.toml)",
    )
    g.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print the result as JSON on stdout",
    )
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="more detail on stderr (-vv: debug)",
    )
    g.add_argument(
        "--no-cache",
        action="store_true",
        default=argparse.SUPPRESS,
        help="ignore the verdict cache "
        "($PINBOT_CACHE_DIR, else $XDG_CACHE_HOME/pinbot, else ~/.cache/pinbot)",
    )


EXAMPLES = {
    name: "examples:\n" + "".join(f"  pinbot {name} {line}".rstrip() + "\n" for line in lines)
    for name, lines in {
        "scan": [
            "",
            "--current 1.43.1-python --json",
            "--registry-url localhost:5000 --sdk ../software-agent-sdk --all",
        ],
        "check": [
            "1.43.1-python",
            "ghcr.io/openhands/agent-server:1.43.1-python --detectors source,openapi",
        ],
        "cut": [
            "--latest --openhands github.com/OpenHands/OpenHands --openhands-branch main "
            "--deploy ../deploy --dry-run",
            "--tag 1.43.1-python --openhands ../OpenHands --openhands-branch feature/blob "
            "--deploy ../deploy --push",
        ],
        "gate": [
            "--deploy ../deploy@main --openhands ../OpenHands",
            "--deploy github.com/acme/deploy@pinbot/agent-server-1.43.1-python "
            "--openhands github.com/OpenHands/OpenHands --require-probe probe.json",
        ],
        "probe": [
            "--app-url https://app.example --recycle restart",
            "--target agent-server --image ghcr.io/openhands/agent-server:1.43.1-python",
            "--target agent-server --server-command 'agent-server --port {port}'",
        ],
        "demo": ["", "--workdir pinbot-demo --json"],
    }.items()
}


def build_parser() -> Parser:
    parser = Parser(
        prog="pinbot",
        description="Move a deployment onto a new agent-server image only when the image "
        "carries the capability the backend needs, and prove it afterwards. "
        "Every flag can also be set as PINBOT_<FLAG> (e.g. PINBOT_REGISTRY_URL); "
        "tokens come only from the environment (GITHUB_TOKEN/GH_TOKEN, "
        "PINBOT_REGISTRY_TOKEN, PINBOT_APP_API_KEY).",
        epilog="exit codes: 0 success, 1 negative verdict, 2 bad usage/config/input, "
        "3 external system failed, 4 internal error",
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="show pinbot's, Python's and the key libraries' versions and exit",
    )
    # The global flags go before or after the command (`pinbot scan --json`), as users write
    # them. Only the top level has defaults, so a flag before the command is not reset by the
    # command's copy of it.
    _add_global_options(parser)
    parser.set_defaults(config=None, json=False, verbose=0, no_cache=False)
    after = Parser(add_help=False)
    _add_global_options(after)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def command(name: str, help: str, description: str) -> Parser:
        return sub.add_parser(
            name,
            help=help,
            description=description,
            epilog=EXAMPLES[name],
            parents=[after],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command(
        "scan",
        help="find the newest tag whose image carries the capability",
        description="List release tags newest first, bind each to its digest, and "
        "examine them until one carries the capability. Exit 0 when a tag qualifies, "
        "1 when none does (with why, per tag).",
    )
    _add_image_options(p)
    _value(
        p,
        "--current",
        "TAG",
        inputs.tag,
        "the tag pinned today: never select an older one, stop examining at it "
        "(default with --openhands: the pin that branch carries, in either era)",
    )
    _switch(p, "--all", "examine every candidate instead of stopping at the first that qualifies")
    _add_repository(
        p,
        "--openhands",
        "OpenHands repo (path or git URL) whose --openhands-branch is read for its pin "
        "(the current pin) and its rollbacks: an image whose pinbot pin was reverted there is "
        "shown as held, never selected",
    )
    _add_branch(p, "--openhands-branch", "the branch to read (with --openhands)")

    p = command(
        "check",
        help="verdict and evidence for one image",
        description="Check one image (tag or digest) for the capability. Exit 0/1.",
    )
    p.add_argument("ref", metavar="REF", help="TAG, sha256:DIGEST, or REPO:TAG / REPO@DIGEST")
    _add_image_options(p)

    p = command(
        "cut",
        help="pin a tag in OpenHands and point the deploy repo at that commit",
        description="Rewrite every agent-server pin site on the OpenHands branch that "
        "carries the backend change, commit it, and set OPENHANDS_SHA in the deploy "
        "workflow to that commit on a pinbot/... branch. Works in temporary clones; "
        "never touches your working tree.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--tag", metavar="TAG", type=inputs.tag, help="the tag to pin (must carry the capability)"
    )
    _switch(which, "--latest", "scan first and pin the newest qualifying tag")
    _add_repository(p, "--openhands", OPENHANDS_HELP, required=True)
    p.add_argument(
        "--openhands-branch",
        metavar="BRANCH",
        required=True,
        action="append",
        type=inputs.branch,
        help="the branch that carries the backend change; repeat for release lines (one "
        "commit per branch; the deploy names the first)",
    )
    _add_repository(
        p,
        "--deploy",
        "deploy repo: a path, a git URL or github.com/OWNER/NAME (optional: without it "
        "only the OpenHands branches are pinned)",
    )
    _add_branch(p, "--deploy-branch", "deploy base branch (default: config deploy.branch, main)")
    _add_require_commit(
        p,
        "backend commit the OpenHands branch must contain (repeatable; default: "
        "config require_commits / require_prs)",
    )
    _switch(p, "--push", "push the commits (otherwise only build them)")
    _switch(p, "--open-prs", "open or update the two PRs (implies --push)")
    _switch(p, "--dry-run", "print the plan (diffs, commit messages, PRs) and change nothing")
    _switch(
        p, "--force-capability", "pin even if the tag fails the capability check (said in the PR)"
    )
    _switch(
        p,
        "--allow-held",
        "pin an image even though a pinbot pin of it was reverted on the branch (a "
        "rollback holds it back otherwise)",
    )
    _value(
        p,
        "--index-url",
        "URL",
        inputs.index_url,
        "simple package index where a pinned version's packages must be published "
        "(default: config pin.index_url, else https://pypi.org/simple/)",
    )
    _add_profile(p)
    _add_image_options(p)

    p = command(
        "gate",
        help="check what the deploy would run before it runs",
        description="Read OPENHANDS_SHA from the deploy workflow, AGENT_SERVER_IMAGE at "
        "that commit, and check each fact. Read-only. Exit 0 pass, 1 block. Policy comes "
        "from the invocation only: flags, PINBOT_* variables and --config FILE (or "
        "PINBOT_CONFIG). The gate never reads ./pinbot.toml or ./pyproject.toml, and never "
        "reads a config from the commit or branch it gates: in a workflow, check out the "
        "default branch and pass its pinbot.toml as --config.",
    )
    p.add_argument(
        "--deploy",
        metavar="REPO[@REF]",
        required=True,
        type=inputs.deploy_repository,
        help="deploy repo (a path, a git URL or github.com/OWNER/NAME) and optional ref",
    )
    _add_repository(p, "--openhands", OPENHANDS_HELP, required=True)
    _add_require_commit(p, "backend commit OPENHANDS_SHA must contain (repeatable)")
    _switch(p, "--allow-retag", "pass even if the tag moved to another digest since the cut")
    _value(
        p,
        "--require-probe",
        "FILE",
        inputs.existing_file,
        "a `pinbot probe --json` report that must say native for this digest",
    )
    _add_profile(p)
    _add_image_options(p)

    p = command(
        "probe",
        help="prove a recycled conversation resumes natively",
        description="Plant a codeword, recycle the sandbox, ask for it back. Exit 0 "
        "only when every agent resumed natively (same ACP session id, no "
        "<<RESUMED CONVERSATION>> marker, codeword recalled); 1 for bootstrap or lost.",
    )
    p.add_argument(
        "--target",
        choices=("app", "agent-server"),
        default="app",
        help="app: the OpenHands app server (--app-url); agent-server: an agent server "
        "directly (--image, --server-command or --agent-server-url) (default: app)",
    )
    _value(
        p,
        "--agents",
        "LIST",
        inputs.agents,
        "comma-separated ACP agents (default: claude-code,codex)",
    )
    _value(p, "--timeout", "S", inputs.seconds, "seconds to wait for each turn (default: 300)")
    _value(
        p,
        "--app-url",
        "URL",
        inputs.http_url,
        "OpenHands app server (target app); key from PINBOT_APP_API_KEY",
    )
    p.add_argument(
        "--app-auth",
        choices=("bearer", "session-key"),
        help="how the app server takes PINBOT_APP_API_KEY: bearer (an API key, sent as "
        "Authorization: Bearer) or session-key (a server started with SESSION_API_KEY accepts "
        "only X-Session-API-Key: use this with that key; or PINBOT_APP_AUTH) (default: bearer)",
    )
    p.add_argument(
        "--recycle",
        choices=("pause", "restart", "command"),
        help="how to recycle the sandbox (target app): pause (pause + resume), restart (delete "
        "the sandbox, start the conversation again: wipes a process sandbox), command "
        "(run --recycle-command, then start the conversation again if its sandbox is gone)",
    )
    _value(
        p,
        "--image",
        "REF",
        inputs.image_ref,
        "run this agent-server image by digest (target agent-server)",
    )
    _value(
        p,
        "--registry-url",
        "URL",
        inputs.registry_endpoint,
        "pull --image through this registry endpoint",
    )
    _value(
        p,
        "--server-command",
        "CMD",
        inputs.command_line,
        "start the agent server with CMD ({port}, {workdir})",
    )
    _value(
        p, "--agent-server-url", "URL", inputs.http_url, "an agent server that is already running"
    )
    _value(
        p,
        "--recycle-command",
        "CMD",
        inputs.command_line,
        "how to recycle --agent-server-url, or the sandbox with --recycle command "
        "({sandbox_id}, {conversation_id}, {agent_server_url} are substituted)",
    )
    _value(p, "--acp-command", "CMD", inputs.command_line, "custom ACP server command ({workdir})")
    _value(p, "--report", "FILE", inputs.output_file, "also write the JSON report to FILE")
    _switch(p, "--keep", "keep the conversations and sandboxes it made")

    p = command(
        "demo",
        help="run scan, cut, gate and probe on a local world",
        description="Build a local world (registry, SDK, OpenHands and deploy repos, "
        "probe target) in a temporary directory and run the whole pipeline on it. "
        "No network, no tokens. Run again with the same --workdir (or after Ctrl-C), it "
        "reuses the world and does only what is left.",
    )
    _value(p, "--workdir", "DIR", inputs.work_directory, "build the world here and keep it")
    _switch(p, "--keep", "keep the temporary world (removed at the end otherwise)")
    return parser


def _apply_env_defaults(parser: argparse.ArgumentParser, environ: dict[str, str]) -> None:
    """Every flag also reads PINBOT_<FLAG>: make the environment value the flag's default.

    An empty value sets no value flag (a workflow passes an unused input as ""), and a flag set
    here satisfies its either-or group (`PINBOT_LATEST=true` is `cut --latest`)."""
    from_env: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _apply_env_defaults(subparser, environ)
            continue
        longs = [s for s in action.option_strings if s.startswith("--")]
        if not longs or action.dest in ("help", "version"):
            continue
        env = "PINBOT_" + longs[0][2:].upper().replace("-", "_")
        if env not in environ or (environ[env] == "" and action.nargs != 0):
            continue
        action.default = _env_value(action, env, environ[env])
        action.required = False
        if action.default:
            from_env.add(action.dest)
    for group in parser._mutually_exclusive_groups:
        if any(action.dest in from_env for action in group._group_actions):
            group.required = False


def _env_value(action: argparse.Action, env: str, text: str) -> object:
    """PINBOT_<FLAG>'s value, checked as the flag's own would be."""
    if isinstance(action, argparse._StoreTrueAction):
        if text.lower() not in TRUE + FALSE:
            raise UsageError(f"{env}={text!r}: write 1/true or 0/false")
        return text.lower() in TRUE
    if isinstance(action, argparse._CountAction):
        return _env_count(env, text)
    if isinstance(action, argparse._AppendAction):
        parts = [part for part in text.replace(",", " ").split() if part]
        return [_env_typed(action, env, part) for part in parts]
    if action.choices is not None and text not in action.choices:
        raise UsageError(f"{env}={text!r}: choose from {', '.join(map(str, action.choices))}")
    if callable(action.type):
        # Checked when the command that has this flag runs (argparse types a text default), so
        # PINBOT_IMAGE names a repository for scan and an image reference for probe.
        action.type = _naming_env(action.type, env, text)
    return text


def _env_count(env: str, text: str) -> int:
    if text.isdigit():
        return int(text)
    if text.lower() in TRUE + FALSE:
        return int(text.lower() in TRUE)
    raise UsageError(f"{env}={text!r}: write a count such as 1 or 2 (or true/false)")


def _naming_env(check: Callable[[str], object], env: str, value: str) -> Callable[[str], object]:
    """`check`, whose complaint about the environment's value names the variable."""

    @functools.wraps(check)
    def checked(text: str) -> object:
        try:
            return check(text)
        except (argparse.ArgumentTypeError, ValueError) as exc:
            if text != value:
                raise
            raise argparse.ArgumentTypeError(f"{env}={text!r}: {exc} (or unset {env})") from None

    return checked


def _env_typed(action: argparse.Action, env: str, text: str) -> object:
    if action.type is None or not callable(action.type):
        return text
    try:
        return action.type(text)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise UsageError(f"{env}={text!r}: {exc} (or unset {env})") from None


def main(argv: Sequence[str] | None = None) -> int:
    out = Output()
    previous_run = os.environ.get(cleanup.RUN_ENV)
    run = cleanup.begin(config.cache_dir() / "runs")
    handlers = _install_signal_handlers()
    try:
        return _main(argv, out)
    finally:
        _restore_signal_handlers(handlers)
        cleanup.end(run, previous_run)


def _main(argv: Sequence[str] | None, out: Output) -> int:
    try:
        parser = build_parser()
        _apply_env_defaults(parser, dict(os.environ))
        args = parser.parse_args(argv)
        out.configure(json_mode=args.json, verbose=args.verbose)
        _configure_logging(args.verbose, out)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        return _dispatch(args, out)
    except PinbotError as exc:
        out.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        out.error(
            "interrupted; re-run the same command to complete (what is done is kept, not redone)"
        )
        return 130
    except Exception as exc:
        where = _write_traceback(out)
        out.error(f"internal error: {type(exc).__name__}: {exc} (traceback: {where})")
        return 4


# The pin-site profiles of pinbot.pins.profiles, named here so --help costs no import.
PROFILES = ("openhands", "openhands-cloud-chart")


def _add_profile(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile",
        choices=PROFILES,
        help="which pin sites: openhands (both eras of the OpenHands repository, the default) "
        "or openhands-cloud-chart (the four chart spots); overrides config [pin]",
    )


def _dispatch(args: argparse.Namespace, out: Output) -> int:
    from pinbot.commands import Context

    inputs.environment(os.environ)
    # The gate judges what is in the working directory: it reads only the config it is given.
    settings = config.load(args.config, discover=args.command != "gate")
    if getattr(args, "profile", None):
        pin = dataclasses.replace(settings.pin, profile=args.profile, sites=[])
        settings = settings.replace(pin=pin)
    if getattr(args, "index_url", None):
        settings = settings.replace(pin=dataclasses.replace(settings.pin, index_url=args.index_url))
    ctx = Context(settings=settings, out=out, use_cache=not args.no_cache)
    if args.command == "scan":
        from pinbot.commands import scan

        if bool(args.openhands) != bool(args.openhands_branch):
            raise UsageError(
                "scan: --openhands and --openhands-branch go together: give both to hold back "
                "images rolled back on that branch, or neither"
            )
        return scan.run(ctx, _options(options.ScanOptions, args, settings))
    if args.command == "check":
        from pinbot.commands import scan

        return scan.run_check(ctx, _options(options.CheckOptions, args, settings))
    if args.command == "cut":
        from pinbot.commands import cut

        return cut.run(ctx, _options(options.CutOptions, args, settings))
    if args.command == "gate":
        from pinbot.commands import gate

        return gate.run(ctx, _options(options.GateOptions, args, settings))
    if args.command == "probe":
        from pinbot.commands import probe

        return probe.run(ctx, _options(options.ProbeOptions, args, settings))
    from pinbot.commands import demo

    return demo.run(ctx, _options(options.DemoOptions, args, settings))


def _options(kind: type[T], args: argparse.Namespace, settings: config.Settings) -> T:
    """The command's typed options: its flags by name, the image flags as one ImageOptions."""
    names = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    values = {name: getattr(args, name) for name in names - {"image_options"}}
    if "image_options" in names:
        values["image_options"] = _image_options(args, settings)
    return kind(**values)


def _image_options(args: argparse.Namespace, settings: config.Settings) -> options.ImageOptions:
    """The image and detector flags shared by scan, check, cut and gate, over the config."""
    return options.ImageOptions(
        image=ImageName.parse(args.image or settings.image),
        registry_url=args.registry_url,
        variant=args.variant or settings.variant,
        sdk=args.sdk,
        detectors=args.detectors or tuple(settings.detectors),
        include_sha_tags=args.include_sha_tags,
        max_candidates=args.max_candidates,
    )


class _LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """pinbot's own stderr handler, with the Output's secrets masked in every record."""


def _configure_logging(verbose: int, out: Output) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = _LogHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pinbot: %(levelname)s: %(message)s"))
    handler.addFilter(RedactingFilter(out))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LogHandler)]:
        root.removeHandler(old)  # a second main() in one process: the new Output's secrets
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs each retry it makes as a warning; pinbot reports what retries could not fix.
    logging.getLogger("urllib3").setLevel(level if verbose >= 2 else logging.ERROR)


def _write_traceback(out: Output) -> str:
    directory = config.cache_dir() / "logs"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
        path = directory / f"crash-{stamp}-{os.getpid()}.log"
        path.write_text(out.redact(traceback.format_exc()), encoding="utf-8")
        return str(path)
    except OSError:
        return "not written: the cache directory is not writable"


def _interrupted(signum: int, frame: object) -> NoReturn:
    # Ctrl-C, or SIGTERM (CI cancelling a job): stop every worker and process at once, then
    # unwind the main thread as a KeyboardInterrupt, cleaning up on the way out.
    cleanup.interrupt()
    raise KeyboardInterrupt


_Handlers = dict[int, object]


def _install_signal_handlers() -> _Handlers:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(handlers: _Handlers) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def console_main() -> None:
    code = main()
    if code == 130:
        # Workers were told to stop and their processes are gone; do not wait for a thread
        # still unwinding (the interpreter would join every pool thread before exiting).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
