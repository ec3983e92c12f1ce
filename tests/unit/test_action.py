"""action.yml keeps the hardening rules of the workflows, and the four workflows use it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = {"verdict", "openhands_sha", "image", "tag", "digest", "current", "report"}
USER_WORKFLOWS = ("pin-watch.yml", "release-cut.yml", "predeploy-gate.yml", "resume-probe.yml")
PINBOT_ACTION = re.compile(r"^[A-Za-z0-9_.-]+/pinbot@[0-9a-f]{40}$")
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def load(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def action() -> dict[str, Any]:
    return load(ROOT / "action.yml")


def action_steps() -> list[dict[str, Any]]:
    runs = action()["runs"]
    assert runs["using"] == "composite"
    return list(runs["steps"])


def test_the_action_is_composite_and_gives_the_seven_outputs_pinbot_writes() -> None:
    outputs = action()["outputs"]
    assert set(outputs) == OUTPUTS
    (run,) = [s for s in action_steps() if s.get("id") == "pinbot"]
    for name, output in outputs.items():
        assert output["value"] == f"${{{{ steps.pinbot.outputs.{name} }}}}"
    assert "pinbot " in run["run"]


def test_inputs_reach_the_shell_only_through_env() -> None:
    for step in action_steps():
        if "run" not in step:
            continue
        assert "${{" not in step["run"], step["name"]
        assert step["shell"] == "bash", step["name"]
    declared = set(action()["inputs"])
    used = {
        match[1].split(".", 1)[1]
        for step in action_steps()
        for where in ("env", "with")
        for value in step.get(where, {}).values()
        for match in EXPRESSION.finditer(str(value))
        if match[1].startswith("inputs.")
    }
    assert used == declared  # every input is used, and none that is not declared


def test_setup_python_is_pinned_by_sha_and_caches_pip() -> None:
    (setup,) = [s for s in action_steps() if "uses" in s]
    name, _, ref = setup["uses"].partition("@")
    assert name == "actions/setup-python" and re.fullmatch(r"[0-9a-f]{40}", ref)
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"]
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"


def test_each_user_workflow_runs_pinbot_through_the_action_and_installs_nothing_itself() -> None:
    for name in USER_WORKFLOWS:
        workflow = load(ROOT / "workflows" / name)
        steps = [s for job in workflow["jobs"].values() for s in job.get("steps", [])]
        uses = [s for s in steps if PINBOT_ACTION.match(s.get("uses", ""))]
        assert uses, f"{name}: no step uses the pinbot action"
        scripts = "\n".join(s.get("run", "") for s in steps)
        assert "pip install" not in scripts, name
        assert not re.search(r"(^|\s)pinbot\s", scripts), f"{name}: runs pinbot outside the action"
        assert not any("actions/setup-python" in s.get("uses", "") for s in steps), name
