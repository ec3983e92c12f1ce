"""Argument parsing, dispatch, and the one error boundary (docs/reference/exit-codes.md).

Nothing below this module prints or exits: commands return an int, the core returns data.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import functools
import importlib
import logging
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pinbot import __version__, cleanup, config, inputs, options
from pinbot.errors import PinbotError, UsageError
from pinbot.report import Output, RedactingFilter

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


class Parser(argparse.ArgumentParser):
    """argparse, but bad usage raises UsageError (exit 2) instead of exiting on its own, a
    flag is taken only as written (no abbreviations: `--detector` is not `--detectors`), and
    an unknown word gets the likely one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "allow_abbrev": False})

    def error(self, message: str) -> NoReturn:
        raise UsageError(
            f"{self.prog}: {message}{_did_you_mean(message)} (see '{self.prog} --help')"
        )


_INVALID_CHOICE = re.compile(r"invalid choice: '(.*)' \(choose from (.*)\)\Z")


def _did_you_mean(message: str) -> str:
    """argparse's "invalid choice" (a command, a --recycle mode), with the close one named."""
    match = _INVALID_CHOICE.search(message)
    if not match:
        return ""
    choices = [c.strip().strip("'") for c in match[2].split(",")]
    return config.did_you_mean(match[1], choices)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """`parser.parse_args`, but a word it does not know names the flag that was likely meant,
    among the flags of the command it was given to."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        flags = _flags_of(parser, getattr(args, "command", None))
        unknown = " ".join(extras)
        hint = next(
            (config.did_you_mean(w.split("=")[0], flags) for w in extras if w.startswith("-")), ""
        )
        prog = f"{parser.prog} {args.command}" if getattr(args, "command", None) else parser.prog
        raise UsageError(f"{prog}: unrecognized arguments: {unknown}{hint} (see '{prog} --help')")
    return args


def _flags_of(parser: argparse.ArgumentParser, command: str | None) -> list[str]:
    names = options.of(options.GLOBAL) + (options.of(command) if command else ())
    return [option.flag for option in names if not option.positional]


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


def make_parser() -> Parser:
    """pinbot's parser, built from the table of options (pinbot.options)."""
    top = Parser(
        prog="pinbot",
        description="Move a deployment onto a new agent-server image only when the image "
        "carries the capability the backend needs, and prove it afterwards. "
        "Every flag can also be set as PINBOT_<FLAG> (e.g. PINBOT_REGISTRY_URL); "
        "tokens come only from the environment (GITHUB_TOKEN/GH_TOKEN, "
        "PINBOT_REGISTRY_TOKEN, PINBOT_APP_API_KEY).",
        epilog="exit codes: 0 success, 1 negative verdict, 2 bad usage/config/input, "
        "3 external system failed, 4 internal error",
    )
    top.add_argument(
        "--version",
        action=_VersionAction,
        help="show pinbot's, Python's and the key libraries' versions and exit",
    )
    # The global flags go before or after the command (`pinbot scan --json`), as users write
    # them. Only the top level has defaults, so a flag before the command is not reset by the
    # command's copy of it.
    _add_options(top, options.of(options.GLOBAL), top_level=True)
    after = Parser(add_help=False)
    _add_options(after, options.of(options.GLOBAL), top_level=False)
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in options.COMMANDS:
        p = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            epilog=_examples(command),
            parents=[after],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_options(p, options.of(command.name), top_level=True)
    return top


def _examples(command: options.Command) -> str:
    lines = (f"  pinbot {command.name} {line}".rstrip() + "\n" for line in command.examples)
    return "examples:\n" + "".join(lines)


def _add_options(p: Parser, table: Sequence[options.Option], top_level: bool) -> None:
    """Each option of `table` on `p`, in its --help group and either-or group."""
    groups: dict[str | None, Any] = {None: p}
    for option in table:
        where = groups.get(option.group) or groups.setdefault(
            option.group, p.add_argument_group(option.group)
        )
        if option.one_of:
            key = f"one of {option.one_of}"
            where = groups.get(key) or groups.setdefault(
                key, where.add_mutually_exclusive_group(required=True)
            )
        where.add_argument(*_names(option), **_argument(option, top_level))


