"""A new user's first two commands: a plain `pip install` into a fresh venv, then `pinbot demo`.

No extras and no `--no-deps`: what the wheel declares is all the demo gets. pip's own cache is
left on, so a second run installs from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "__pycache__",
    "build",
    "dist",
    "*.egg-info",
    ".*_cache",
    ".hypothesis",
    ".pinbot-run",
)


def test_a_plain_pip_install_runs_the_demo(tmp_path: Path) -> None:
    # Install a copy: a build in the checkout would leave build/ and egg-info behind in it.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    installed = subprocess.run(
        [*pip, str(source)], capture_output=True, text=True, timeout=900, env=env
    )
    assert installed.returncode == 0, installed.stderr[-3000:]

    demo = subprocess.run(
        [str(venv / "bin" / "pinbot"), "demo", "--workdir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )  # fmt: skip

    assert demo.returncode == 0, demo.stderr[-3000:]
    assert demo.stdout.startswith("pinbot demo: success"), demo.stdout
    assert "gate   pass" in demo.stdout and "probe  native" in demo.stdout
