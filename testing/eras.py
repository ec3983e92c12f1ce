"""The OpenHands repository in both eras of its pin, with a real `poetry.lock`, and the charts.

- constant era: `AGENT_SERVER_IMAGE`, the compose defaults, *and* the three package pins in
  `pyproject.toml` with their lock (OpenHands PR #14612 bumped the constant "to align with the
  existing package pins");
- package era (OpenHands #15168): no constant; the pins written twice in `pyproject.toml`
  (`[project]` and `[tool.poetry]`) and locked in `poetry.lock`;
- the charts (OpenHands-Cloud): the four pin spots, on `main` and three `release/*` branches.

The lock is made by the real poetry against a local package index (`package_index`), so a test
can run `poetry check --lock` on what pinbot commits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pinbot.demo import repos
from pinbot.demo.package_index import openhands_pyproject

PACKAGES = ("openhands-agent-server", "openhands-sdk", "openhands-tools")
SPEC_WITHOUT_CONSTANT = '''\
"""Sandbox specs. Since OpenHands #15168 the agent-server image follows the installed
openhands-agent-server package: ghcr.io/openhands/agent-server:<version>-python."""

from importlib.metadata import version


def get_agent_server_image() -> str:
    return f"ghcr.io/openhands/agent-server:{version('openhands-agent-server')}-python"
'''
# Main's files in the package era beside its pins: the constant and the compose defaults gone.
NO_CONSTANT: dict[str, str | bytes | None] = {
    repos.SPEC_FILE: SPEC_WITHOUT_CONSTANT,
    "docker-compose.yml": None,
    "containers/dev/compose.yml": None,
}
# Each lock tool's lock file, and the command with which it fails on a stale one.
LOCK_FILES = {"poetry": "poetry.lock", "uv": "uv.lock"}
CHECKS = {"poetry": ("check", "--lock"), "uv": ("lock", "--check")}


def installed(tool: str) -> str:
    """The real `tool` (poetry, uv): on PATH, or installed beside this interpreter by
    `scripts/dev setup`."""
    found = shutil.which(tool) or str(Path(sys.executable).parent / tool)
    if not Path(found).exists():
        raise FileNotFoundError(f"{tool} is not installed: run ./scripts/dev setup")
    return found


def path_with_poetry() -> str:
    """PATH with poetry's directory first, for the commands pinbot runs."""
    return os.pathsep.join([str(Path(installed("poetry")).parent), os.environ.get("PATH", "")])


def tool_pyproject(tool: str, version: str, index_url: str) -> str:
    """OpenHands' pyproject.toml as `tool` locks it: poetry's (the pins twice, the demo's
    `openhands_pyproject`) or uv's (the pins once)."""
    return (openhands_pyproject if tool == "poetry" else uv_pyproject)(version, index_url)


