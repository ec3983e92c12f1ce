"""Run a workflow job's shell steps as a GitHub runner would, here, against a local world.

`run:` steps run under `bash --noprofile --norc -eo pipefail` (what `shell: bash` means on a
runner) with the environment the workflow, the job and the step give them, each `${{ }}` filled
in from a context the test supplies. A step that uses the pinbot action (`OWNER/pinbot@SHA`) runs
this checkout's action.yml: its inputs are the step's `with:` over the action's defaults, its
steps run in order with their own `$GITHUB_OUTPUT`, and its outputs become the step's outputs.
Other actions (checkout, setup-python, upload-artifact) are skipped: the test provides what they
would (the workspace, a Python on PATH). The run stops at the first step that fails, as a job
does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
PINBOT_ACTION = re.compile(r"^[A-Za-z0-9_.-]+/pinbot@[0-9a-f]{40}$")
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}", re.DOTALL)
# The action's own steps that a test with its own pinbot on PATH leaves out.
SETUP_STEPS = ("Set up Python", "Install pinbot")


@dataclass
class StepRun:
    name: str
    code: int
    stdout: str
    stderr: str
    github_output: str  # the file as the step left it
    outputs: dict[str, str] = field(default_factory=dict)


def load(text: str) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(text)
    assert isinstance(data, dict)
    return data


def action_source(into: Path) -> Path:
    """This checkout's files as the runner fetches an action: a clean copy, no build leftovers."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    return into


# --- expressions --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\)|,)|(?P<word>[A-Za-z_][\w.-]*))"
)


def evaluate(expression: str, context: Mapping[str, str]) -> str:
    """A `${{ }}` expression as the runner evaluates it, for the subset workflows here use:
    names, 'strings', true/false, == != (case-insensitive), ! && || (returning an operand),
    parentheses and format()."""
    tokens = _tokens(expression)
    value, rest = _or(tokens, context)
    assert not rest, f"{expression!r}: cannot read {rest}"
    return _text(value)


def _tokens(text: str) -> list[str]:
    tokens, at = [], 0
    while text[at:].strip():
        match = _TOKEN.match(text, at)
        assert match, f"{text!r}: unknown syntax at {text[at:]!r}"
        tokens.append(match.group(match.lastgroup or ""))
        at = match.end()
    return tokens


Value = str | bool


Parsed = tuple[Value, list[str]]


def _or(tokens: list[str], ctx: Mapping[str, str]) -> Parsed:
    return _chain(tokens, ctx, "||", _and, lambda value, other: value if _truthy(value) else other)


def _and(tokens: list[str], ctx: Mapping[str, str]) -> Parsed:
    return _chain(
        tokens, ctx, "&&", _compare, lambda value, other: other if _truthy(value) else value
    )


def _chain(
    tokens: list[str],
    ctx: Mapping[str, str],
    op: str,
    operand: Callable[[list[str], Mapping[str, str]], Parsed],
    combine: Callable[[Value, Value], Value],
) -> Parsed:
    """`operand (op operand)*`, folded left with `combine` (short-circuit values, as Actions)."""
    value, tokens = operand(tokens, ctx)
    while tokens[:1] == [op]:
        other, tokens = operand(tokens[1:], ctx)
        value = combine(value, other)
    return value, tokens


def _compare(tokens: list[str], ctx: Mapping[str, str]) -> tuple[Value, list[str]]:
    value, tokens = _unary(tokens, ctx)
    while tokens[:1] in (["=="], ["!="]):
        op = tokens[0]
        other, tokens = _unary(tokens[1:], ctx)
        same = _text(value).lower() == _text(other).lower()
        value = same if op == "==" else not same
    return value, tokens


def _unary(tokens: list[str], ctx: Mapping[str, str]) -> tuple[Value, list[str]]:
    head, rest = tokens[0], tokens[1:]
    if head == "!":
        value, rest = _unary(rest, ctx)
        return not _truthy(value), rest
    if head == "(":
        value, rest = _or(rest, ctx)
        assert rest[:1] == [")"]
        return value, rest[1:]
    if head.startswith("'"):
        return head[1:-1].replace("''", "'"), rest
    if head in ("true", "false"):
        return head == "true", rest
    if head == "format" and rest[:1] == ["("]:
        return _format(rest[1:], ctx)
    if head.startswith("steps."):
        return ctx.get(head, ""), rest  # an output a step did not write is empty, as on a runner
    assert head in ctx, f"the test gives no value for {head!r}"
    return ctx[head], rest


def _format(tokens: list[str], ctx: Mapping[str, str]) -> tuple[Value, list[str]]:
    args: list[str] = []
    while True:
        value, tokens = _or(tokens, ctx)
        args.append(_text(value))
        separator, tokens = tokens[0], tokens[1:]
        if separator == ")":
            break
    template, *values = args
    return re.sub(r"\{(\d+)\}", lambda m: values[int(m[1])], template), tokens


def _truthy(value: Value) -> bool:
    return value if isinstance(value, bool) else value != ""


