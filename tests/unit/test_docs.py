"""The docs site builds strict: a broken link, a missing page or a missing anchor fails.

`scripts/dev test` builds it too; this keeps a plain `pytest` run honest about the docs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mkdocs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_docs_site_builds_strict(tmp_path: Path) -> None:
    built = mkdocs("build", "--strict", "--site-dir", str(tmp_path / "site"))

    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "guides" / "library" / "index.html").is_file()


def test_a_broken_anchor_fails_the_build(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs", symlinks=True)
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copy(ROOT / "CHANGELOG.md", copy / "CHANGELOG.md")
    index = copy / "docs" / "index.md"
    index.write_text(index.read_text() + "\n[gone](guides/cut.md#no-such-section)\n")

    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "s")],
        cwd=copy, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert built.returncode != 0
    assert "does not contain an anchor '#no-such-section'" in built.stderr


def test_every_page_is_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert {page for page in pages if page not in config} == set()
