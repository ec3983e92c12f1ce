"""The package an index would get: `python -m build` gives an sdist and a wheel that twine
accepts, and the wheel holds pinbot and nothing of the test kit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import pinbot

ROOT = Path(__file__).resolve().parents[2]
TEST_KIT_IMPORT = re.compile(r"^\s*(from|import)\s+(tests|testing)\b", re.MULTILINE)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def the(dist: Path, pattern: str) -> Path:
    (found,) = dist.glob(pattern)
    return found


def test_build_gives_an_sdist_and_a_wheel_of_this_version_that_twine_accepts(dist: Path) -> None:
    version = pinbot.__version__
    wheel, sdist = the(dist, "*.whl"), the(dist, "*.tar.gz")
    assert wheel.name == f"pinbot-{version}-py3-none-any.whl"
    assert sdist.name == f"pinbot-{version}.tar.gz"
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_the_wheel_holds_pinbot_and_no_test_kit(dist: Path) -> None:
    with zipfile.ZipFile(the(dist, "*.whl")) as wheel:
        names = wheel.namelist()
        tops = {name.split("/", 1)[0] for name in names}
        assert tops == {"pinbot", f"pinbot-{pinbot.__version__}.dist-info"}
        assert not [n for n in names if re.search(r"(^|/)(tests?|testing|conftest)(/|\.py$)", n)]
        # and nothing in it reaches for the kit left outside
        sources = {n: wheel.read(n).decode() for n in names if n.endswith(".py")}
    assert "pinbot/cli.py" in sources
    assert not [n for n, text in sources.items() if TEST_KIT_IMPORT.search(text)]
    metadata = zipfile.ZipFile(the(dist, "*.whl")).read(
        f"pinbot-{pinbot.__version__}.dist-info/METADATA"
    )
    assert f"\nVersion: {pinbot.__version__}\n" in metadata.decode()


def test_the_sdist_carries_the_changelog(dist: Path) -> None:
    import tarfile

    with tarfile.open(the(dist, "*.tar.gz")) as sdist:
        names = sdist.getnames()
    assert f"pinbot-{pinbot.__version__}/CHANGELOG.md" in names
    assert f"pinbot-{pinbot.__version__}/pinbot/cli.py" in names


def test_the_metadata_names_the_repository_docs_and_changelog(dist: Path) -> None:
    with zipfile.ZipFile(the(dist, "*.whl")) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = wheel.read(name).decode()
    urls = dict(re.findall(r"^Project-URL: ([^,]+), (\S+)$", metadata, re.MULTILINE))
    assert urls == {
        "Repository": "https://github.com/OWNER/pinbot",
        "Documentation": "https://github.com/OWNER/pinbot/tree/main/docs",
        "Changelog": "https://github.com/OWNER/pinbot/blob/main/CHANGELOG.md",
    }
    for path in ("docs", "CHANGELOG.md"):
        assert (ROOT / path).exists(), f"the metadata points at {path}, which is not there"


def test_pinbots_home_is_one_placeholder_everywhere() -> None:
    """No owner is invented: every GitHub address of pinbot itself is OWNER/pinbot, so the
    commit that gives pinbot a home replaces one token."""
    files = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "*.md", "*.yml", "*.toml", "*.py"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    owners = set()
    for name in files:
        text = (ROOT / name).read_text(encoding="utf-8", errors="replace")
        owners |= {m for m in re.findall(r"\b([\w.-]+)/pinbot@", text) if m != "OWNER"}
        owners |= {m for m in re.findall(r"github\.com/([\w.-]+)/pinbot\b", text) if m != "OWNER"}
    assert owners == set()


def test_a_release_build_refuses_the_placeholder() -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "dev"), "package", "--release"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PINBOT_VENV": str(Path(sys.executable).parents[1])},
    )  # fmt: skip
    assert done.returncode == 1
    assert "still names OWNER/pinbot" in done.stderr
