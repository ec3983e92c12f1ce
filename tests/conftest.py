"""Shared fixtures. Unit tests run with the network blocked; integration tests use real services.

A real service that is missing fails the run under CI (CI=true) and is skipped elsewhere, so
that a CI run can never pass by skipping the integration suite.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from pinbot.demo.repos import Remotes
from pinbot.demo.services import registry_binary, registry_server
from pinbot.github import client
from testing.cutworld import CAPABLE, cut_remotes, publish_images
from testing.gateworld import CutWorld, cut_world
from testing.github import API, TOKEN, FakeGitHub
from testing.services import missing_service
from testing.worlds import Images

HERE = Path(__file__).parent


# The test kit's launchers of the real OpenHands servers and vendor ACP adapters: a test module
# that uses one is in the slow tier (`real_servers`), out of `scripts/dev test --quick`.
REAL_SERVER_KITS = ("testing.vendor_agents", "testing.openhands_app")


# Whole runs of several seconds a test (measured on a 2-core machine): in `scripts/dev test`
# and CI, not in `--quick`. Each is the slow copy of behaviour the quick tier still tests in part.
SLOW = (
    "tests/e2e/",  # the probe against stand-in servers: real processes, recycled, per mode
    "tests/integration/test_install.py",  # a fresh venv, a pip install of the wheel, the demo
    "tests/integration/test_demo.py",  # the whole pipeline, again and after Ctrl-C
    "tests/integration/test_action.py",  # the action's steps, run as a runner would
    "tests/integration/test_cut_eras.py",  # real poetry relocks, against a served index
    # poetry 2.1.3 relocks the real OpenHands locks (~650 packages, a minute when warm)
    "tests/integration/test_real_locks.py::test_11695_",
    "tests/integration/test_benchmarks.py",  # the benchmark scripts, each a whole measured run
    "tests/integration/test_scan_schedule.py",  # scans through a 20 ms-a-round-trip proxy
    "tests/integration/test_docs_examples.py",  # every docs example against the demo world
    "tests/integration/test_package.py",  # python -m build and twine
    "tests/hostile/test_interrupt.py",  # a probe and its servers stopped by signals
    "tests/hostile/test_lock_step.py",  # lock tools that hang or eat memory, to the deadline
    "tests/hostile/test_index.py",  # an index trickling a byte a second, to the deadline
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        node = item.nodeid.replace(os.sep, "/")
        if not node.startswith("tests/unit/"):
            item.add_marker(pytest.mark.integration)
        if node.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
        module = getattr(item, "module", None)
        if module is not None and _uses_real_servers(module):
            item.add_marker(pytest.mark.real_servers)


def _uses_real_servers(module: object) -> bool:
    for value in vars(module).values():
        name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", "")
        if name in REAL_SERVER_KITS:
            return True
    return False


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


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Distribution registry on 127.0.0.1; yields `127.0.0.1:PORT`."""
    if registry_binary() is None:
        missing_service("the Distribution registry (Debian package docker-registry)")
    with registry_server(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(scope="session")
def images(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    """The cut's images in the session's registry (testing.cutworld.publish_images)."""
    return publish_images(registry, tmp_path_factory.mktemp("cut-images"))


@pytest.fixture
def world(tmp_path: Path) -> Remotes:
    """A fresh OpenHands and deploy remote pair (testing.cutworld); a module may have its own."""
    return cut_remotes(tmp_path / "remotes")


@pytest.fixture(scope="module")
def clean(images: Images, tmp_path_factory: pytest.TempPathFactory) -> CutWorld:
    """1.27.0 (capable) cut onto the backend branch, one per module: the gate passes it."""
    return cut_world(tmp_path_factory.mktemp("clean"), images, CAPABLE)


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


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """GitHub's API, faked (testing.github); a token is set, the real registry passes. The fake
    has no secondary rate limit: pinbot's second between writes is not kept."""
    monkeypatch.setattr(client, "SECONDS_BETWEEN_WRITES", 0.0)
    monkeypatch.setenv("GITHUB_API_URL", API)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        yield FakeGitHub(mock)
