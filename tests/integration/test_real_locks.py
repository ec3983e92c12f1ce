"""The lock step on the real OpenHands history, with the real poetry against the real index.

#11695 (8b6521de, 2025-11-11) moved the three package pins to 1.1.0 and both locks:
`poetry.lock` and `enterprise/poetry.lock` (a second project that depends on the root by path).
Replayed on its parent (11636edf) by the real `pinbot cut --tag 1.1.0-python`, with PyPI as the
index: pinbot must relock both with the poetry the locks record (2.1.3, installed by pinbot into
its cache), end at the human's locked versions, and make a diff no larger than the recorded
poetry makes for the human's own pyproject today (the index has moved on since November, so
that, not the November diff, is the yardstick). #11715 (bc86796a) moved only the image: no lock
tool may run. The locks are tests/fixtures/openhands/locks (see its README).

Slow the first time (poetry 2.1.3 is installed and asks PyPI about ~650 packages, minutes); the
tool venv and poetry's cache stay in `$PINBOT_LOCK_CACHE` (scripts/dev: ~/.cache/pinbot-dev).
"""

from __future__ import annotations

import difflib
import json
import lzma
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from pinbot import locktool
from pinbot.demo import repos
from pinbot.pins import lock
from testing import openhands_history as history
from testing.cli import pinbot
from testing.services import missing_service

pytestmark = pytest.mark.timeout(3600)

PYPI = "https://pypi.org/simple/"
LOCKS = ("poetry.lock", "enterprise/poetry.lock")
PACKAGES = ("openhands-agent-server", "openhands-sdk", "openhands-tools")
FIXTURE = history.FIXTURE / "locks"
# poetry-dynamic-versioning (a plugin in the maintainer's poetry, none in pinbot's) stamped the
# root project's version into enterprise/poetry.lock; without it poetry writes pyproject's.
STAMPED = {("enterprise/poetry.lock", "openhands-ai")}


def _cache() -> Path:
    explicit = os.environ.get("PINBOT_LOCK_CACHE")
    return Path(explicit) if explicit else Path.home() / ".cache" / "pinbot-dev" / "lock-cache"


def _python312_dir(tmp_path: Path) -> Path:
    """A directory holding `python3.12`: OpenHands needs Python >=3.12, and poetry looks for it
    on PATH (the agent server's venv, made by scripts/dev setup, is one)."""
    venv = os.environ.get("AGENT_SERVER_VENV")
    python = Path(venv) / "bin" / "python" if venv else None
    if python is None or not python.exists():
        missing_service("a Python 3.12 (./scripts/dev setup makes the agent server's venv)")
    assert python is not None
    base = subprocess.run(
        [str(python), "-c", "import sys; print(sys._base_executable)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    directory = tmp_path / "python312"
    directory.mkdir()
    (directory / "python3.12").symlink_to(base)
    return directory


@pytest.fixture(scope="module")
def digests(registry: str) -> dict[str, str]:
    return history.publish_images(registry)


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return history.sdk_repo(tmp_path_factory.mktemp("sdk") / "software-agent-sdk.git")


@pytest.fixture(autouse=True)
def _real_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINBOT_CACHE_DIR", str(_cache()))
    path = os.pathsep.join([str(_python312_dir(tmp_path)), os.environ.get("PATH", "")])
    monkeypatch.setenv("PATH", path)
    (tmp_path / "pinbot.toml").write_text(history.CONFIG.format(index=PYPI))


def _unxz(path: Path) -> bytes:
    return lzma.decompress(path.read_bytes())


def parent_files() -> dict[str, bytes]:
    """11636edf (#11695's parent): the pin files, both locks, the enterprise project, and the
    readmes both projects name (empty: poetry only needs them to exist)."""
    files = history.commit("11636edf").files()
    parent = FIXTURE / "11636edf"
    files["poetry.lock"] = _unxz(parent / "poetry.lock.xz")
    files["enterprise/poetry.lock"] = _unxz(parent / "enterprise" / "poetry.lock.xz")
    files["enterprise/pyproject.toml"] = (parent / "enterprise" / "pyproject.toml").read_bytes()
    files["README.md"] = files["enterprise/README.md"] = b""
    return files


def changed_lines(old: str, new: str) -> int:
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))


