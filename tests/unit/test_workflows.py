"""The GitHub workflows cannot drift from the CLI, and keep to the hardening rules.

Every `pinbot ...` command line in a `run:` script, and every step that uses the pinbot action
(`command` and `args`, one argument a line), is checked against `make_parser()`: the
command exists, every flag belongs to it (global flags before or after the command), flags that
take a value get one, literal values fit their choices and types, required options and required
either-or groups are given (on the line or as PINBOT_<FLAG> in the step's environment).
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from pinbot.cli import make_parser

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted([*ROOT.glob("workflows/*.yml"), *ROOT.glob(".github/workflows/*.yml")])
GATE_OUTPUTS = {"verdict", "openhands_sha", "image", "tag", "digest", "report"}
PINBOT_ACTION = re.compile(r"^[A-Za-z0-9_.-]+/pinbot@[0-9a-f]{40}$")
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
VERSION_COMMENT = re.compile(r"^\s+# v\d+\.\d+\.\d+\b")
# Environment names pinbot reads that are not flags (docs/guides/configuration.md and
# pinbot/commands/probe.py).
NOT_FLAGS = {
    "PINBOT_REGISTRY_TOKEN",
    "PINBOT_APP_API_KEY",
    "PINBOT_SESSION_API_KEY",
    "PINBOT_CACHE_DIR",
    "PINBOT_GIT_AUTHOR",
}
# Tokens after which a word is a command (shlex keeps `&&`, `||`, `;`, `|`, `(` as tokens).
COMMAND_START = {";", "&&", "||", "|", "&", "(", "{", "!", "then", "else", "do", "if", "elif"}
COMMAND_START |= {"while", "until", "time", "exec"}


# --- the CLI's grammar, read from make_parser() ----------------------------------------------


@dataclass
class Grammar:
    """What one (sub)parser accepts."""

    options: dict[str, argparse.Action] = field(default_factory=dict)
    positionals: list[argparse.Action] = field(default_factory=list)
    required: list[argparse.Action] = field(default_factory=list)
    groups: list[tuple[bool, list[argparse.Action]]] = field(default_factory=list)


def grammar_of(parser: argparse.ArgumentParser) -> Grammar:
    g = Grammar()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        g.options.update(dict.fromkeys(action.option_strings, action))
        if not action.option_strings:
            g.positionals.append(action)
        elif action.required:
            g.required.append(action)
    g.groups = [
        (grp.required, list(grp._group_actions)) for grp in parser._mutually_exclusive_groups
    ]
    return g


@cache
def cli() -> tuple[Grammar, dict[str, Grammar]]:
    parser = make_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return grammar_of(parser), {name: grammar_of(p) for name, p in sub.choices.items()}


def env_name(action: argparse.Action) -> str:
    longs = [s for s in action.option_strings if s.startswith("--")]
    return "PINBOT_" + longs[0][2:].upper().replace("-", "_") if longs else ""


def flag_env_names() -> set[str]:
    top, commands = cli()
    grammars = [top, *commands.values()]
    return {env_name(a) for g in grammars for a in g.options.values()} - {""}


# --- finding `pinbot ...` in a shell script ----------------------------------------------------


def invocations(script: str) -> list[list[str]]:
    """The arguments of every `pinbot` command in `script` (line continuations joined)."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            if token == "pinbot" and (i == 0 or tokens[i - 1] in COMMAND_START):
                found.append(command_words(tokens[i + 1 :]))
    return found


def command_words(tokens: list[str]) -> list[str]:
    """Words up to the first operator or redirection (`2>&1`: the `2` goes too)."""
    words: list[str] = []
    for token in tokens:
        if set(token) <= set("();<>|&"):
            if words and words[-1].isdigit() and token[0] in "<>":
                words.pop()
            break
        words.append(token)
    return words


# --- checking one invocation -------------------------------------------------------------------


