"""Bad input is exit 2 with a message that names the value and the fix, and writes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pinbot.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.fixture(autouse=True)
def _nothing_written(tmp_path: Path):
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    yield
    configs = {Path("pinbot.toml"), Path("pyproject.toml")}  # written by the tests themselves
    after = sorted(
        p.relative_to(tmp_path)
        for p in tmp_path.rglob("*")
        if p.relative_to(tmp_path) not in configs
    )
    assert after == before, "a refused command wrote files"
    assert not Path(os.environ["PINBOT_CACHE_DIR"]).exists()


@pytest.mark.parametrize("tag", ["1.43.1-python'", "1.43 1-python", ".leading-dot", "a" * 129])
def test_a_malformed_tag_is_refused_before_any_request(capsys, tag: str) -> None:
    code, err = run(capsys, "check", "--image", "ghcr.io/openhands/agent-server", tag)
    assert code == 2
    assert repr(tag) in err and "not a valid image tag" in err


def test_a_malformed_current_pin_is_refused(capsys) -> None:
    code, err = run(capsys, "scan", "--current", '1.26.0-python"')
    assert code == 2 and "--current" in err and "not a valid image tag" in err


def test_an_uppercase_repository_is_refused(capsys) -> None:
    code, err = run(capsys, "scan", "--image", "ghcr.io/OpenHands/agent-server")
    assert code == 2
    assert "'OpenHands/agent-server' must be lowercase" in err


def test_an_image_without_a_registry_host_says_how_to_write_it(capsys) -> None:
    code, err = run(capsys, "scan", "--image", "openhands/agent-server")
    assert code == 2 and "write it as HOST/NAME" in err


def test_a_non_hex_sha_in_config_is_refused(capsys, tmp_path: Path) -> None:
    (tmp_path / "pinbot.toml").write_text('require_commits = ["deadbeefxyz"]\n')
    code, err = run(capsys, "scan")
    assert code == 2
    assert "'deadbeefxyz' is not a full commit sha: give all 40 lowercase hex digits" in err


def test_an_unknown_config_key_names_file_and_key(capsys, tmp_path: Path) -> None:
    (tmp_path / "pinbot.toml").write_text('imagee = "ghcr.io/x/y"\n')
    code, err = run(capsys, "scan")
    assert code == 2
    assert f"{tmp_path / 'pinbot.toml'}: unknown key 'imagee'" in err


def test_an_unknown_nested_config_key_is_named_with_its_table(capsys, tmp_path: Path) -> None:
    (tmp_path / "pinbot.toml").write_text('[pin]\npython_fil = "x.py"\n')
    code, err = run(capsys, "scan")
    assert code == 2 and "unknown key 'pin.python_fil'" in err


def test_a_wrong_config_type_is_named(capsys, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pinbot]\nplatforms = "linux/amd64"\n')
    code, err = run(capsys, "scan")
    assert code == 2 and "platforms must be a list of str" in err


def test_a_missing_config_file_is_named(capsys, tmp_path: Path) -> None:
    code, err = run(capsys, "--config", str(tmp_path / "nope.toml"), "scan")
    assert code == 2 and "nope.toml does not exist" in err


def test_an_unknown_detector_is_refused(capsys) -> None:
    code, err = run(capsys, "scan", "--detectors", "source,magic")
    assert code == 2 and "choose from source, openapi" in err


def test_flags_read_pinbot_environment_variables(capsys, monkeypatch) -> None:
    monkeypatch.setenv("PINBOT_IMAGE", "ghcr.io/Bad/Name")
    code, err = run(capsys, "scan")
    assert code == 2 and "'Bad/Name' must be lowercase" in err


def test_a_bad_boolean_environment_value_is_named(capsys, monkeypatch) -> None:
    monkeypatch.setenv("PINBOT_JSON", "maybe")
    code, err = run(capsys, "scan")
    assert code == 2 and "PINBOT_JSON='maybe'" in err


def test_unknown_flags_are_usage_errors_not_crashes(capsys) -> None:
    code, err = run(capsys, "scan", "--frobnicate")
    assert code == 2 and "unrecognized arguments: --frobnicate" in err


def test_an_internal_error_is_one_line_and_a_traceback_file(capsys, monkeypatch) -> None:
    import pinbot.commands.scan as scan_command

    def boom(*args: object, **kwargs: object) -> int:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(scan_command, "run", boom)
    code, err = run(capsys, "scan")
    assert code == 4
    assert err.startswith("pinbot: error: internal error: RuntimeError: kaboom (traceback: ")
    log = Path(err.split("traceback: ")[1].rstrip(")\n"))
    assert "kaboom" in log.read_text()
    log.unlink()
    for parent in (log.parent, log.parent.parent):
        parent.rmdir()
