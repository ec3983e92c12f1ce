"""Shared fixtures. Unit tests run with the network blocked; integration tests use real services.

A real service that is missing fails the run under CI (CI=true) and is skipped elsewhere, so
that a CI run can never pass by skipping the integration suite.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/unit" not in item.nodeid.replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _block_network_in_unit_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("integration"):
        yield
        return
    import pytest_socket

    pytest_socket.disable_socket(allow_unix_socket=True)
    try:
        yield
    finally:
        pytest_socket.enable_socket()


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's cache, config, tokens or git identity."""
    monkeypatch.setenv("PINBOT_CACHE_DIR", str(tmp_path / "pinbot-cache"))
    for name in (
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "PINBOT_REGISTRY_TOKEN",
        "PINBOT_APP_API_KEY",
        "GITHUB_ACTIONS",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("PINBOT_") and name != "PINBOT_CACHE_DIR":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.chdir(tmp_path)


def missing_service(what: str) -> None:
    message = f"{what} is not available; .ci/run installs and starts it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Distribution registry on 127.0.0.1; yields `127.0.0.1:PORT`."""
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary is None:
        missing_service("the Distribution registry (Debian package docker-registry)")
        raise AssertionError  # unreachable
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (root / "registry.log").open("w")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    address = f"127.0.0.1:{port}"
    try:
        _wait_until_up(f"http://{address}/v2/", proc)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"registry did not answer at {url}")


@pytest.fixture(scope="session")
def docker_client() -> object:
    """A client for the real Docker engine (dockerd with vfs, no bridge, on these machines)."""
    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception:
        missing_service("a Docker engine (Debian package docker.io, dockerd running)")
    return client