def problems(args: list[str], env: Mapping[str, str] | None = None) -> list[str]:
    """Why the CLI would refuse `pinbot ARGS` (empty when it accepts it)."""
    top, commands = cli()
    _, rest, errors = read_options(top, args, stop_at_word=True)
    if not rest:
        return [*errors, "no command given"]
    command, *tail = rest
    if command not in commands:
        return [*errors, f"unknown command {command!r} (pinbot has {', '.join(commands)})"]
    grammar = commands[command]
    given, words, more = read_options(grammar, tail, stop_at_word=False)
    errors += more
    errors += missing(grammar, given, env or {})
    if len(words) != len(grammar.positionals):
        errors.append(f"takes {len(grammar.positionals)} argument(s), got {words}")
    return [f"pinbot {command}: {e}" for e in errors]


def read_options(
    grammar: Grammar, tokens: list[str], stop_at_word: bool
) -> tuple[set[str], list[str], list[str]]:
    """(dests given, the other words, problems); stops at the first word for global flags."""
    given: set[str] = set()
    words: list[str] = []
    errors: list[str] = []
    tokens = list(tokens)
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("-"):
            if stop_at_word:
                return given, [token, *tokens], errors
            words.append(token)
            continue
        flag, eq, inline = token.partition("=")
        action = grammar.options.get(flag)
        if action is None:
            errors.append(f"unknown flag {flag}")
            continue
        value = inline if eq else None
        if action.nargs != 0 and not eq:
            value = tokens.pop(0) if tokens and not tokens[0].startswith("-") else None
            if value is None:
                errors.append(f"{flag} needs a value")
        elif action.nargs == 0 and eq:
            errors.append(f"{flag} takes no value")
        errors += bad_value(flag, action, value)
        given.add(action.dest)
    return given, words, errors


def bad_value(flag: str, action: argparse.Action, value: str | None) -> list[str]:
    """Literal values only: `$VAR` is checked by pinbot at run time."""
    if value is None or "$" in value:
        return []
    if action.choices is not None and value not in action.choices:
        return [f"{flag} {value!r}: not one of {sorted(action.choices)}"]
    if callable(action.type) and not getattr(action.type, "reads_files", False):
        try:
            action.type(value)
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            return [f"{flag} {value!r}: not a valid value"]
    return []


def missing(grammar: Grammar, given: set[str], env: Mapping[str, str]) -> list[str]:
    def present(action: argparse.Action) -> bool:
        return action.dest in given or env_name(action) in env

    errors = [f"{a.option_strings[0]} is required" for a in grammar.required if not present(a)]
    for required, actions in grammar.groups:
        flags = " / ".join(a.option_strings[0] for a in actions)
        count = sum(a.dest in given for a in actions)
        if count > 1:
            errors.append(f"give only one of {flags}")
        elif required and not any(present(a) for a in actions):
            errors.append(f"one of {flags} is required")
    return errors


# --- reading the workflows ---------------------------------------------------------------------


@cache
def load(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a workflow mapping"
    return data


def by_name(name: str) -> dict[str, Any]:
    return load(ROOT / "workflows" / name)


def steps(workflow: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            yield job, step


def step_env(workflow: dict[str, Any], job: dict[str, Any], step: dict[str, Any]) -> dict[str, str]:
    return {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}


def run_invocations(workflow: dict[str, Any]) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Every pinbot command line: in `run:` scripts, and as the action's command and args."""
    for job, step in steps(workflow):
        for args in invocations(step.get("run", "")):
            yield args, step_env(workflow, job, step)
        if PINBOT_ACTION.match(step.get("uses", "")):
            yield action_args(step["with"]), step_env(workflow, job, step)


def action_args(given: dict[str, str]) -> list[str]:
    """What the action runs: `pinbot COMMAND ARG...`, one argument per non-blank line of args."""
    lines = [line.strip() for line in str(given.get("args", "")).splitlines()]
    return [given["command"], *[line for line in lines if line]]


def leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))
    elif isinstance(node, str):
        yield path, node


