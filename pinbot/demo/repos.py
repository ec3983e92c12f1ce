"""An OpenHands repository and a deploy repository shaped like the real ones (tests, demo).

Each is built in a scratch working copy and pushed to a bare repository, which stands for the
remote (`file://` URL). The OpenHands one has the pin sites where OpenHands keeps them and a
backend-change branch; the deploy one has the workflow whose top-level env names the OpenHands
commit to deploy. `add_commit` plays a human pushing to a remote branch.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEFAULT_IMAGE = "ghcr.io/openhands/agent-server"
PIN = "1.26.0-python"
BACKEND_BRANCH = "acp-native-resume"
SPEC_FILE = "openhands/app_server/sandbox/sandbox_spec_service.py"
WORKFLOW = ".github/workflows/deploy.yaml"
HUMAN = ("OpenHands dev", "dev@example.invalid")
BOT = ("pinbot", "pinbot@users.noreply.github.com")

Files = Mapping[str, str | bytes]


@dataclass(frozen=True)
class OpenHandsRepo:
    remote: Path  # the bare repository
    url: str  # file:// URL of it
    main: str  # tip of main
    branch: str  # the branch that carries the backend change
    backend_commit: str  # the backend change, on `branch` and not on main
    image: str
    tag: str


@dataclass(frozen=True)
class DeployRepo:
    remote: Path
    url: str
    main: str
    openhands_sha: str  # what the workflow deploys today


def sandbox_spec_service(image: str, tag: str) -> str:
    return f'''\
"""Sandbox specs: which agent-server image a sandbox runs, and how to list the specs."""

import asyncio
import os
from abc import ABC, abstractmethod

from openhands.app_server.errors import SandboxError
from openhands.app_server.sandbox.sandbox_spec_models import (
    SandboxSpecInfo,
    SandboxSpecInfoPage,
)

# The agent server image to use for sandboxes. OpenHands CI checks that the
# AGENT_SERVER_IMAGE_TAG defaults in the compose files carry the same tag.
AGENT_SERVER_IMAGE = '{image}:{tag}'


class SandboxSpecService(ABC):
    """Service for managing sandbox specs."""

    @abstractmethod
    async def search_sandbox_specs(
        self, page_id: str | None = None, limit: int = 100
    ) -> SandboxSpecInfoPage:
        """Search for sandbox specs."""

    @abstractmethod
    async def get_sandbox_spec(self, sandbox_spec_id: str) -> SandboxSpecInfo | None:
        """Get a single sandbox spec, returning None if not found."""

    async def get_default_sandbox_spec(self) -> SandboxSpecInfo:
        page = await self.search_sandbox_specs(limit=1)
        if not page.items:
            raise SandboxError('No sandbox specs available!')
        return page.items[0]

    async def batch_get_sandbox_specs(
        self, sandbox_spec_ids: list[str]
    ) -> list[SandboxSpecInfo | None]:
        return await asyncio.gather(
            *[self.get_sandbox_spec(spec_id) for spec_id in sandbox_spec_ids]
        )


def get_agent_server_image() -> str:
    """The image to run: AGENT_SERVER_IMAGE unless both environment overrides are set."""
    repository = os.getenv('AGENT_SERVER_IMAGE_REPOSITORY')
    tag = os.getenv('AGENT_SERVER_IMAGE_TAG')
    if repository and tag:
        return f'{{repository}}:{{tag}}'
    return AGENT_SERVER_IMAGE
'''


def docker_compose(image: str, tag: str) -> str:
    return f"""\
services:
  openhands:
    build:
      context: ./
      dockerfile: ./containers/app/Dockerfile
    image: openhands:latest
    container_name: openhands-app-${{DATE:-}}
    environment:
      - AGENT_SERVER_IMAGE_REPOSITORY=${{AGENT_SERVER_IMAGE_REPOSITORY:-{image}}}
      - AGENT_SERVER_IMAGE_TAG=${{AGENT_SERVER_IMAGE_TAG:-{tag}}}
      #- SANDBOX_USER_ID=${{SANDBOX_USER_ID:-1234}}
      - WORKSPACE_MOUNT_PATH=${{WORKSPACE_BASE:-$PWD/workspace}}
    ports:
      - "3000:3000"
    extra_hosts:
      - "host.docker.internal:host-gateway"
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - ~/.openhands:/.openhands
    pull_policy: build
    stdin_open: true
    tty: true
"""


def dev_compose(image: str, tag: str) -> str:
    return f"""\