def _names(option: options.Option) -> list[str]:
    return [name for name in (option.short, option.flag) if name]


def _argument(option: options.Option, top_level: bool) -> dict[str, Any]:
    """add_argument's keywords for `option`; a global option's copy after the command has no
    default of its own (argparse.SUPPRESS), so it cannot reset one given before it."""
    spec: dict[str, Any] = {"help": option.help}
    if option.kind == "switch":
        spec["action"] = "store_true"
    elif option.kind == "count":
        spec["action"] = "count"
    else:
        spec.update(metavar=option.metavar, type=option.check)
        if option.choices:
            spec.update(choices=option.choices, metavar=None)
    if option.repeat:
        spec["action"] = "append"
    if option.required and not option.positional:
        spec["required"] = True
    if option.positional and not option.required:
        spec["nargs"] = "?"
    if not option.positional:
        spec["default"] = option.default if top_level else argparse.SUPPRESS
    return spec


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
        known = [str(choice) for choice in action.choices]
        guess = config.did_you_mean(text, known)
        raise UsageError(f"{env}={text!r}: choose from {', '.join(known)}{guess}")
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
    run = cleanup.begin(inputs.cache_dir(os.environ) / "runs")
    handlers = _install_signal_handlers()
    try:
        return _main(argv, out)
    finally:
        _restore_signal_handlers(handlers)
        cleanup.end(run, previous_run)


def _main(argv: Sequence[str] | None, out: Output) -> int:
    try:
        parser = make_parser()
        _apply_env_defaults(parser, dict(os.environ))
        args = parse(parser, argv)
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


def _dispatch(args: argparse.Namespace, out: Output) -> int:
    from pinbot.commands import Context

    inputs.environment(os.environ)
    # The gate judges what is in the working directory: it reads only the config it is given.
    # `config check FILE` and `config sample` read no other config.
    own = args.command == "config" and (args.file or args.action == "sample")
    discover = args.command != "gate" and not own
    settings = config.load(args.config, Path.cwd() if discover else None)
    settings = inputs.with_environment(settings, os.environ)
    if getattr(args, "profile", None):
        pin = dataclasses.replace(settings.pin, profile=args.profile, sites=[])
        settings = settings.replace(pin=pin)
    if getattr(args, "index_url", None):
        settings = settings.replace(pin=dataclasses.replace(settings.pin, index_url=args.index_url))
    cache = inputs.cache_dir(os.environ)
    ctx = Context(settings=settings, out=out, cache_dir=cache, use_cache=not args.no_cache)
    if args.command == "scan" and bool(args.openhands) != bool(args.openhands_branch):
        raise UsageError(
            "scan: --openhands and --openhands-branch go together: give both to hold back "
            "images rolled back on that branch, or neither"
        )
    module, function = RUNNERS[args.command]
    run = getattr(importlib.import_module(f"pinbot.commands.{module}"), function)
    code: int = run(ctx, options.build(args.command, vars(args), settings))
    return code


# Which function runs each command: (module in pinbot.commands, function), imported when run.
RUNNERS = {
    "scan": ("scan", "run"),
    "check": ("scan", "run_check"),
    "cut": ("cut", "run"),
    "gate": ("gate", "run"),
    "probe": ("probe", "run"),
    "config": ("config", "run"),
    "demo": ("demo", "run"),
}


class _LogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """pinbot's own stderr handler, with the Output's secrets masked in every record. It writes
    to the `sys.stderr` of the moment: a caller that runs `main` in-process and then swaps its
    stderr (a test's capture, an embedding tool) must not leave a record aimed at a closed file."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # emit runs under the handler's lock
        super().emit(record)


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
    directory = inputs.cache_dir(os.environ) / "logs"
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
    # Nothing pinbot started outlives main(): pools are joined, processes and containers
    # stopped, temporary directories removed, output written. Leave without the interpreter's
    # teardown, which frees every module's objects (20-35 ms a run, more than a registry
    # round trip) and, after an interrupt, would wait for a thread still unwinding.
    with contextlib.suppress(OSError):  # a closed pipe: nothing more can be said
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