def _text(value: Value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else value


def resolve(value: object, context: Mapping[str, str]) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return EXPRESSION.sub(lambda m: evaluate(m[1], context), str(value))


# --- outputs ------------------------------------------------------------------------------


def read_outputs(text: str) -> dict[str, str]:
    """`$GITHUB_OUTPUT` as the runner reads it: name=value lines and name<<DELIMITER blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            outputs[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


# --- running ------------------------------------------------------------------------------


@dataclass
class Runner:
    """One job's runner: where it works, what PATH and environment its steps get."""

    tmp: Path
    path: list[Path]  # directories put first on PATH (the Python setup-python would give)
    environ: dict[str, str]  # what the runner's environment adds (the world, PINBOT_CACHE_DIR)
    action_path: Path = ROOT
    install: bool = True  # run the action's set-up steps (else pinbot is already on PATH)
    runs: list[StepRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workspace = self.tmp / "workspace"
        self.workspace.mkdir(parents=True, exist_ok=True)
        self.runner_temp = self.tmp / "runner-temp"
        self.runner_temp.mkdir(exist_ok=True)
        self._count = 0

    def run_job(
        self, workflow: dict[str, Any], job_name: str, context: Mapping[str, str]
    ) -> list[StepRun]:
        """Every step of the job in order, until one fails. `context` holds inputs, secrets,
        matrix values; `env.*`, `steps.*` and the `github`/`runner` names are added here."""
        job = workflow["jobs"][job_name]
        ctx = {**self._github_context(), **context}
        env_layers = [workflow.get("env", {}), job.get("env", {})]
        runs: list[StepRun] = []
        for step in job["steps"]:
            env: dict[str, str] = {}
            for layer in [*env_layers, step.get("env", {})]:
                env.update({k: resolve(v, {**ctx, **_env_context(env)}) for k, v in layer.items()})
            # evaluate() gives text: a false comparison is "false", an unset value ""
            if "if" in step and evaluate(step["if"], {**ctx, **_env_context(env)}) in ("", "false"):
                if step.get("id"):
                    ctx[f"steps.{step['id']}.outcome"] = "skipped"
                continue
            run = self._step(step, env, ctx)
            if run is None:
                continue
            runs.append(run)
            if step.get("id"):
                ctx.update({f"steps.{step['id']}.outputs.{k}": v for k, v in run.outputs.items()})
                ctx[f"steps.{step['id']}.outcome"] = "success" if run.code == 0 else "failure"
            if run.code != 0:
                break
        return runs

    def _github_context(self) -> dict[str, str]:
        return {
            "github.workspace": str(self.workspace),
            "github.sha": "0" * 40,
            "github.token": "not-a-real-job-token",
            "runner.temp": str(self.runner_temp),
        }

    def _step(
        self, step: dict[str, Any], env: dict[str, str], ctx: dict[str, str]
    ) -> StepRun | None:
        uses = step.get("uses", "")
        if PINBOT_ACTION.match(uses):
            given = {
                k: resolve(v, {**ctx, **_env_context(env)}) for k, v in step.get("with", {}).items()
            }
            return self._action(step.get("name", uses), given, env)
        if "run" in step:
            return self.shell(step.get("name", "run"), step["run"], env)
        return None  # another action: the test stands in for what it does

    def _action(self, name: str, given: dict[str, str], env: dict[str, str]) -> StepRun:
        action = load((self.action_path / "action.yml").read_text(encoding="utf-8"))
        inputs = {k: str(spec.get("default", "")) for k, spec in action["inputs"].items()}
        unknown = set(given) - set(inputs)
        assert not unknown, f"{name}: the action has no input(s) {sorted(unknown)}"
        inputs.update(given)
        ctx = {f"inputs.{k}": v for k, v in inputs.items()}
        ctx["github.action_path"] = str(self.action_path)
        ctx.update(self._github_context())
        last: StepRun | None = None
        for inner in action["runs"]["steps"]:
            if "run" not in inner or (not self.install and inner.get("name") in SETUP_STEPS):
                continue
            inner_env = {k: resolve(v, ctx) for k, v in inner.get("env", {}).items()}
            last = self.shell(f"{name} / {inner['name']}", inner["run"], {**env, **inner_env})
            self.runs.append(last)
            if inner.get("id"):
                ctx.update({f"steps.{inner['id']}.outputs.{k}": v for k, v in last.outputs.items()})
            if last.code != 0:
                return last
        assert last is not None
        outputs = {k: resolve(spec["value"], ctx) for k, spec in action["outputs"].items()}
        return StepRun(name, last.code, last.stdout, last.stderr, last.github_output, outputs)

    def shell(self, name: str, script: str, env: dict[str, str]) -> StepRun:
        self._count += 1
        files = self.tmp / f"step-{self._count}"
        files.mkdir()
        output = files / "github-output"
        output.touch()
        path = os.pathsep.join([*map(str, self.path), os.environ["PATH"]])
        full = {
            **os.environ,
            **self.environ,
            **env,
            "PATH": path,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_ACTION_PATH": str(self.action_path),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(files / "step-summary"),
            "RUNNER_TEMP": str(self.runner_temp),
        }
        (files / "step.sh").write_text(script, encoding="utf-8")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(files / "step.sh")],
            env=full,
            cwd=self.workspace,
            capture_output=True,
            text=True,
            timeout=280,
            check=False,
        )
        text = output.read_text(encoding="utf-8")
        return StepRun(name, done.returncode, done.stdout, done.stderr, text, read_outputs(text))


def _env_context(env: Mapping[str, str]) -> dict[str, str]:
    return {f"env.{k}": v for k, v in env.items()}