services:
  dev:
    privileged: true
    build:
      context: ${{REPO_ROOT:-../../}}
      dockerfile: ./containers/dev/Dockerfile
    image: openhands:dev
    container_name: openhands-dev
    environment:
      - BACKEND_HOST=${{BACKEND_HOST:-"0.0.0.0"}}
      - AGENT_SERVER_IMAGE_REPOSITORY=${{AGENT_SERVER_IMAGE_REPOSITORY:-{image}}}
      - AGENT_SERVER_IMAGE_TAG=${{AGENT_SERVER_IMAGE_TAG:-{tag}}}
    ports:
      - "3000:3000"
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - ${{REPO_ROOT:-../../}}:/app
    tty: true
"""


BACKEND_CHANGE = '''\
"""Resume ACP conversations natively: keep the session blob across sandbox recycles."""

BLOB_ROUTE = '/api/acp_session_blob/{conversation_id}/{provider}'


async def save_session_blob(client, conversation_id: str, provider: str, blob: bytes) -> None:
    url = BLOB_ROUTE.format(conversation_id=conversation_id, provider=provider)
    response = await client.put(url, content=blob)
    response.raise_for_status()
'''


def deploy_workflow(openhands_sha: str) -> str:
    return f"""\
name: Deploy

on:
  workflow_dispatch:
  push:
    branches: [main]

permissions:
  contents: read

# What production runs. OPENHANDS_SHA decides the backend *and* the agent-server image:
# the deploy reads AGENT_SERVER_IMAGE from sandbox_spec_service.py at that commit.
env:
  OPENHANDS_SHA: {openhands_sha}  # OpenHands commit to deploy
  OPENHANDS_RUNTIME_IMAGE_TAG: "0.62-nikolaik"
  RUNTIME_API_SHA: "{"5" * 40}"

jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          repository: OpenHands/OpenHands
          ref: ${{{{ env.OPENHANDS_SHA }}}}
          path: openhands
          persist-credentials: false
      - name: Read the agent-server image pinned at OPENHANDS_SHA
        id: image
        run: |
          image=$(sed -n "s/^AGENT_SERVER_IMAGE = '\\(.*\\)'$/\\1/p" \\
            openhands/openhands/app_server/sandbox/sandbox_spec_service.py)
          echo "tag=${{image##*:}}" >> "$GITHUB_OUTPUT"
      - name: Deploy
        run: ./deploy.sh --runtime-image-tag "${{{{ steps.image.outputs.tag }}}}"
"""


def openhands_repo(
    root: Path,
    image: str = DEFAULT_IMAGE,
    tag: str = PIN,
    branch: str = BACKEND_BRANCH,
    files: Mapping[str, str | bytes | None] | None = None,
) -> OpenHandsRepo:
    """OpenHands main with the pin at `tag`, and `branch` one backend commit ahead of it.

    `files` replaces, adds or (with None) leaves out files of main's first commit: odd pin
    sites for tests.
    """
    defaults: dict[str, str | bytes | None] = {
        "README.md": "# OpenHands\n",
        SPEC_FILE: sandbox_spec_service(image, tag),
        "docker-compose.yml": docker_compose(image, tag),
        "containers/dev/compose.yml": dev_compose(image, tag),
        **(files or {}),
    }
    content = {name: data for name, data in defaults.items() if data is not None}
    remote = root / "openhands.git"
    main = new_remote(remote, content, "Initial OpenHands app server")
    backend = add_commit(
        remote,
        branch,
        {"openhands/app_server/sandbox/acp_session_blob.py": BACKEND_CHANGE},
        "Resume ACP conversations natively after a sandbox recycle",
        start=main,
    )
    return OpenHandsRepo(remote, remote.as_uri(), main, branch, backend, image, tag)


def deploy_repo(root: Path, openhands_sha: str, workflow: str | None = None) -> DeployRepo:
    """A deploy repo whose main deploys `openhands_sha` (or carries `workflow` as given)."""
    remote = root / "deploy.git"
    files = {WORKFLOW: workflow or deploy_workflow(openhands_sha), "deploy.sh": "#!/bin/sh\n"}
    main = new_remote(remote, files, "Deploy OpenHands")
    return DeployRepo(remote, remote.as_uri(), main, openhands_sha)


@dataclass(frozen=True)
class Remotes:
    """A world's two remotes: OpenHands, and the deploy repository that deploys its main."""

    openhands: OpenHandsRepo
    deploy: DeployRepo

    def refs(self) -> tuple[str, str]:
        """Every ref of both remotes: equal before and after means nothing was pushed."""
        return git(self.openhands.remote, "for-each-ref"), git(self.deploy.remote, "for-each-ref")


