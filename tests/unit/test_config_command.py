"""`pinbot config check [FILE]` and `pinbot config sample`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pinbot import config, inputs
from testing.cli import pinbot


def test_the_sample_loads_and_holds_every_default(tmp_path: Path) -> None:
    code, out, _ = pinbot("config", "sample")
    assert code == 0
    path = tmp_path / "pinbot.toml"
    path.write_text(out, encoding="utf-8")

    loaded = config.load(path)

    assert dataclasses.replace(loaded, source=config.DEFAULT_SOURCE) == config.Settings()
    every = {key for key, _ in config.effective(config.Settings())}
    assert every - {"pin.sites"} <= config.given(path), "the sample shows every key"
    assert "# [[pin.sites]]" in out, "and the explicit sites, commented out"


@pytest.mark.parametrize("recycle", ["pause", "restart", "command"])
def test_the_config_takes_every_recycle_the_probe_takes(tmp_path: Path, recycle: str) -> None:
    path = tmp_path / "pinbot.toml"
    path.write_text(f'[probe]\nrecycle = "{recycle}"\n', encoding="utf-8")
    assert config.load(path).probe.recycle == recycle


def checked(path: Path) -> dict[str, dict[str, object]]:
    """`pinbot --json config check PATH`'s settings, by key (the run must succeed)."""
    code, out, err = pinbot("--json", "config", "check", str(path))
    assert code == 0, err
    return {row["key"]: row for row in json.loads(out)["settings"]}


def test_check_shows_each_setting_and_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pinbot.toml"
    path.write_text('ignore = ["1.45.*"]\n[pin]\nindex_url = "https://example.org/simple/"\n')
    monkeypatch.setenv("PINBOT_VARIANT", "java")

    rows = checked(path)

    assert rows["ignore"] == {"key": "ignore", "value": ["1.45.*"], "from": str(path)}
    assert rows["pin.index_url"]["from"] == str(path)
    assert rows["concurrency"] == {"key": "concurrency", "value": 7, "from": "default"}
    assert rows["variant"]["from"] == "PINBOT_VARIANT (for scan, check, cut, gate), over default"


def test_the_git_author_from_the_environment_is_shown_as_what_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pinbot.toml"
    path.write_text('git_author = "Release Bot <bot@example.com>"\n')
    monkeypatch.setenv("PINBOT_GIT_AUTHOR", "Env Bot <env@example.com>")

    rows = checked(path)

    assert rows["git_author"] == {
        "key": "git_author",
        "value": "Env Bot <env@example.com>",
        "from": f"PINBOT_GIT_AUTHOR, over {path}",
    }


def test_config_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """config.py parses what it is given; the face reads PINBOT_GIT_AUTHOR (pinbot.inputs)."""
    monkeypatch.setenv("PINBOT_GIT_AUTHOR", "Env Bot <env@example.com>")
    settings = config.Settings()

    assert config.git_author(settings) == config.parse_author(config.DEFAULT_AUTHOR)
    overridden = inputs.with_environment(settings, {"PINBOT_GIT_AUTHOR": "A <a@example.com>"})
    assert config.git_author(overridden) == ("A", "a@example.com")
    source = Path(config.__file__).read_text(encoding="utf-8")
    assert "os.environ" not in source and "getenv" not in source


def test_check_without_a_file_reads_the_config_every_command_reads(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pinbot]\nconcurrency = 3\n")

    code, out, _ = pinbot("config", "check")

    assert code == 0
    assert out.startswith(f"{tmp_path / 'pyproject.toml'}: valid")
    assert "concurrency = 3" in out and "# default" in out


def test_check_with_no_config_anywhere_says_the_defaults_are_in_force() -> None:
    code, out, _ = pinbot("config", "check")

    assert code == 0
    assert out.startswith("no config file: the built-in defaults")


@pytest.mark.parametrize(
    "text, message",
    [
        ("concurency = 3\n", "unknown key 'concurency'"),
        ("concurrency = 0\n", "concurrency 0 must be between 1 and 64"),
        ('ignore = ["1.45 *"]\n', "ignore entry '1.45 *'"),
        ('[pr]\nreviewers = ["a b"]\n', "pr.reviewers entry 'a b': write a login or ORG/TEAM"),
        ('[pr]\nlabels = [""]\n', "pr.labels entry ''"),
    ],
)
def test_check_of_a_bad_config_is_exit_2_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text)

    code, _, err = pinbot("config", "check", str(path))

    assert code == 2
    assert str(path) in err and message in err


def test_check_of_a_missing_file_is_exit_2(tmp_path: Path) -> None:
    code, _, err = pinbot("config", "check", str(tmp_path / "nope.toml"))

    assert code == 2 and "nope.toml" in err


def test_check_of_a_file_ignores_a_broken_config_in_the_directory(tmp_path: Path) -> None:
    (tmp_path / "pinbot.toml").write_text("this is not toml = =\n")
    good = tmp_path / "good.toml"
    good.write_text("concurrency = 2\n")

    assert pinbot("config", "check", str(good)).code == 0
    assert pinbot("config", "sample").code == 0
