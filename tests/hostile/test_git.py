"""No repository or branch value runs a command: the real `pinbot cut`, `gate` and `scan --sdk`
given values git would read as options or remote helpers. Each must be exit 2 before any git
starts; the proof is a marker file the injected command would create."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from testing.cli import pinbot
from testing.cutworld import CAPABLE, IMAGE

AREA = "argument injection"
ATTACK = (
    "`--upload-pack=…`, `-u…`, `ext::`, `fd::`, `ssh://-oProxyCommand…`, unknown schemes and "
    "control characters as repositories; option-like branches and refs"
)
ANSWER = "refuses before any git starts (the injected command's marker file never appears)"
EXIT = "2"


pytestmark = pytest.mark.usefixtures("own_temp")


@pytest.fixture
def marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file an injected command would create (named through the environment, since the
    value cannot hold a '/')."""
    path = tmp_path / "pwned"
    monkeypatch.setenv("PWNED", str(path))
    return path


def hostile_values() -> list[str]:
    return [
        "--upload-pack=touch${IFS}$PWNED;@x:y",
        "-uPWNED@x:y",
        "ext::sh -c touch% $PWNED",
        "fd::17",
        "ssh://-oProxyCommand=touch${IFS}$PWNED/x",
        "git@-oProxyCommand=x:y",
        "evil://host/repo",
        "repo\nwith-newline",
    ]


def created(marker: Path) -> list[str]:
    return sorted(p.name for p in marker.parent.glob("pwned*"))


@pytest.mark.parametrize("value", hostile_values())
def test_cut_refuses_a_repository_value_git_would_run(
    value: str, marker: Path, images: Any, tmp_path: Path
) -> None:
    code, _, err = pinbot(
        "cut", "--tag", CAPABLE, f"--openhands={value}",
        # A branch named like a directory of the bare clone: with the value as an option,
        # `git ls-remote --heads VALUE refs` takes it for the repository and runs the command.
        "--openhands-branch", "refs",
        "--deploy", str(tmp_path), "--image", IMAGE, "--registry-url", images.registry,
    )  # fmt: skip

    assert code == 2, err
    assert "--openhands" in err
    assert created(marker) == []
    assert list(Path(tempfile.gettempdir()).glob("pinbot-*")) == []  # not even a clone dir


@pytest.mark.parametrize("value", hostile_values())
def test_gate_refuses_a_repository_value_git_would_run(
    value: str, marker: Path, tmp_path: Path
) -> None:
    code, _, err = pinbot(
        "gate", f"--deploy={value}", "--openhands", str(tmp_path), "--image", IMAGE
    )

    assert code == 2, err
    assert "--deploy" in err
    assert created(marker) == []


@pytest.mark.parametrize("value", hostile_values()[:4])
def test_scan_refuses_an_sdk_value_git_would_run(value: str, marker: Path, images: Any) -> None:
    code, _, err = pinbot(
        "check", CAPABLE, "--image", IMAGE, "--registry-url", images.registry,
        f"--sdk={value}",
    )  # fmt: skip

    assert code == 2, err
    assert "--sdk" in err
    assert created(marker) == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--openhands-branch", "--upload-pack=x"),
        ("--openhands-branch", "-f"),
        ("--openhands-branch", "main..HEAD"),
        ("--deploy-branch", "--force"),
        ("--deploy-branch", "x\ny"),
    ],
)
def test_cut_refuses_a_branch_git_would_read_as_an_option(
    flag: str, value: str, images: Any, tmp_path: Path
) -> None:
    argv = [
        "cut", "--tag", CAPABLE, "--openhands", str(tmp_path), "--openhands-branch", "main",
        "--deploy", str(tmp_path), "--image", IMAGE, "--registry-url", images.registry,
    ]  # fmt: skip
    code, _, err = pinbot(*argv, f"{flag}={value}")

    assert code == 2, err
    assert flag in err


def test_gate_refuses_a_deploy_ref_git_would_read_as_an_option(tmp_path: Path) -> None:
    code, _, err = pinbot(
        "gate", f"--deploy={tmp_path}/x@--output=pwned", "--openhands", str(tmp_path)
    )

    assert code == 2
    assert "--deploy" in err
