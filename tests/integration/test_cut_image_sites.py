"""A yaml site that holds a whole image reference (`repo:tag`): the cut moves its tag and never
its repository; a site naming another image than `--image` is refused by the cut (exit 2) and
named by the gate's pin check. Real registry, real git remotes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from testing.cli import pinbot
from testing.cutworld import CAPABLE, IMAGE, cut_remotes, head_branch
from testing.worlds import Images

OTHER = "ghcr.io/elsewhere/agent-server"
SITES = f"""\
[[pin.sites]]
kind = "python-constant"
file = "{repos.SPEC_FILE}"
name = "AGENT_SERVER_IMAGE"

[[pin.sites]]
kind = "yaml"
file = "charts/values.yaml"
path = "sandbox.image"
holds = "image"
"""


def values(image: str) -> str:
    return f"sandbox:\n  # the whole reference\n  image: {image}:1.26.0-python\n"


def world_with(tmp_path: Path, image: str) -> Remotes:
    (tmp_path / "pinbot.toml").write_text(SITES)
    return cut_remotes(tmp_path / "remotes", files={"charts/values.yaml": values(image)})


def cut(images: Images, world: Remotes) -> tuple[int, str, str]:
    return pinbot(
        "--json", "cut", "--tag", CAPABLE, "--openhands", world.openhands.url,
        "--openhands-branch", world.openhands.branch, "--image", IMAGE,
        "--registry-url", images.registry, "--sdk", str(images.world.sdk), "--push",
    )  # fmt: skip


def test_an_image_site_of_the_pinned_image_gets_the_new_tag_and_keeps_its_repository(
    images, tmp_path
) -> None:
    world = world_with(tmp_path, IMAGE)

    code, out, err = cut(images, world)

    assert code == 0, err
    head = head_branch(world.openhands.branch)
    moved = repos.show(world.openhands.remote, head, "charts/values.yaml")
    assert moved == values(IMAGE).replace("1.26.0-python", CAPABLE)
    changes = [(c["file"], c["old"], c["new"]) for c in json.loads(out)["changes"]]
    assert ("charts/values.yaml", f"{IMAGE}:1.26.0-python", f"{IMAGE}:{CAPABLE}") in changes


def test_an_image_site_of_another_image_stops_the_cut_and_blocks_the_gate(images, tmp_path) -> None:
    world = world_with(tmp_path, OTHER)
    refs = world.refs()

    code, _, err = cut(images, world)

    assert code == 2
    assert (
        f"charts/values.yaml:3: sandbox.image holds {OTHER}:1.26.0-python, an image of {OTHER}, "
        f"not of {IMAGE} (the image being pinned): pass --image {OTHER}"
    ) in err
    assert world.refs() == refs

    code, out, _ = pinbot(
        "--json", "--config", "pinbot.toml", "gate", "--deploy", world.deploy.url,
        "--openhands", world.openhands.url, "--image", IMAGE, "--registry-url", images.registry,
        "--sdk", str(images.world.sdk),
    )  # fmt: skip

    assert code == 1
    check = next(c for c in json.loads(out)["checks"] if c["name"] == "pin_sites_agree")
    assert not check["ok"]
    assert (
        f"sandbox.image: {OTHER}:1.26.0-python at charts/values.yaml:3 names {OTHER}, not {IMAGE}"
    ) in check["detail"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # pinbot.toml is read from the working directory