def make_remotes(
    root: Path,
    image: str = DEFAULT_IMAGE,
    tag: str = PIN,
    files: Mapping[str, str | bytes | None] | None = None,
    workflow: str | None = None,
) -> Remotes:
    """`openhands_repo` (pinned at `image`:`tag`, `files` as it takes them) and a `deploy_repo`
    deploying its main (or carrying `workflow`), both under `root`."""
    openhands = openhands_repo(root, image, tag, files=files)
    return Remotes(openhands, deploy_repo(root, openhands.main, workflow))


def add_commit(
    remote: Path,
    branch: str,
    files: Files,
    message: str,
    start: str | None = None,
    author: tuple[str, str] = HUMAN,
) -> str:
    """Commit `files` on `branch` of `remote` (created at `start` if new) and push it."""
    with _checkout(remote, start or f"refs/remotes/origin/{branch}") as work:
        _write(work, files)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", message, author=author)
        return _push(work, remote, branch)


def rolled_back_pin(
    remote: Path, branch: str, image: str, old_tag: str, new_tag: str, digest: str
) -> tuple[str, str]:
    """The history a rollback leaves: pinbot pinned `new_tag` on `branch` (every file that named
    `old_tag`, the trailers pinbot writes), then a human reverted it with `git revert`.
    Returns (pin commit, revert commit)."""
    with _checkout(remote, f"refs/remotes/origin/{branch}") as work:
        for name in git(work, "grep", "-l", "-F", old_tag).splitlines():
            path = work / name
            path.write_text(path.read_text().replace(old_tag, new_tag))
        message = (
            f"Pin agent-server {new_tag}\n\nPoint every agent-server pin site on {branch} at "
            f"{image}:{new_tag}.\n\nPinbot-Image: {image}:{new_tag}\nPinbot-Digest: {digest}\n"
        )
        git(work, "commit", "-q", "-a", "-m", message, author=BOT)
        pin = _push(work, remote, branch)
    return pin, revert_commit(remote, branch, pin)


def revert_commit(remote: Path, branch: str, commit: str, author: tuple[str, str] = HUMAN) -> str:
    """A human rolls `commit` back on `branch` with `git revert` (its own message: "This
    reverts commit <sha>."), and pushes; returns the revert commit."""
    with _checkout(remote, f"refs/remotes/origin/{branch}") as work:
        git(work, "revert", "--no-edit", commit, author=author)
        return _push(work, remote, branch)


def show(remote: Path, revision: str, path: str) -> str:
    """`git show REVISION:PATH` in `remote`."""
    return git(remote, "show", f"{revision}:{path}", strip=False)


def new_remote(remote: Path, files: Files, message: str) -> str:
    """A bare repository at `remote` whose main is one commit of `files`; returns it."""
    remote.parent.mkdir(parents=True, exist_ok=True)
    git(remote.parent, "init", "-q", "--bare", "-b", "main", remote.name)
    with tempfile.TemporaryDirectory(prefix="pinbot-world-") as tmp:
        work = Path(tmp)
        git(work, "init", "-q", "-b", "main")
        _write(work, files)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", message)
        return _push(work, remote, "main")


@contextmanager
def _checkout(remote: Path, revision: str) -> Iterator[Path]:
    """A scratch work tree of `remote` (its branches as `origin/…`), detached at `revision`."""
    with tempfile.TemporaryDirectory(prefix="pinbot-world-") as tmp:
        work = Path(tmp)
        git(work, "init", "-q", "-b", "work")
        git(work, "fetch", "-q", str(remote), "+refs/heads/*:refs/remotes/origin/*")
        git(work, "checkout", "-q", "--detach", revision)
        yield work


def _push(work: Path, remote: Path, branch: str) -> str:
    """Push the work tree's HEAD to `branch` of `remote`; returns the commit."""
    git(work, "push", "-q", str(remote), f"HEAD:refs/heads/{branch}")
    return git(work, "rev-parse", "HEAD")


def _write(work: Path, files: Files) -> None:
    for name, data in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        if name.endswith(".sh"):
            path.chmod(0o755)


def git(cwd: Path, *args: str, author: tuple[str, str] = HUMAN, strip: bool = True) -> str:
    """`git ARGS` in `cwd` (a remote or a work tree), committing as `author`; its output."""
    done = subprocess.run(
        ["git", "-c", "core.autocrlf=false", *args],
        cwd=cwd,
        env={**os.environ, **identity(author)},
        check=True,
        capture_output=True,
    )
    text = done.stdout.decode("utf-8")
    return text.strip() if strip else text


def identity(author: tuple[str, str]) -> dict[str, str]:
    """git's environment for commits by `author` (name, email), the user's own configuration
    left out: the same commits on every machine."""
    name, email = author
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
