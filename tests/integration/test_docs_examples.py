"""Every example in README.md and docs/ runs, or names the test that runs it.

Each code block there is preceded by a marker, `<!-- example: KIND ... -->`:

- `run`: each `pinbot` line runs against the demo world and ends 0 or 1 (a verdict), never 2, 3
  or 4 (`> FILE` at its end writes its output there, as the shell would). The lines are run as
  written: `PINBOT_REGISTRY_URL`, `PINBOT_SDK` and `PINBOT_INDEX_URL` send the traffic to the
  world's local registry, SDK clone and package index (the names written into files stay
  `ghcr.io/openhands/agent-server`), `../OpenHands` and `../deploy` are clones of its remotes,
  and `$BACKEND_SHA` is its backend commit.
- `deploy-workflow`: saved as the deploy repository's workflow, `OPENHANDS_SHA` set to a commit
  pinbot cut, the gate passes.
- `json COMMAND`: every key shown is in what the command prints against the demo world, and every
  key it prints at the top is shown.
- `config`: loads as a `pinbot.toml`. `synopsis`: `pinbot --help` lists each flag it names.
- `action-step`: its inputs and the outputs it reads are the action's. `action-pin`,
  `pinbot-version`: the commit it names is in this repository's history and carries the action.
- `covered-by PATH...`: those tests run it (the paths exist). `output ...`: a command's output,
  shown (`--help` and the benchmark tests run the commands).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from ruamel.yaml import YAML

from pinbot import config
from pinbot.demo import repos, world
from testing.cli import pinbot as run_pinbot

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"run", "deploy-workflow", "json", "config", "synopsis", "action-step", "action-pin",
         "pinbot-version", "covered-by", "output"}  # fmt: skip
BLOCK = re.compile(
    r"(?:^<!-- example: (?P<mark>[^\n]*?) -->\n)?^```(?P<lang>\S*)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
TAG = "1.29.0-python"
SHA = re.compile(r"OWNER/pinbot@([0-9a-f]{40})\b")


class Example(NamedTuple):
    page: str
    kind: str
    args: list[str]
    body: str

    def __str__(self) -> str:
        return f"{self.page}:{self.kind}:{self.body.splitlines()[0][:40]}"


def pages() -> list[Path]:
    """README.md and the docs' own pages (not the changelog's link, not the generated reference)."""
    docs = [p for p in sorted((ROOT / "docs").rglob("*.md")) if not p.is_symlink()]
    return [ROOT / "README.md", *(p for p in docs if p.name != "cli.md")]


def examples() -> list[Example]:
    found = []
    for page in pages():
        for block in BLOCK.finditer(page.read_text(encoding="utf-8")):
            kind, *args = (block["mark"] or "unmarked").split()
            found.append(Example(str(page.relative_to(ROOT)), kind, args, block["body"]))
    return found


def of_kind(kind: str) -> list[Example]:
    return [e for e in examples() if e.kind == kind]


def test_every_code_block_is_marked_with_how_it_is_checked() -> None:
    unmarked = [str(e) for e in examples() if e.kind not in KINDS]
    assert unmarked == [], "mark each block <!-- example: KIND -->: " + ", ".join(sorted(KINDS))
    fences = sum(p.read_text().count("\n```") for p in pages())
    assert fences == 2 * len(examples()), "a fence the marker pattern does not see"


# --- the demo world the examples run against --------------------------------------------------


class Served(NamedTuple):
    root: Path  # holds OpenHands/, deploy/, software-agent-sdk/ and work/ (the examples' cwd)
    built: world.DemoWorld
    pinned: dict[str, Any]  # `pinbot --json cut --push` of TAG, as the world's first pin

    @property
    def env(self) -> dict[str, str]:
        return {
            "PINBOT_REGISTRY_URL": self.built.endpoint,
            "PINBOT_SDK": str(self.built.sdk),
            "PINBOT_INDEX_URL": self.built.index_url,
            "BACKEND_SHA": self.built.openhands.backend_commit,
        }


def git(*args: str | Path) -> str:
    done = subprocess.run(["git", *map(str, args)], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def local_clone(remote: Path, path: Path) -> Path:
    """A working clone with every branch of `remote` as a local branch, as a user's checkout."""
    git("clone", "-q", remote, path)
    remote_branches = git("-C", path, "for-each-ref", "--format=%(refname:strip=3)",
                          "refs/remotes/origin")  # fmt: skip
    for ref in remote_branches.split():
        if ref not in ("HEAD", "main"):
            git("-C", path, "branch", "-q", ref, f"origin/{ref}")
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("docs-world")
    workdir = root / "world"
    world.claim(workdir)
    with world.own_cache(workdir / "cache"), world.built(workdir, False) as built:
        local_clone(built.openhands.remote, root / "OpenHands")
        git("-C", root / "OpenHands", "branch", "-q", "my-backend-change", built.openhands.branch)
        local_clone(built.deploy.remote, root / "deploy")
        (root / "software-agent-sdk").symlink_to(built.sdk)
        (root / "work").mkdir()
        served = Served(root, built, {})
        with pytest.MonkeyPatch.context() as env:
            for name, value in served.env.items():
                env.setenv(name, value)
            cut = run_pinbot("--json", "cut", "--tag", TAG, "--openhands", str(root / "OpenHands"),
                             "--openhands-branch", built.openhands.branch,
                             "--deploy", str(root / "deploy"), "--push")  # fmt: skip
        assert cut.code == 0, cut.err
        yield served._replace(pinned=cut.data)


