"""The gate's policy comes from the invocation, never from the commit it gates.

The gated deploy commit deploys an old OpenHands pin (main: 1.26.0, no backend commit, no
capability) and carries its own pinbot config that points the gate elsewhere: at a decoy
workflow naming the good pin, or at a decoy `sha_key`. The gate runs in a checkout of that commit,
as a pre-deploy job runs it. It must read the real workflow and block."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from pinbot.demo import repos
from testing.cli import Run, pinbot
from testing.gateworld import CutWorld
from testing.world import REPO_ROOT

AREA = "the gate's policy"
ATTACK = (
    "the gated deploy commit carries a pinbot.toml or [tool.pinbot] pointing `[deploy] "
    "workflow` at a decoy (or `sha_key` at a decoy key) that names a good pin"
)
ANSWER = (
    "the gate reads no config from its working directory, only --config / PINBOT_CONFIG (the "
    "workflow passes the default branch's): it reads the real workflow and blocks"
)
EXIT = "1 (0 for the honest deploy)"

DECOY = ".github/workflows/decoy.yaml"


def gated(world: CutWorld, tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    """A deploy branch that deploys OpenHands main (the old pin) and adds `files`, checked out
    in a directory of its own: the working directory the gate runs in."""
    old = repos.deploy_workflow(world.repos.openhands.main)
    remote = world.repos.deploy.remote
    repos.add_commit(remote, name, {repos.WORKFLOW: old, **files}, "Deploy",
                     start=world.repos.deploy.main)  # fmt: skip
    checkout = tmp_path / "deployed"
    subprocess.run(
        ["git", "clone", "-q", "-b", name, "--", str(remote), str(checkout)],
        check=True, capture_output=True,
    )  # fmt: skip
    return checkout


def gate(world: CutWorld, checkout: Path, *extra: str) -> Run:
    return pinbot(
        "--json", *extra, "gate", "--deploy", f"{checkout}@HEAD",
        "--openhands", world.repos.openhands.url, "--image", world.image,
        "--registry-url", world.images.registry, "--sdk", str(world.images.world.sdk),
    )  # fmt: skip


def decoy_workflow(world: CutWorld) -> dict[str, str]:
    return {DECOY: repos.deploy_workflow(world.pin)}


def sha_key_decoy(world: CutWorld) -> dict[str, str]:
    workflow = repos.deploy_workflow(world.repos.openhands.main)
    workflow = workflow.replace("env:\n", f"env:\n  DECOY_SHA: {world.pin}\n", 1)
    return {repos.WORKFLOW: workflow}


CASES = {
    "pinbot-toml-workflow": (
        lambda w: {"pinbot.toml": f'[deploy]\nworkflow = "{DECOY}"\n', **decoy_workflow(w)}
    ),
    "pyproject-tool-pinbot": (
        lambda w: {
            "pyproject.toml": f'[project]\nname = "deploy"\n\n[tool.pinbot.deploy]\nworkflow = '
            f'"{DECOY}"\n',
            **decoy_workflow(w),
        }
    ),
    "pinbot-toml-sha-key": (
        lambda w: {"pinbot.toml": '[deploy]\nsha_key = "DECOY_SHA"\n', **sha_key_decoy(w)}
    ),
}


def blocked(done: Run) -> None:
    assert done.code == 1, done.err
    report = done.data
    assert report["verdict"] == "block"
    assert report["tag"] == "1.26.0-python"  # the pin the real workflow deploys


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_config_in_the_gated_checkout_is_not_read(
    clean: CutWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    checkout = gated(clean, tmp_path, f"decoy-{name}", CASES[name](clean))
    monkeypatch.chdir(checkout)

    done = gate(clean, checkout)

    blocked(done)
    assert done.data["openhands_sha"] == clean.repos.openhands.main
    if (checkout / "pinbot.toml").exists():
        assert "warning: ./pinbot.toml is not read" in done.err


def test_the_trusted_config_counts_and_the_gated_commits_own_is_ignored(
    clean: CutWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trusted side's config (the default branch's, as the workflow passes it through
    PINBOT_CONFIG) is what counts; the gated commit's own is ignored beside it."""
    checkout = gated(clean, tmp_path, "decoy-beside-trusted", CASES["pinbot-toml-workflow"](clean))
    trusted = tmp_path / "policy" / "pinbot.toml"
    trusted.parent.mkdir()
    trusted.write_text(f'require_commits = ["{clean.repos.openhands.backend_commit}"]\n')
    monkeypatch.chdir(checkout)
    monkeypatch.setenv("PINBOT_CONFIG", str(trusted))

    done = gate(clean, checkout)

    blocked(done)
    required = next(c for c in done.data["checks"] if c["name"] == "backend_commits")
    assert (
        required["ok"] is False and clean.repos.openhands.backend_commit[:12] in required["detail"]
    )


def test_the_honest_deploy_passes_from_the_same_kind_of_checkout(
    clean: CutWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = clean.repos.deploy.remote
    checkout = tmp_path / "deployed"
    subprocess.run(
        ["git", "clone", "-q", "-b", clean.deploy_branch, "--", str(remote), str(checkout)],
        check=True, capture_output=True,
    )  # fmt: skip
    (checkout / "pinbot.toml").write_text(f'[deploy]\nworkflow = "{DECOY}"\n')  # not read
    monkeypatch.chdir(checkout)

    done = gate(clean, checkout)

    assert done.code == 0, done.err
    assert done.data["openhands_sha"] == clean.pin


def test_gate_help_says_where_policy_comes_from() -> None:
    done = pinbot("gate", "--help")

    assert done.code == 0
    text = " ".join(done.out.split())
    assert "never reads a config from the commit or branch it gates" in text


def test_the_predeploy_workflow_reads_policy_from_the_default_branch_not_the_deployed_commit() -> (
    None
):
    workflow = YAML(typ="safe", pure=True).load(
        (REPO_ROOT / "workflows" / "predeploy-gate.yml").read_text(encoding="utf-8")
    )
    steps = workflow["jobs"]["gate"]["steps"]
    checkouts = {s["with"]["path"]: s["with"] for s in steps if "checkout" in s.get("uses", "")}
    assert checkouts["policy"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert "ref" not in checkouts["deployed"]  # the commit being deployed, on its own
    (gate_step,) = [s for s in steps if s.get("id") == "gate"]
    env = gate_step["env"]
    assert env["PINBOT_CONFIG"] == "${{ steps.policy.outputs.config }}"
    assert "/deployed@" in env["PINBOT_DEPLOY"]
    (policy,) = [s for s in steps if s.get("id") == "policy"]
    assert "$PWD/policy/pinbot.toml" in policy["run"]


def test_the_library_gate_reads_no_config_from_the_checkout_either(
    clean: CutWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinbot import api

    checkout = gated(clean, tmp_path, "decoy-library", CASES["pinbot-toml-workflow"](clean))
    monkeypatch.chdir(checkout)

    report = api.gate(
        deploy=f"{checkout}@HEAD", openhands=clean.repos.openhands.url, image=clean.image,
        registry_url=clean.images.registry, sdk=str(clean.images.world.sdk),
    )  # fmt: skip

    assert report["verdict"] == "block" and report["tag"] == "1.26.0-python"