def env_mappings(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "env" and isinstance(value, dict):
                yield value
            yield from env_mappings(value)
    elif isinstance(node, list):
        for value in node:
            yield from env_mappings(value)


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


# --- the checker itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "complaint"),
    [
        ("pinbot gate --deploy d --openhands o --no-such-flag", "unknown flag --no-such-flag"),
        ("pinbot gate --openhands o", "--deploy is required"),
        ("pinbot cut --openhands o --openhands-branch b --deploy d", "one of --tag / --latest"),
        ("pinbot cut --tag t --latest --openhands o --openhands-branch b --deploy d", "only one"),
        ("pinbot deploy --now", "unknown command 'deploy'"),
        ("pinbot probe --recycle reboot", "'reboot': not one of ['command', 'pause', 'restart']"),
        ("pinbot probe --timeout soon", "'soon': not a valid value"),
        ("pinbot check", "takes 1 argument(s)"),
        ("pinbot --config", "--config needs a value"),
        ("pinbot gate \\\n  --deploy d \\\n  --openhands o --tagg x", "unknown flag --tagg"),
        ("ok=0; pinbot scan --al || ok=$?", "unknown flag --al"),
        ("if pinbot scan --include-sha-tag; then :; fi", "unknown flag --include-sha-tag"),
    ],
)
def test_the_checker_refuses_a_command_line_the_cli_would_refuse(
    script: str, complaint: str
) -> None:
    found = [p for args in invocations(script) for p in problems(args)]
    assert any(complaint in p for p in found), f"{script!r}: expected {complaint!r}, got {found}"


@pytest.mark.parametrize(
    "script",
    [
        'pinbot --json probe --agents "$AGENT" --report "$RUNNER_TEMP/r.json" --recycle pause',
        'pinbot gate --deploy "${D:-$GITHUB_WORKSPACE@$GITHUB_SHA}" --openhands "$O" 2>&1',
        "pinbot -v --no-cache cut --latest --openhands=o --openhands-branch b --deploy d --dry-run",
        "pinbot check 1.43.1-python --detectors source,openapi --image oci:layout",
        'pinbot probe --report "$F" --json -v',
    ],
)
def test_the_checker_accepts_a_command_line_the_cli_accepts(script: str, tmp_path: Path) -> None:
    (args,) = invocations(script)
    assert problems(args) == []
    # and argparse agrees, with each variable a value its flag takes, and the paths there
    for directory in ("o", "d", "x"):
        (tmp_path / directory).mkdir()
    make_parser().parse_args([_as_run(args, i) for i in range(len(args))])


def _as_run(args: list[str], index: int) -> str:
    if "$" not in args[index]:
        return args[index]
    return "r.json" if index and args[index - 1] == "--report" else "x"


def test_a_required_flag_can_come_from_the_environment() -> None:
    args = ["gate", "--openhands", "o"]
    assert problems(args, {"PINBOT_DEPLOY": "d"}) == []
    assert problems(args, {}) == ["pinbot gate: --deploy is required"]


def test_only_commands_count_not_words_that_mention_pinbot() -> None:
    script = 'echo pinbot cut --nonsense\necho "pinbot --bad"\nx=pinbot\n  pinbot scan # --bad'
    assert invocations(script) == [["scan"]]


# --- every workflow ---------------------------------------------------------------------------