@pytest.fixture
def in_world(served: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
    for name, value in served.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(served.root / "work")
    return served


def pinbot_lines(body: str) -> list[list[str]]:
    """Each `pinbot ...` command of a shell block: continuations joined, comments dropped,
    `$VARIABLES` expanded."""
    lines = body.replace("\\\n", " ").splitlines()
    words = [shlex.split(line, comments=True) for line in lines]
    return [[os.path.expandvars(w) for w in line[1:]] for line in words if line[:1] == ["pinbot"]]


@pytest.mark.parametrize("example", of_kind("run"), ids=str)
def test_a_command_example_runs_against_the_demo_world(
    capsys, in_world: Served, example: Example
) -> None:
    commands = pinbot_lines(example.body)
    assert commands, f"{example}: no pinbot command in a `run` block"
    for argv in commands:
        into = argv[-1] if argv[-2:-1] == [">"] else None  # `pinbot ... > FILE`
        code, out, err = run_pinbot(*(argv[:-2] if into else argv))
        assert code in (0, 1), f"pinbot {shlex.join(argv)} exited {code}:\n{err[-2000:]}"
        if into:
            Path(into).write_text(out, encoding="utf-8")


# --- the deploy workflow --------------------------------------------------------------------


def test_the_deploy_workflow_example_passes_the_gate(capsys, in_world: Served) -> None:
    (example,) = of_kind("deploy-workflow")
    sha = in_world.pinned["openhands"]["commit"]
    placeholder = re.search(r"OPENHANDS_SHA: ([0-9a-f]{40})", example.body)
    assert placeholder, "the example sets OPENHANDS_SHA in its top-level env"
    workflow = example.body.replace(placeholder[1], sha)
    deploy = in_world.root / "deploy"
    repos.add_commit(deploy, "docs-example", {repos.WORKFLOW: workflow}, "Deploy as the docs say",
                     start=git("-C", deploy, "rev-parse", "main"))  # fmt: skip

    code, out, err = run_pinbot("--json", "gate", "--deploy", f"{deploy}@docs-example",
                                "--openhands", str(in_world.root / "OpenHands"))  # fmt: skip

    assert code == 0, err
    gated = json.loads(out)
    assert (gated["verdict"], gated["openhands_sha"], gated["tag"]) == ("pass", sha, TAG)


# --- JSON output ----------------------------------------------------------------------------


def outputs(served: Served) -> dict[str, list[str]]:
    """The argv whose `--json` document each `json COMMAND` block shows."""
    oh, deploy = served.root / "OpenHands", served.root / "deploy"
    branch = served.built.openhands.branch
    server = world.server_command(served.built.shas[TAG])
    return {
        "scan": ["scan", "--current", world.PIN, "--openhands", str(oh), "--openhands-branch",
                 branch],
        "check": ["check", TAG],
        "cut": ["cut", "--tag", TAG, "--openhands", str(oh), "--openhands-branch", branch,
                "--deploy", str(deploy), "--dry-run"],
        "gate": ["gate", "--deploy", f"{deploy}@{served.pinned['deploy']['branch']}",
                 "--openhands", str(oh)],
        "probe": ["probe", "--target", "agent-server", "--server-command", server,
                  "--agents", "claude-code", "--timeout", "60"],
        "demo": ["demo"],
    }  # fmt: skip


def shown_keys(shown: Any, real: Any, where: str) -> list[str]:
    """Keys the docs show that the real document lacks, at every level the two share."""
    if isinstance(shown, list) and shown and isinstance(real, list) and real:
        return shown_keys(shown[0], real[0], where + "[]")
    if not (isinstance(shown, dict) and isinstance(real, dict)):
        return []
    missing = [f"{where}.{key}" for key in shown if key not in real]
    for key in shown.keys() & real.keys():
        missing += shown_keys(shown[key], real[key], f"{where}.{key}")
    return missing


@pytest.mark.parametrize("example", of_kind("json"), ids=str)
def test_a_json_schema_shows_what_the_command_prints(
    capsys, in_world: Served, example: Example
) -> None:
    (command,) = example.args
    shown = json.loads(example.body)
    code, out, err = run_pinbot("--json", *outputs(in_world)[command])

    assert code == 0, err
    real = json.loads(out)
    assert shown_keys(shown, real, command) == []
    assert sorted(real.keys() - shown.keys()) == [], f"{command}: printed but not documented"


# --- the rest: no world needed --------------------------------------------------------------


@pytest.mark.parametrize("example", of_kind("config"), ids=str)
def test_a_config_example_loads(tmp_path: Path, example: Example) -> None:
    path = tmp_path / "pinbot.toml"
    path.write_text(example.body, encoding="utf-8")

    settings = config.load(path)

    assert settings.image == "ghcr.io/openhands/agent-server"


@pytest.mark.parametrize("example", of_kind("synopsis"), ids=str)
def test_a_synopsis_names_only_flags_pinbot_has(capsys, example: Example) -> None:
    code, out, _ = run_pinbot("--help")
    assert code == 0
    flags = set(re.findall(r"--[a-z][a-z-]+", example.body))
    assert flags and {flag for flag in flags if flag not in out} == set()


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe", pure=True).load(ROOT / "action.yml")
    return loaded


@pytest.mark.parametrize("example", of_kind("action-step"), ids=str)
def test_an_action_step_uses_the_actions_inputs_and_outputs(example: Example) -> None:
    steps = YAML(typ="safe", pure=True).load(example.body)
    (step,) = [s for s in steps if "pinbot@" in s.get("uses", "")]
    assert set(step["with"]) <= set(action()["inputs"])
    read = set(re.findall(rf"steps\.{step['id']}\.outputs\.(\w+)", example.body))
    assert read and read <= set(action()["outputs"])


def pinned_shas() -> list[tuple[str, str, str]]:
    """(where, sha, the `# vX.Y.Z` beside it) for every commit of pinbot that a workflow, the
    action or an action-pin / pinbot-version example names."""
    texts = [
        (str(p.relative_to(ROOT)), p.read_text()) for p in sorted(ROOT.glob("workflows/*.yml"))
    ]
    texts += [(str(e), e.body) for e in of_kind("action-pin") + of_kind("pinbot-version")]
    found = []
    for where, text in texts:
        for line in text.splitlines():
            for sha in SHA.findall(line):
                version = re.search(r"# v(\d+\.\d+\.\d+)", line)
                found.append((where, sha, version[1] if version else ""))
    return found


def test_the_workflows_and_the_docs_pin_pinbot_by_commit() -> None:
    wheres = {where.split(":")[0] for where, _, _ in pinned_shas()}
    assert {"workflows/pin-watch.yml", "docs/reference/versions.md"} <= wheres


@pytest.mark.parametrize("pinned", pinned_shas(), ids=lambda p: f"{p[0]}@{p[1][:7]}")
def test_a_pinned_commit_is_in_history_and_carries_the_action(pinned: tuple[str, str, str]) -> None:
    where, sha, version = pinned
    listed = git("-C", ROOT, "ls-tree", "--name-only", sha)
    assert {"action.yml", "pyproject.toml"} <= set(listed.split()), f"{where}: {sha}"
    merged = subprocess.run(["git", "-C", str(ROOT), "merge-base", "--is-ancestor", sha, "HEAD"])
    assert merged.returncode == 0, f"{where}: {sha} is not in main's history"
    if version:
        init = git("-C", ROOT, "show", f"{sha}:pinbot/__init__.py")
        assert f'__version__ = "{version}"' in init, f"{where}: {sha} is not v{version}"


def test_the_pinbot_version_example_is_a_requirement_for_pinbot_at_a_commit() -> None:
    from packaging.requirements import Requirement

    (example,) = of_kind("pinbot-version")
    value = YAML(typ="safe", pure=True).load(example.body)["with"]["pinbot-version"]
    requirement = Requirement(value)
    assert requirement.name == "pinbot"
    assert requirement.url and requirement.url.startswith("git+https://")


@pytest.mark.parametrize("example", of_kind("covered-by"), ids=str)
def test_a_covered_example_names_tests_that_exist(example: Example) -> None:
    assert example.args, f"{example}: covered-by names no test"
    assert [a for a in example.args if not (ROOT / a).exists()] == []


def test_what_the_docs_say_ci_runs_is_what_ci_runs() -> None:
    """The README's two commands are the ones `.ci/run` calls, in that order."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    blocks = [e for e in of_kind("covered-by") if e.args == [".ci/run"]]
    assert any(e.page == "README.md" for e in blocks)
    for example in blocks:
        commands = [line.split("#")[0].strip() for line in example.body.splitlines()]
        commands = [c for c in commands if c]
        assert commands and all(c in ci for c in commands), example
        assert [ci.index(c) for c in commands] == sorted(ci.index(c) for c in commands)
