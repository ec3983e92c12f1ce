"""`pinbot --version`: what a bug report needs, from one version source."""

from __future__ import annotations

import platform
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pinbot
from pinbot.cli import KEY_LIBRARIES
from testing.cli import pinbot as run

ROOT = Path(__file__).resolve().parents[2]


def test_version_names_pinbot_python_and_each_key_library() -> None:
    code, out, _ = run("--version")

    assert code == 0
    first, python, libraries = out.splitlines()
    assert first == f"pinbot {pinbot.__version__}"
    assert python.startswith(
        f"Python {platform.python_implementation()} {platform.python_version()}"
    )
    for name in KEY_LIBRARIES:
        assert f"{name} {metadata.version(name)}" in libraries


def test_the_version_has_one_source_read_by_the_build() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    dynamic = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    assert dynamic["setuptools"]["dynamic"]["version"] == {"attr": "pinbot.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinbot.__version__)


def test_the_changelog_has_an_entry_for_the_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"\n## [{pinbot.__version__}]" in text
