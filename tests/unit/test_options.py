"""The table of options (pinbot.options) is the one place a flag is written: the parser, the
environment, the commands' dataclasses, pinbot.api's keywords and the CLI reference agree with
it."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pinbot import api, cli, config, options, reference
from pinbot.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
# pinbot.api's functions per command, and the flags each one sets itself.
API: dict[str, list[tuple[Callable[..., Any], set[str]]]] = {
    "scan": [(api.scan, set())],
    "check": [(api.check, set())],
    "cut": [(api.plan_cut, {"push", "open_prs", "dry_run"}), (api.apply_cut, {"dry_run"})],
    "gate": [(api.gate, set())],
    "probe": [(api.probe, set())],
}


def keywords(function: Callable[..., Any]) -> dict[str, object]:
    """A function's keywords and their types, its `**given: Unpack[TypedDict]` spread out."""
    hints = typing.get_type_hints(function)
    found = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            (typed,) = typing.get_args(hints[name])
            found.update(typing.get_type_hints(typed))
        else:
            found[name] = hints[name]
    return found


@pytest.mark.parametrize("command", sorted(API))
def test_every_flag_is_an_api_keyword_of_the_same_name_and_type(command: str) -> None:
    for function, implied in API[command]:
        given = keywords(function)
        table = {o.name: options.api_type(o) for o in options.for_api(command)}
        assert set(given) == set(table) - implied, function.__name__
        for name, kind in table.items():
            if name not in implied:
                assert given[name] == kind, f"{function.__name__}({name}=...)"


def test_the_named_drifts_are_gone() -> None:
    assert "max_candidates" in keywords(api.scan)
    assert "all" in keywords(api.scan)  # --all, not examine_all
    assert "command" in typing.get_args(keywords(api.probe)["recycle"])[0].__args__


def test_an_api_keyword_becomes_the_flag_of_that_name() -> None:
    line = options.argv("scan", {"max_candidates": 5, "all": True, "detectors": ["source"]})
    args = cli.make_parser().parse_args(line)
    assert (args.max_candidates, args.all, args.detectors) == (5, True, ("source",))


def test_an_api_value_the_cli_refuses_is_refused_with_the_flag_named() -> None:
    with pytest.raises(UsageError, match="--max-candidates"):
        api.scan(max_candidates=0)


def test_a_repeated_option_takes_one_value_or_several() -> None:
    sha = "a" * 40
    for given in (sha, [sha, "b" * 40]):
        line = options.argv("gate", {"deploy": "d", "openhands": "o", "require_commit": given})
        assert line.count(f"--require-commit={sha}") == 1


@pytest.mark.parametrize("command", [c.name for c in options.COMMANDS])
def test_each_command_dataclass_has_a_field_per_option(command: str) -> None:
    fields = {f.name for f in dataclasses.fields(options.KINDS[command])}
    if "image_options" in fields:
        fields = fields - {"image_options"} | {
            f.name for f in dataclasses.fields(options.ImageOptions)
        }
    assert fields == {o.name for o in options.of(command)}


SHA = "0123456789abcdef" * 2 + "01234567"
GIVEN = {  # keywords as the demo writes them: values as a user types them
    "scan": {"image": "ghcr.io/o/a", "detectors": ("source", "provenance"),
             "current": "1.2.0-python"},
    "cut": {"tag": "1.3.0-python", "openhands": "https://h/o.git", "openhands_branch": "main",
            "require_commit": SHA, "push": True, "registry_url": "http://127.0.0.1:5000/"},
    "gate": {"deploy": "https://h/d.git@pinbot/x", "openhands": "https://h/o.git"},
    "probe": {"target": "agent-server", "server_command": "srv --port {port}", "timeout": 60,
              "report": Path("r.json"), "rollback": True, "agents": "claude-code,codex"},
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(GIVEN))
def test_options_built_from_keywords_are_what_the_cli_builds_from_their_command_line(
    command: str,
) -> None:
    given, settings = GIVEN[command], config.Settings()
    parsed = cli.parse(cli.make_parser(), options.argv(command, given))

    built = options.build(command, options.typed(command, given), settings)

    assert built == options.build(command, vars(parsed), settings)
    assert isinstance(built, options.KINDS[command])


def test_a_keyword_the_command_does_not_take_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="gate got unexpected options: tag"):
        options.typed("gate", {"tag": "1.2.0-python"})


def test_each_config_key_a_flag_names_is_a_setting() -> None:
    for option in options.OPTIONS:
        if option.config:
            settings: Any = config.Settings()
            for part in option.config.split("."):
                settings = getattr(settings, part)  # AttributeError: no such key


def test_option_names_are_one_kind_each_and_show_an_example() -> None:
    for option in options.OPTIONS:
        assert option.name.isidentifier() and option.name == option.name.lower()
        assert option.example or option.kind == "switch", option.name
        assert not option.choices or option.example in option.choices, option.name


def test_every_example_value_passes_its_own_check() -> None:
    for option in options.OPTIONS:
        if option.check is not None and not getattr(option.check, "reads_files", False):
            option.check(option.example.strip("'"))


def test_the_parser_has_exactly_the_table_s_flags() -> None:
    top = cli.make_parser()
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        flags = {a.dest for a in parser._actions if a.dest != "help"}
        assert flags == {o.name for o in (*options.of(options.GLOBAL), *options.of(name))}


def test_the_generated_reference_is_current() -> None:
    written = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    assert written == reference.markdown(), (
        "docs/reference/cli.md is stale: run `python -m pinbot.reference > docs/reference/cli.md`"
    )


def test_the_reference_names_every_flag_and_its_variable() -> None:
    text = reference.markdown()
    for option in options.OPTIONS:
        assert f"`{option.flag}" in text or f"{option.short}, {option.flag}" in text
        assert option.env is None or f"`{option.env}`" in text