def run_tool(tool: str, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`TOOL ARGS` in `directory`, with the real poetry or uv."""
    env = dict(os.environ)
    if tool == "poetry":
        env.update(POETRY_NO_INTERACTION="1", PATH=path_with_poetry())
    return subprocess.run(
        [installed(tool), *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def lock(pyproject_text: str, tool: str = "poetry") -> str:
    """The lock file (poetry.lock, uv.lock) the real `TOOL lock` writes for this pyproject.toml."""
    with tempfile.TemporaryDirectory(prefix="pinbot-lock-") as tmp:
        return _locked(_written(Path(tmp), {"pyproject.toml": pyproject_text}), tool)


def check_lock(files: dict[str, str], tool: str = "poetry") -> subprocess.CompletedProcess[str]:
    """The tool's own check (`poetry check --lock`, `uv lock --check`) of a tree's
    pyproject.toml and lock file: it fails when the lock is stale."""
    with tempfile.TemporaryDirectory(prefix="pinbot-check-") as tmp:
        return run_tool(tool, _written(Path(tmp), files), *CHECKS[tool])


def _locked(directory: Path, tool: str) -> str:
    done = run_tool(tool, directory, "lock")
    if done.returncode != 0:
        raise RuntimeError(f"{tool} lock failed: {done.stderr or done.stdout}")
    return (directory / LOCK_FILES[tool]).read_text()


def _written(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return directory


def package_era(
    version: str, index_url: str, tool: str = "poetry"
) -> dict[str, str | bytes | None]:
    """Files of an OpenHands main in the package era, locked by `tool` (for
    `repos.openhands_repo(files=...)`); with uv, the pins once, in `[project]`."""
    text = tool_pyproject(tool, version, index_url)
    return {**NO_CONSTANT, "pyproject.toml": text, LOCK_FILES[tool]: lock(text, tool)}


def uv_pyproject(version: str, index_url: str) -> str:
    """A uv project: the pins once, in `[project]`, and the local index as its only index."""
    return f"""\
[project]
name = "openhands-ai"
version = "1.11.0"
requires-python = ">=3.11"
dependencies = [
  "openhands-agent-server=={version}",
  "openhands-sdk=={version}",
  "openhands-tools=={version}",
]

# The tests' stand-in for PyPI.
[[tool.uv.index]]
name = "local"
url = "{index_url}"
default = true
"""


def constant_era(version: str, index_url: str) -> dict[str, str | bytes | None]:
    """The constant era's extra files: the package pins beside the constant, locked."""
    text = openhands_pyproject(version, index_url)
    return {"pyproject.toml": text, "poetry.lock": lock(text)}


# --- the charts (OpenHands-Cloud) -------------------------------------------------------------

CHART_FILES = (
    "charts/openhands/values.yaml",
    "charts/openhands/charts/runtime-api/values.yaml",
    "charts/image-loader/values.yaml",
    "replicated/config.yaml",
)


def chart_files(tag: str) -> dict[str, str]:
    """The four pin spots of OpenHands-Cloud, shaped as upstream writes them."""
    global_image = f"""\
replicaCount: 1

global:
  # Canonical agent-server image. Defaults the runtime image (runtime.image) and
  # any warm-runtime configsByName entry that omits its own `image`.
  agentServerImage:
    repository: ghcr.io/openhands/agent-server
    tag: {tag}
  security:
    allowInsecureImages: true
"""
    return {
        CHART_FILES[0]: global_image,
        CHART_FILES[1]: "enabled: false\n\n" + global_image,
        CHART_FILES[2]: f"""\
# Agent-server image the loader pre-pulls onto nodes; keep tag in sync with the sandbox runtime.
image:
  repository: ghcr.io/openhands/agent-server
  tag: {tag}
  pullPolicy: Always
""",
        CHART_FILES[3]: f"""\
apiVersion: kots.io/v1beta1
kind: Config
metadata:
  name: openhands-config
spec:
  groups:
    - name: domain_configuration
      title: Domain Configuration
      items: []
    - name: sandbox_configuration
      title: Sandbox Configuration
      items:
        - name: custom_sandbox_image_tag
          title: Sandbox Image Tag
          help_text: Image tag, e.g. {tag}
          type: text
          default: "{tag}"
          required: true
""",
    }


RELEASES = {"release/0.13": "1.24.0-python", "release/0.14": "1.25.0-python"}


@dataclass(frozen=True)
class ChartRepo:
    remote: Path
    url: str
    branches: dict[str, str]  # release branch -> the tag it pins


def chart_repo(root: Path, tag: str, releases: dict[str, str] | None = None) -> ChartRepo:
    """OpenHands-Cloud: main at `tag`, and release branches each on an older base and pin
    (`release/0.15` at `tag` too, then the older lines)."""
    lines = {"release/0.15": tag, **(releases or RELEASES)}
    remote = root / "openhands-cloud.git"
    files = {**chart_files(tag), "README.md": "# OpenHands Cloud\n"}
    commit = repos.new_remote(remote, files, "Charts")
    for number, (branch, pinned) in enumerate(lines.items()):
        files = {"CHANGELOG.md": f"release {number}\n", **chart_files(pinned)}
        commit = repos.add_commit(remote, branch, files, branch, start=commit)
    return ChartRepo(remote, remote.as_uri(), lines)


# --- a second project that locks the packages through the first (OpenHands' enterprise/) -------


def enterprise_pyproject(index_url: str) -> str:
    """`enterprise/pyproject.toml` as OpenHands writes it: the root project by path, no pins."""
    return f"""\
[tool.poetry]
name = "enterprise-server"
version = "0.0.1"
description = "Deploy OpenHands"
authors = ["OpenHands"]
readme = "README.md"
package-mode = false

[tool.poetry.dependencies]
python = ">=3.11"
openhands-ai = {{ path = "../", develop = true }}

[[tool.poetry.source]]
name = "local"
url = "{index_url}"
priority = "primary"
"""


def root_package_pyproject(version: str, index_url: str) -> str:
    """The root project as a package (a path dependency must be one), pins in poetry's table."""
    return (
        openhands_pyproject(version, index_url)
        .replace("[tool.poetry]\npackage-mode = false\n", '[tool.poetry]\nreadme = "README.md"\n')
        .replace('description = "OpenHands: code less, make more"\n', "")
    )


def two_locks(version: str, index_url: str) -> dict[str, str | bytes | None]:
    """The package era with `enterprise/` beside the root, each locked by the real poetry."""
    tree = {
        "pyproject.toml": root_package_pyproject(version, index_url),
        "README.md": "root\n",
        "enterprise/pyproject.toml": enterprise_pyproject(index_url),
        "enterprise/README.md": "enterprise\n",
    }
    with tempfile.TemporaryDirectory(prefix="pinbot-two-locks-") as tmp:
        top = _written(Path(tmp), tree)
        locks = {"poetry.lock": _locked(top, "poetry"),
                 "enterprise/poetry.lock": _locked(top / "enterprise", "poetry")}  # fmt: skip
    return {**NO_CONSTANT, **tree, **locks}