def test_there_are_workflows_for_users_and_for_pinbot_itself() -> None:
    names = {p.name for p in WORKFLOWS}
    expected = {"pin-watch.yml", "release-cut.yml", "predeploy-gate.yml", "resume-probe.yml"}
    assert expected | {"ci.yml"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_every_pinbot_command_line_is_one_the_cli_accepts(path: Path) -> None:
    found = {
        f"{' '.join(args)}: {p}"
        for args, env in run_invocations(load(path))
        for p in problems(args, env)
    }
    assert not found, f"{path.name}: " + "; ".join(sorted(found))


def test_the_user_workflows_run_cut_gate_and_probe() -> None:
    commands = {
        args[next(i for i, a in enumerate(args) if not a.startswith("-"))]
        for path in WORKFLOWS
        for args, _ in run_invocations(load(path))
    }
    assert {"cut", "gate", "probe"} <= commands


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_pinbot_environment_names_are_flags_or_documented_tokens(path: Path) -> None:
    allowed = flag_env_names() | NOT_FLAGS
    names = {name for env in env_mappings(load(path)) for name in env}
    unknown = {
        n
        for n in names
        if n.startswith("PINBOT_") and n not in allowed and not n.startswith("PINBOT_APP_API_KEY_")
    }
    assert not unknown, f"{path.name}: pinbot reads no {sorted(unknown)}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        match = USES_LINE.match(line)
        if match is None or match["ref"].startswith("./"):
            continue
        assert PINNED.match(match["ref"]), f"{path.name}: {match['ref']} is not pinned by sha"
        assert VERSION_COMMENT.match(match["comment"]), f"{path.name}: {line.strip()}: # vX.Y.Z"
    uses = [s["uses"] for _, s in steps(load(path)) if "uses" in s]
    assert all(PINNED.match(u) or u.startswith("./") for u in uses)


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_no_expression_is_expanded_inside_a_run_script(path: Path) -> None:
    for _, step in steps(load(path)):
        assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}: use env:"


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_permissions_are_declared_and_read_only(path: Path) -> None:
    workflow = load(path)
    assert "permissions" in workflow, f"{path.name}: no top-level permissions"
    scopes = [
        workflow["permissions"],
        *(job.get("permissions") for job in workflow["jobs"].values()),
    ]
    assert all(isinstance(s, dict) for s in scopes), f"{path.name}: every job declares a mapping"
    levels = {level for s in scopes for level in s.values()}
    assert levels <= {"read", "none"}, f"{path.name}: {levels}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_checkouts_do_not_keep_credentials(path: Path) -> None:
    for _, step in steps(load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, path.name


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_secrets_reach_steps_only_through_env(path: Path) -> None:
    for where, text in leaves(load(path)):
        if "secrets." in text:
            assert where[-2] in ("env", "secrets"), f"{path.name}: secret at {where}"


# --- what each user workflow promises -----------------------------------------------------------


def test_pin_watch_runs_on_a_schedule_and_by_hand_and_never_races() -> None:
    watch, cut = by_name("pin-watch.yml"), by_name("release-cut.yml")
    assert {"schedule", "workflow_dispatch"} <= set(watch["on"])
    assert watch["concurrency"]["cancel-in-progress"] is False
    # The watch and a manual cut push the same pinbot/... branches: one group for both.
    assert watch["concurrency"]["group"] == cut["concurrency"]["group"]
    (scan, _), (_probe, _), (cut_args, env) = run_invocations(watch)
    assert scan == ["scan"] and cut_args == ["cut", "--open-prs"]
    assert env["PINBOT_TAG"] == "${{ steps.scan.outputs.tag }}"
    assert env["PINBOT_LATEST"] == "${{ steps.scan.outputs.tag == '' }}"


@pytest.mark.parametrize("name", ["pin-watch.yml", "release-cut.yml"])
def test_the_cut_workflows_probe_the_upgrade_and_rollback_before_a_pr_is_opened(
    name: str,
) -> None:
    workflow = by_name(name)
    *_, (probe, probe_env), (cut_args, env) = run_invocations(workflow)
    assert probe == ["probe", "--target=agent-server", "--rollback"]
    assert {"PINBOT_IMAGE", "PINBOT_FROM_IMAGE", "PINBOT_REPORT"} <= set(probe_env)
    assert "steps.scan.outputs.current" in probe_env["PINBOT_FROM_IMAGE"]
    assert cut_args[0] == "cut"
    assert "steps.probe.outcome == 'success'" in env["PINBOT_PROBE_REPORT"]


def test_release_cut_takes_a_tag_or_latest_a_list_of_branches_and_dry_run() -> None:
    workflow = by_name("release-cut.yml")
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"tag", "openhands_branches", "deploy_branch", "dry_run"}
    # one job per branch: release lines fan out as a matrix
    matrix = workflow["jobs"]["cut"]["strategy"]["matrix"]
    assert matrix["branch"] == "${{ fromJSON(inputs.openhands_branches) }}"
    assert inputs["dry_run"]["type"] == "boolean"
    *_, (args, env) = run_invocations(workflow)  # after the upgrade probe
    assert args == ["cut", "--open-prs"]
    # each input reaches pinbot as the PINBOT_<FLAG> of the flag it means
    assert env["PINBOT_LATEST"] == "${{ inputs.tag == 'latest' }}"
    assert env["PINBOT_TAG"] == "${{ inputs.tag != 'latest' && inputs.tag || '' }}"
    assert env["PINBOT_OPENHANDS_BRANCH"] == "${{ matrix.branch }}"
    assert env["PINBOT_DEPLOY"].startswith("${{ matrix.branch == inputs.deploy_branch &&")
    assert env["PINBOT_DRY_RUN"] == "${{ inputs.dry_run }}"


