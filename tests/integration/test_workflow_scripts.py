"""The cut workflows' steps, run as Actions would run them, against a local world.

testing/actionrunner.py runs each job: its `run:` scripts under `bash -eo pipefail` and the pinbot
action's shell steps, with the environment the workflow gives them. `pinbot` on PATH is this
checkout (the action's install steps are left out here; tests/integration/test_action.py runs
them); the registry is real and the OpenHands and deploy repositories sit behind file://
remotes, where `--open-prs` pushes and says that no PR was opened.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from testing.actionrunner import ROOT, Runner, load
from testing.cutworld import CAPABLE, IMAGE, INCAPABLE
from testing.worlds import Images


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    outputs: str


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """`pinbot` on PATH: this checkout, run by the interpreter running the tests."""
    directory = tmp_path / "bin"
    directory.mkdir()
    shim = directory / "pinbot"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pinbot "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return directory


def run_workflow(
    name: str,
    tmp_path: Path,
    bin_dir: Path,
    config: dict[str, str],
    context: dict[str, str],
    extra: dict[str, str],
) -> Run:
    """The job of workflows/`name`, its env block filled in with `config`; the last step's run."""
    workflow = load((ROOT / "workflows" / name).read_text(encoding="utf-8"))
    workflow["env"] = {**workflow.get("env", {}), **config}
    where = Path(tempfile.mkdtemp(prefix="runner-", dir=tmp_path))
    runner = Runner(where, [bin_dir], {**extra, "PYTHONPATH": str(ROOT)}, install=False)
    (job,) = workflow["jobs"]
    last = runner.run_job(workflow, job, context)[-1]
    return Run(last.code, last.stdout, last.stderr, last.github_output)


def world_env(images: Images, world: Remotes, require: str | None = None) -> dict[str, str]:
    """The local world, given the way a user's pinbot.toml or PINBOT_* variables would."""
    return {
        "PINBOT_IMAGE": IMAGE,
        "PINBOT_REGISTRY_URL": images.registry,
        "PINBOT_SDK": str(images.world.sdk),
        "PINBOT_REQUIRE_COMMIT": require or world.openhands.backend_commit,
    }


def repo_config(world: Remotes, branch: bool = True) -> dict[str, str]:
    """What the user fills into the workflow's env block when copying it."""
    config = {"OPENHANDS_REPO": world.openhands.url, "DEPLOY_REPO": world.deploy.url}
    # The test images cannot hold a conversation: the upgrade probe has its own test below.
    config["UPGRADE_PROBE"] = "false"
    return {**config, "OPENHANDS_BRANCH": world.openhands.branch} if branch else config


SECRETS = {
    "secrets.PINBOT_TOKEN": "not-a-real-token",
    "secrets.ANTHROPIC_API_KEY": "",  # the upgrade probe's agents' model keys: none here
    "secrets.OPENAI_API_KEY": "",
}
# A scheduled run after the first (the first only plans), not started by hand.
LATER_RUN = {"github.run_number": "7", "inputs.plan-only": ""}


def watch(tmp_path, bin_dir, images, world, run: dict[str, str] = LATER_RUN, **kwargs: Any) -> Run:
    require = kwargs.pop("require", None)
    config = {**repo_config(world), **kwargs}
    env = world_env(images, world, require)
    return run_workflow("pin-watch.yml", tmp_path, bin_dir, config, {**SECRETS, **run}, env)


def release(tmp_path, bin_dir, images, world, tag: str, dry_run: bool) -> Run:
    context = {
        **SECRETS,
        "inputs.tag": tag,
        "matrix.branch": world.openhands.branch,  # the job of one branch of the matrix
        "inputs.deploy_branch": world.openhands.branch,
        "inputs.dry_run": "true" if dry_run else "false",
    }
    env = world_env(images, world)
    config = repo_config(world, branch=False)
    return run_workflow("release-cut.yml", tmp_path, bin_dir, config, context, env)


