from __future__ import annotations

import pytest

from pinbot.config import DeploySettings, PinSettings
from pinbot.demo import repos
from pinbot.edits import sites
from pinbot.errors import UsageError

IMAGE = "ghcr.io/openhands/agent-server"


def tree(tag: str = "1.26.0-python", dev_tag: str | None = None) -> dict[str, bytes]:
    return {
        repos.SPEC_FILE: repos.sandbox_spec_service(IMAGE, tag).encode(),
        "docker-compose.yml": repos.docker_compose(IMAGE, tag).encode(),
        "containers/dev/compose.yml": repos.dev_compose(IMAGE, dev_tag or tag).encode(),
        repos.WORKFLOW: repos.deploy_workflow("a" * 40).encode(),
    }


def test_read_pins_gives_the_constant_and_every_default() -> None:
    pins = sites.read_pins(PinSettings(), tree().get)
    assert (pins.repository, pins.tag) == (IMAGE, "1.26.0-python")
    assert pins.constant.line == 15
    assert [(s.file, s.value) for s in pins.defaults] == [
        ("docker-compose.yml", "1.26.0-python"),
        ("containers/dev/compose.yml", "1.26.0-python"),
    ]
    assert pins.disagreeing() == []


def test_disagreeing_defaults_are_named() -> None:
    pins = sites.read_pins(PinSettings(), tree(dev_tag="1.25.0-python").get)
    assert [(s.file, s.line, s.value) for s in pins.disagreeing()] == [
        ("containers/dev/compose.yml", 12, "1.25.0-python")
    ]


def test_a_missing_site_names_the_file_where_and_the_setting() -> None:
    files = tree()
    del files["containers/dev/compose.yml"]
    with pytest.raises(UsageError, match=r"containers/dev/compose.yml is missing at abc: check"):
        sites.read_pins(PinSettings(), files.get, " at abc")


def test_read_deployed_sha() -> None:
    site = sites.read_deployed_sha(DeploySettings(), tree().get)
    assert (site.file, site.line, site.value) == (repos.WORKFLOW, 14, "a" * 40)


def test_non_utf8_yaml_is_bad_input() -> None:
    with pytest.raises(UsageError, match=r"docker-compose\.yml is not UTF-8"):
        sites.read_pins(PinSettings(), {**tree(), "docker-compose.yml": b"\xff\xfe"}.get)