def test_the_gate_workflow_exposes_the_five_outputs_from_pinbot_gate() -> None:
    workflow = by_name("predeploy-gate.yml")
    outputs = workflow["on"]["workflow_call"]["outputs"]
    assert set(outputs) == GATE_OUTPUTS
    for name, output in outputs.items():
        job, _, key = output["value"].removeprefix("${{ jobs.").removesuffix(" }}").partition(".")
        assert key == f"outputs.{name}"
        step_ref = workflow["jobs"][job]["outputs"][name]
        step_id = step_ref.removeprefix("${{ steps.").split(".")[0]
        (step,) = [s for s in workflow["jobs"][job]["steps"] if s.get("id") == step_id]
        assert step_ref == f"${{{{ steps.{step_id}.outputs.{name} }}}}"
        assert PINBOT_ACTION.match(step["uses"]) and action_args(step["with"]) == ["gate"]


def test_the_probe_workflow_probes_both_agents_and_keeps_each_report() -> None:
    workflow = by_name("resume-probe.yml")
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["agent"] == ["claude-code", "codex"]
    assert job["strategy"]["fail-fast"] is False
    (args, env), *rest = run_invocations(workflow)
    assert not rest and args == ["probe", "--target=app"]
    assert env["PINBOT_AGENTS"] == "${{ matrix.agent }}"
    report = Path(env["PINBOT_REPORT"]).name
    (upload,) = [s for _, s in steps(workflow) if "upload-artifact" in s.get("uses", "")]
    assert Path(upload["with"]["path"]).name == report
    assert "matrix.agent" in upload["with"]["name"]
    assert "cancelled()" in upload["if"]  # a failed probe's report is the one worth reading


# --- the docs' caller example ------------------------------------------------------------------


def readme_workflow_examples() -> list[dict[str, Any]]:
    text = (ROOT / "docs" / "guides" / "github.md").read_text(encoding="utf-8")
    section = text.split("## The workflows", 1)[1]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    return [YAML(typ="safe", pure=True).load(block) for block in blocks]


def test_the_readme_shows_a_deploy_job_that_needs_the_gate() -> None:
    examples = [e for e in readme_workflow_examples() if isinstance(e, dict) and "jobs" in e]
    assert examples, "docs/guides/github.md: no workflow example in ## The workflows"
    jobs = {name: job for e in examples for name, job in e["jobs"].items()}
    called = {job["uses"].rsplit("/", 1)[1] for job in jobs.values() if "uses" in job}
    assert {"predeploy-gate.yml", "resume-probe.yml"} <= called
    assert called <= {p.name for p in ROOT.glob("workflows/*.yml")}
    (gate,) = [n for n, j in jobs.items() if j.get("uses", "").endswith("predeploy-gate.yml")]
    deploy = [j for j in jobs.values() if gate in _needs(j) and "steps" in j]
    assert deploy, "docs/guides/github.md: no deploy job needs the gate"
    used = set(re.findall(rf"needs\.{gate}\.outputs\.(\w+)", str(deploy)))
    assert used and used <= GATE_OUTPUTS


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)
