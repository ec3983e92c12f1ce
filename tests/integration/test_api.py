"""pinbot.api: the commands as typed functions that return what --json prints and never print.

Against the local world of the cut tests (a real registry, file:// repositories); the probe
against the stand-in agent server with real ACP agent processes. The library page's example
is taken from docs/guides/library.md and run as it stands.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pinbot import api
from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from pinbot.errors import ExternalError, NegativeVerdict, UsageError
from testing import world as harness
from testing.cli import pinbot
from testing.cutworld import CAPABLE, IMAGE, INCAPABLE, head_branch
from testing.worlds import Images

ROOT = Path(__file__).resolve().parents[2]


def where(images: Images) -> dict[str, Any]:
    return {"image": IMAGE, "registry_url": images.registry, "sdk": str(images.world.sdk)}


def flags(images: Images) -> list[str]:
    return ["--image", IMAGE, "--registry-url", images.registry, "--sdk", str(images.world.sdk)]


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = pinbot("--json", "--no-cache", *argv)
    return code, json.loads(out)


def readme_example() -> str:
    """The library page's example, as it stands."""
    text = (ROOT / "docs" / "guides" / "library.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    return block


def test_the_readme_example_runs_and_the_library_prints_nothing_of_its_own(
    images: Images, world: Remotes, tmp_path: Path
) -> None:
    output = tmp_path / "github-output"
    env = {
        **os.environ,
        "AGENT_SERVER_IMAGE": IMAGE,
        "REGISTRY_MIRROR": images.registry,
        "SDK_CLONE": str(images.world.sdk),
        "OPENHANDS_REPO": world.openhands.url,
        "OPENHANDS_BRANCH": world.openhands.branch,
        "DEPLOY_REPO": world.deploy.url,
        # as if in a workflow step: the library still writes no output file and no ::commands::
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_TOKEN": "not-a-real-token",
    }
    refs = world.refs()

    done = subprocess.run(
        [sys.executable, "-c", readme_example()],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[:2] == [f"{INCAPABLE} fail", f"{CAPABLE} pass"]
    assert any(line.startswith("openhands ") and CAPABLE in line for line in lines)
    assert lines[-1].startswith("gate: block [") and "'capability'" in lines[-1]
    assert not output.exists()
    assert world.refs() == refs  # plan_cut pushed nothing


def test_scan_and_check_return_what_json_prints(
    images: Images, capsys: pytest.CaptureFixture[str]
) -> None:
    found = api.scan(**where(images), no_cache=True)
    assert capsys.readouterr() == ("", "")
    code, printed = cli_json(capsys, "scan", *flags(images))

    assert code == 0 and found == printed
    assert found["selected"] is not None and found["selected"]["tag"] == CAPABLE

    one = api.check(INCAPABLE, **where(images), no_cache=True)
    code, printed = cli_json(capsys, "check", INCAPABLE, *flags(images))
    assert code == 1 and one == printed and one["verdict"] == "fail"


def test_the_gate_returns_what_json_prints_and_a_block_is_data(
    images: Images, world: Remotes, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"deploy": world.deploy.url, "openhands": world.openhands.url}

    checked = api.gate(**args, **where(images), no_cache=True)
    code, printed = cli_json(
        capsys, "gate", "--deploy", world.deploy.url, "--openhands", world.openhands.url,
        *flags(images),
    )  # fmt: skip

    assert code == 1 and checked == printed
    assert checked["verdict"] == "block" and checked["openhands_sha"] == world.openhands.main
    assert not next(c for c in checked["checks"] if c["name"] == "capability")["ok"]


def test_a_planned_cut_pushes_nothing_and_the_applied_cut_pushes_once(
    images: Images, world: Remotes, capsys: pytest.CaptureFixture[str]
) -> None:
    repos_ = {
        "openhands": world.openhands.url,
        "openhands_branch": world.openhands.branch,
        "deploy": world.deploy.url,
    }
    refs = world.refs()

    plan = api.plan_cut(tag=CAPABLE, **repos_, **where(images))
    assert world.refs() == refs and plan["tag"] == CAPABLE and plan["pushed"] is False
    done = api.apply_cut(tag=CAPABLE, **repos_, **where(images))
    again = api.apply_cut(tag=CAPABLE, **repos_, **where(images))

    assert done["pushed"] is True and world.refs() != refs
    assert done["openhands"]["commit"] == again["openhands"]["commit"]  # nothing new, twice
    head = head_branch(world.openhands.branch)
    tip = repos.git(world.openhands.remote, "rev-parse", f"refs/heads/{head}")
    assert tip == done["openhands"]["commit"]
    assert capsys.readouterr() == ("", "")


def test_bad_input_and_a_refused_cut_raise_pinbots_exceptions(
    images: Images, world: Remotes
) -> None:
    with pytest.raises(UsageError, match="is not a valid image tag"):
        api.check("no such tag!", **where(images))
    with pytest.raises(UsageError, match="tag=TAG or latest=True"):
        api.plan_cut(openhands="o", openhands_branch="b", deploy="d")
    with pytest.raises(NegativeVerdict, match=f"{INCAPABLE} does not carry"):
        api.plan_cut(
            tag=INCAPABLE, openhands=world.openhands.url,
            openhands_branch=world.openhands.branch, deploy=world.deploy.url, **where(images),
        )  # fmt: skip


@pytest.mark.parametrize(
    ("call", "flag"),
    [
        (lambda: api.plan_cut(tag=CAPABLE, openhands=".", openhands_branch="main", deploy=".",
                              profile="nope"), "--profile"),
        (lambda: api.apply_cut(tag=CAPABLE, openhands=".", openhands_branch="main", deploy=".",
                               index_url="ftp://index.example"), "--index-url"),
        (lambda: api.gate(deploy=".", openhands=".", profile="nope"), "--profile"),
        (lambda: api.probe(app_url="http://127.0.0.1:9", app_auth="basic"), "--app-auth"),
    ],
)  # fmt: skip
def test_the_newer_flags_reach_the_cli_and_its_checks(call: Any, flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        call()


def test_a_misspelt_cut_argument_is_a_type_error_not_ignored() -> None:
    with pytest.raises(TypeError, match="alow_held"):
        api.plan_cut(tag=CAPABLE, openhands=".", openhands_branch="main", deploy=".",
                     alow_held=True)  # fmt: skip


def test_an_unreachable_registry_raises_an_external_error(images: Images) -> None:
    # the advice fits what was given: the --registry-url to check, not "pass --registry-url"
    with pytest.raises(ExternalError, match=r"the --registry-url given\)$"):
        api.scan(**{**where(images), "registry_url": "127.0.0.1:9"}, no_cache=True)


def test_probe_returns_the_report_and_prints_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PYTHONPATH", harness.harness_env()["PYTHONPATH"])
    report = tmp_path / "probe.json"

    probed = api.probe(
        target="agent-server", server_command=harness.server_command(),
        agents=["claude-code", "codex"], timeout=30, report=report,
    )  # fmt: skip

    assert probed["verdict"] == "native", probed
    assert [a["agent"] for a in probed["agents"]] == ["claude-code", "codex"]
    assert json.loads(report.read_text()) == probed
    assert capsys.readouterr() == ("", "")


def test_a_misspelt_image_argument_is_a_type_error_for_every_command() -> None:
    for call in (
        lambda: api.scan(imgae=IMAGE),
        lambda: api.check(CAPABLE, imgae=IMAGE),
        lambda: api.gate(deploy=".", openhands=".", imgae=IMAGE),
    ):
        with pytest.raises(TypeError, match="imgae"):
            call()