def test_pin_watch_cuts_the_newer_qualifying_tag_and_a_rerun_changes_nothing(
    tmp_path, bin_dir, images, world
) -> None:
    first = watch(tmp_path, bin_dir, images, world)

    assert first.code == 0, first.stderr
    branch = f"pinbot/agent-server-{CAPABLE}"
    head = f"pinbot/{world.openhands.branch}/agent-server-{CAPABLE}"
    sha = repos.git(world.openhands.remote, "rev-parse", head)
    assert f"OPENHANDS_SHA: {sha}" in repos.show(world.deploy.remote, branch, repos.WORKFLOW)
    assert f"tag={CAPABLE}\n" in first.outputs and f"openhands_sha={sha}\n" in first.outputs
    refs = world.refs()

    again = watch(tmp_path, bin_dir, images, world)

    assert again.code == 0, again.stderr
    assert world.refs() == refs


def test_pin_watch_ends_green_with_a_notice_on_a_negative_verdict(
    tmp_path, bin_dir, images, world
) -> None:
    refs = world.refs()
    run = watch(tmp_path, bin_dir, images, world, require="0" * 40)

    assert run.code == 0, run.stderr
    assert "::notice title=pinbot::pinbot cut: a negative verdict (exit 1)" in run.stdout
    assert "does not contain the backend commit(s) 0000000" in run.stderr  # pinbot said why
    assert world.refs() == refs


@pytest.mark.parametrize(
    "run, config",
    [
        ({"github.run_number": "1", "inputs.plan-only": ""}, {}),
        ({"github.run_number": "7", "inputs.plan-only": "true"}, {}),
        (LATER_RUN, {"PLAN_ONLY": "true"}),
    ],
    ids=["first run", "plan-only by hand", "PLAN_ONLY"],
)
def test_pin_watch_only_plans_on_its_first_run_or_when_asked(
    tmp_path, bin_dir, images, world, run: dict[str, str], config: dict[str, str]
) -> None:
    refs = world.refs()

    planned = watch(tmp_path, bin_dir, images, world, run=run, **config)

    assert planned.code == 0, planned.stderr
    assert world.refs() == refs, "a plan pushes nothing"
    assert (
        f"pinbot/{world.openhands.branch}/agent-server-{CAPABLE}" in planned.stdout + planned.stderr
    )


def test_pin_watch_fails_when_its_env_block_is_not_filled_in(
    tmp_path, bin_dir, images, world
) -> None:
    run = watch(tmp_path, bin_dir, images, world, DEPLOY_REPO="")

    assert run.code == 2
    assert "::error title=pin-watch::DEPLOY_REPO is empty" in run.stdout


def test_release_cut_dry_run_plans_the_latest_tag_and_pushes_nothing(
    tmp_path, bin_dir, images, world
) -> None:
    refs = world.refs()
    run = release(tmp_path, bin_dir, images, world, "latest", dry_run=True)

    assert run.code == 0, run.stderr
    assert CAPABLE in run.stdout
    assert world.refs() == refs


def test_release_cut_refuses_a_tag_without_the_capability(tmp_path, bin_dir, images, world) -> None:
    refs = world.refs()
    run = release(tmp_path, bin_dir, images, world, INCAPABLE, dry_run=False)

    assert run.code == 1
    assert f"{INCAPABLE} does not carry" in run.stderr
    assert world.refs() == refs


def test_pin_watch_probes_the_move_from_the_pin_today_and_a_failed_probe_opens_nothing(
    tmp_path, bin_dir, images, world
) -> None:
    refs = world.refs()
    run = watch(tmp_path, bin_dir, images, world, UPGRADE_PROBE="true")

    # The stand-in images answer no conversation: the probe errors (3) and the cut never runs.
    assert run.code == 3, run.stderr
    assert "agent-server:" in run.stderr
    assert world.refs() == refs
