"""The global flags (--config, --json, -v, --no-cache) work before or after the command."""

from __future__ import annotations

import io
import logging
import shlex
from pathlib import Path

import pytest

from pinbot.cli import make_parser
from testing.cli import pinbot


@pytest.fixture(autouse=True)
def _files_the_flags_name(tmp_path: Path) -> None:
    for name in ("ci.toml", "env.toml"):
        (tmp_path / name).write_text("")
    for name in ("d", "o"):
        (tmp_path / name).mkdir()


def test_global_flags_after_the_command_are_read() -> None:
    args = make_parser().parse_args(
        ["scan", "--json", "-vv", "--no-cache", "--config", "ci.toml", "--current", "1.2.3-python"]
    )
    assert (args.json, args.verbose, args.no_cache, args.config) == (True, 2, True, Path("ci.toml"))
    assert args.current == "1.2.3-python"


def test_global_flags_before_the_command_are_not_reset_by_it() -> None:
    args = make_parser().parse_args(["--json", "-v", "--no-cache", "--config", "ci.toml", "gate",
                                      "--deploy", "d", "--openhands", "o"])  # fmt: skip
    assert (args.json, args.verbose, args.no_cache, args.config) == (True, 1, True, Path("ci.toml"))


def test_global_flags_default_off_on_both_sides() -> None:
    args = make_parser().parse_args(["probe"])
    assert (args.json, args.verbose, args.no_cache, args.config) == (False, 0, False, None)


def test_the_environment_still_sets_a_global_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    from pinbot.cli import _apply_env_defaults

    parser = make_parser()
    _apply_env_defaults(parser, {"PINBOT_JSON": "1", "PINBOT_CONFIG": "env.toml"})
    args = parser.parse_args(["check", "1.2.3-python"])
    assert (args.json, args.config) == (True, Path("env.toml"))


def test_a_config_named_after_the_command_is_the_one_loaded() -> None:
    code, _, err = pinbot("scan", "--config", "nowhere/pinbot.toml")
    assert code == 2
    assert "nowhere/pinbot.toml" in err


def test_an_either_or_flag_from_the_environment_satisfies_its_group() -> None:
    from pinbot.cli import _apply_env_defaults

    parser = make_parser()
    _apply_env_defaults(parser, {"PINBOT_LATEST": "true", "PINBOT_TAG": ""})
    args = parser.parse_args(
        ["cut", "--openhands", "o", "--openhands-branch", "b", "--deploy", "d"]
    )
    assert (args.latest, args.tag) == (True, None)  # the empty PINBOT_TAG set nothing


def test_an_either_or_group_is_still_required_when_the_environment_says_false() -> None:
    from pinbot.cli import _apply_env_defaults
    from pinbot.errors import UsageError

    parser = make_parser()
    _apply_env_defaults(parser, {"PINBOT_LATEST": "false"})
    with pytest.raises(UsageError, match="--tag --latest"):
        parser.parse_args(["cut", "--openhands", "o", "--openhands-branch", "b", "--deploy", "d"])


@pytest.mark.parametrize("command", ["scan", "check", "cut", "gate", "probe", "demo"])
def test_every_command_help_has_examples_that_parse(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, shown, _ = pinbot(command, "--help")
    assert code == 0
    examples = [
        shlex.split(line)[1:] for line in shown.splitlines() if line.startswith("  pinbot ")
    ]
    assert examples, f"pinbot {command} --help shows no example"
    work = tmp_path / "work"  # where the examples' local paths exist
    for directory in ("work", "deploy", "OpenHands", "software-agent-sdk"):
        (tmp_path / directory).mkdir(exist_ok=True)
    (work / "probe.json").write_text("{}")
    monkeypatch.chdir(work)
    for example in examples:
        args = make_parser().parse_args(example)
        assert args.command == command


def test_a_flag_is_taken_only_as_written_and_the_likely_one_is_named() -> None:
    code, _, err = pinbot("scan", "--detector", "source")
    assert code == 2
    assert "unrecognized arguments: --detector source (did you mean --detectors?)" in err
    assert "see 'pinbot scan --help'" in err


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["scna"], "did you mean scan?"),
        (["probe", "--recycle", "restrat"], "did you mean restart?"),
        (["scan", "--detectors", "sorce"], "did you mean source?"),
        (["--jsn", "scan"], "did you mean --json?"),
    ],
)
def test_a_typo_gets_the_likely_word(argv: list[str], meant: str) -> None:
    code, _, err = pinbot(*argv)
    assert code == 2
    assert meant in err


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ('concurrency = "seven"\n', "concurrency must be an integer between 1 and 64, not str"),
        ("concurrency = 99\n", "concurrency 99 must be between 1 and 64"),
        ('[probe]\ntimeout = "x"\n', "probe.timeout must be a number between 1 and 7200 s"),
        ("variant = 3\n", "variant must be a string (one of python, java, golang)"),
    ],
)
def test_a_config_type_error_names_the_bounds_too(toml: str, said: str, tmp_path: Path) -> None:
    (tmp_path / "pinbot.toml").write_text(toml)
    code, _, err = pinbot("scan", "--config", str(tmp_path / "pinbot.toml"))
    assert code == 2
    assert said in err


def test_a_log_record_after_stderr_was_swapped_goes_to_the_new_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A background thread may log after an in-process run's stderr is gone (a test's capture
    closed): the record goes to the stderr of the moment, not to a closed file."""
    pinbot("config", "sample")  # installs pinbot's handler, bound to this run's stderr
    gone = io.StringIO()
    monkeypatch.setattr("sys.stderr", gone)
    gone.close()
    now = io.StringIO()
    monkeypatch.setattr("sys.stderr", now)

    logging.getLogger("pinbot.test").warning("after the swap")

    assert "pinbot: WARNING: after the swap" in now.getvalue()
    assert "Logging error" not in now.getvalue()
