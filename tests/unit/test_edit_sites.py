from __future__ import annotations

import pytest

from pinbot.config import DeploySettings, PinSettings
from pinbot.demo import repos
from pinbot.edits import sites
from pinbot.errors import UsageError
from pinbot.pins import profiles
from pinbot.pins.state import PinState, read_state

IMAGE = "ghcr.io/openhands/agent-server"


def tree(tag: str = "1.26.0-python", dev_tag: str | None = None) -> dict[str, bytes]:
    return {
        repos.SPEC_FILE: repos.sandbox_spec_service(IMAGE, tag).encode(),
        "docker-compose.yml": repos.docker_compose(IMAGE, tag).encode(),
        "containers/dev/compose.yml": repos.dev_compose(IMAGE, dev_tag or tag).encode(),
        repos.WORKFLOW: repos.deploy_workflow("a" * 40).encode(),
    }


def read(files: dict[str, bytes]) -> PinState:
    return read_state(profiles.sites(PinSettings(), "x"), files.get, IMAGE, "python", " at abc")


def test_the_constant_and_every_default_are_read_with_their_lines() -> None:
    pins = read(tree())
    assert (pins.repository, pins.tag) == (IMAGE, "1.26.0-python")
    assert [(f.file, f.line, f.value) for f in pins.values] == [
        (repos.SPEC_FILE, 15, f"{IMAGE}:1.26.0-python"),
        ("docker-compose.yml", 10, "1.26.0-python"),
        ("containers/dev/compose.yml", 12, "1.26.0-python"),
    ]
    assert pins.disagreements() == []


def test_disagreeing_defaults_are_named() -> None:
    assert read(tree(dev_tag="1.25.0-python")).disagreements() == [
        "AGENT_SERVER_IMAGE_TAG:-1.25.0-python at containers/dev/compose.yml:12 beside "
        f"AGENT_SERVER_IMAGE={IMAGE}:1.26.0-python at {repos.SPEC_FILE}:15"
    ]


def test_read_deployed_sha() -> None:
    site = sites.read_deployed_sha(DeploySettings(), tree().get)
    assert (site.file, site.line, site.value) == (repos.WORKFLOW, 14, "a" * 40)


def test_non_utf8_yaml_is_bad_input() -> None:
    with pytest.raises(UsageError, match=r"docker-compose\.yml is not UTF-8"):
        read({**tree(), "docker-compose.yml": b"\xff\xfe"})