def recorded_tool_yardstick(tmp_path: Path) -> dict[str, int]:
    """What poetry 2.1.3 (the locks' own) makes today for the human's pyproject of #11695:
    changed lines per lock, run the way pinbot runs it (scrubbed, bounded, same cache)."""
    files = parent_files()
    files["pyproject.toml"] = history.commit("8b6521de").files()["pyproject.toml"]
    tree = tmp_path / "yardstick"
    for path, data in files.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_bytes(data)
    bounds = locktool.Bounds(PYPI, 1800.0, 4096, _cache() / "lock-tools")
    exe, version = locktool.find("poetry", "2.1.3", tmp_path / "tool", bounds, "poetry.lock")
    assert version == "2.1.3"
    counts = {}
    for number, path in enumerate(LOCKS):
        folder = (tree / path).parent
        locktool.run([exe, "lock"], folder, tmp_path / f"run-{number}", bounds, path)
        counts[path] = changed_lines(files[path].decode(), (tree / path).read_text())
    return counts


def cut(remote: repos.OpenHandsRepo, tag: str, registry: str, sdk: Path) -> dict[str, Any]:
    argv = ["--json", "cut", "--tag", tag, "--openhands", remote.url, "--openhands-branch", "main"]
    argv += ["--push", "--image", history.IMAGE, "--registry-url", registry, "--sdk", str(sdk)]
    run = pinbot(*argv)
    assert run.code == 0, run.err
    return dict(run.data)


def test_11695_both_locks_are_relocked_by_their_own_poetry_as_the_human_locked_them(
    digests: dict[str, str], registry: str, sdk: Path, tmp_path: Path
) -> None:
    yardstick = recorded_tool_yardstick(tmp_path)
    files = parent_files()
    remote = repos.openhands_repo(
        tmp_path / "remotes",
        image=history.IMAGE,
        files={"docker-compose.yml": None, "containers/dev/compose.yml": None, **files},
    )

    started = time.monotonic()
    report = cut(remote, "1.1.0-python", registry, sdk)
    took = time.monotonic() - started

    sha = report["openhands"]["commit"]
    human = json.loads((FIXTURE / "8b6521de" / "locked.json").read_text())
    ours = {path: repos.show(remote.remote, sha, path) for path in LOCKS}
    counts = {path: changed_lines(files[path].decode(), ours[path]) for path in LOCKS}
    print(
        f"\n#11695 replay: {took:.0f} s; lock diff lines pinbot {counts}, poetry 2.1.3 {yardstick}"
    )
    for path in LOCKS:
        assert ours[path].startswith("# This file is automatically @generated by Poetry 2.1.3 ")
        locked = {e.package: e.version for e in lock.locked(ours[path], path)}
        assert {locked[p] for p in PACKAGES} == {"1.1.0"}, path
        differ = {
            p for p in locked.keys() | human[path].keys() if locked.get(p) != human[path].get(p)
        }
        assert {(path, p) for p in differ} <= STAMPED, (path, differ)
        assert counts[path] <= yardstick[path], path
    reported = {(c["file"], c["package"]) for c in report["lock"] if c["package"] in PACKAGES}
    assert reported == {(f, p) for f in LOCKS for p in PACKAGES}


def test_11715_an_image_only_move_runs_no_lock_tool(
    digests: dict[str, str], registry: str, sdk: Path, tmp_path: Path
) -> None:
    """d5b2d2eb (#11715's parent) locks 1.1.0 in both locks (the same lock files as #11695's);
    4e2ecd8-python is the v1.1.0 release commit, so only the constant moves."""
    files = history.commit("d5b2d2eb").files()
    files["poetry.lock"] = history.commit("d6fab190").files()["poetry.lock"]
    remote = repos.openhands_repo(
        tmp_path / "with-lock",
        image=history.IMAGE,
        files={"docker-compose.yml": None, "containers/dev/compose.yml": None, **files},
    )

    report = cut(remote, "4e2ecd8-python", registry, sdk)

    assert report["lock_commands"] == [] and report["lock"] == []
    assert [c["file"] for c in report["changes"]] == [
        "openhands/app_server/sandbox/sandbox_spec_service.py"
    ]
