"""The package an index would get: `python -m build` gives an sdist and a wheel that twine
accepts, and the wheel holds pinbot and nothing of the test kit."""

from __future__ import annotations

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
