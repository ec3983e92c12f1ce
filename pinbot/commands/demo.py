"""`pinbot demo`: the whole pipeline on a local world, no network, no tokens.

The world (`pinbot.demo.world`) is built in a work directory: `--workdir DIR` (kept, and reused
by the next demo there, which then does only what is left), else a temporary one removed at the
end unless `--keep`. Each step is the real command, called with its typed options; a step that
does not succeed ends the demo with that step's own exit code.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pinbot import cleanup, options
from pinbot.commands import Context, cut, gate, probe, scan
from pinbot.config import Settings
from pinbot.demo import world
from pinbot.demo.world import IMAGE, PIN, DemoWorld
from pinbot.errors import PinbotError
from pinbot.options import DemoOptions
from pinbot.report import Output
from pinbot.report.probe import probe_notes
from pinbot.report.scan import why_json


class StepFailed(PinbotError):
    """A step did not succeed: the demo ends with the step's own exit code."""

    def __init__(self, step: str, code: int) -> None:
        super().__init__(f"demo step {step} exited {code}; its messages are above")
        self.exit_code = code


class StepOutput(Output):
    """A step's output: progress and errors go to the demo's, the result is kept as data."""

    def __init__(self, parent: Output) -> None:
        self.parent = parent
        super().__init__()
        self.configure(json_mode=True, verbose=parent.verbose)
        self.data: dict[str, Any] | None = None

    def mask(self, secret: str) -> None:
        self.parent.mask(secret)
        super().mask(secret)

    def progress(self, message: str) -> None:
        self.parent.progress(message)

    def error(self, message: str) -> None:
        self.parent.error(message)

    def result(self, data: dict[str, Any], text: str) -> None:
        self.data = data

    def github(self, *args: Any, **kwargs: Any) -> None:
        """The demo's steps write no workflow outputs."""


def run(ctx: Context, asked: DemoOptions) -> int:
    started = time.monotonic()
    workdir = _workdir(asked)
    world.claim(workdir)
    again = world.reused(workdir)
    if again:
        ctx.out.progress(f"reusing the local world in {workdir}: the steps do only what is left")
    else:
        ctx.out.progress(f"building a local world in {workdir}")
    cache = workdir / "cache"  # the world's own: its steps never touch the user's cache
    with world.own_cache(cache), world.built(workdir, again) as built:
        ctx.out.progress(f"published {built.tags} tags; OpenHands and deploy remotes in {workdir}")
        summary = _pipeline(dataclasses.replace(ctx, cache_dir=cache), built)
        summary["kept"] = asked.workdir is not None or asked.keep
        ctx.out.result(summary, _summary_text(summary, time.monotonic() - started))
        if asked.serve:
            _serve(ctx, built)
    return 0


def _serve(ctx: Context, built: DemoWorld) -> None:
    """Keep the world up for the user's own commands: what to export, then wait for Ctrl-C."""
    ctx.out.progress("the world is up; in another shell, point pinbot at it with:")
    for name, value in serving_env(built).items():
        ctx.out.progress(f"  export {name}={value}")
    ctx.out.progress("then run, e.g.: pinbot cut --latest --openhands "
                     f"{built.openhands.url} --openhands-branch {built.openhands.branch} "
                     f"--deploy {built.deploy.url} --dry-run")  # fmt: skip
    ctx.out.progress("Ctrl-C stops it")
    while not cleanup.STOP.wait(1):
        pass
    raise KeyboardInterrupt


def serving_env(built: DemoWorld) -> dict[str, str]:
    """The PINBOT_* settings that send pinbot's traffic to this world's local services."""
    return {
        "PINBOT_REGISTRY_URL": built.endpoint,
        "PINBOT_SDK": str(built.sdk),
        "PINBOT_INDEX_URL": built.index_url,
    }


def _workdir(asked: DemoOptions) -> Path:
    """`--workdir`, else a temporary directory that goes at the end of the run (or, after a
    SIGKILL, at the next pinbot's start) unless `--keep`."""
    if asked.workdir is not None:
        return asked.workdir
    workdir = cleanup.temp_dir("pinbot-demo-")
    if asked.keep:
        cleanup.untrack(workdir)  # the user's to look at
    return workdir


def _pipeline(ctx: Context, built: DemoWorld) -> dict[str, Any]:
    images = {
        "image": IMAGE,
        "sdk": str(built.sdk),
        "registry_url": built.endpoint,
        "detectors": ("source", "provenance"),
    }
    found = _scan(ctx, built, images)
    tag = found["selected"]["tag"]
    pinned = _cut(ctx, built, images, tag)
    branch = pinned["deploy"]["branch"]
    gated = _gate(ctx, built, images, branch)
    report = built.workdir / "probe-report.json"
    probed = _probe(ctx, built, tag, report)
    return {
        "workdir": str(built.workdir),
        "selected": found["selected"],
        "openhands_commit": pinned["openhands"]["commit"],
        "openhands_branch": built.openhands.branch,
        "openhands_head": pinned["openhands"].get("head") or built.openhands.branch,
        "deploy_branch": branch,
        "gate": gated["verdict"],
        "probe": probed["verdict"],
        "probe_report": str(report),
        "checks": len(gated["checks"]),
    }


def _scan(ctx: Context, built: DemoWorld, images: dict[str, Any]) -> dict[str, Any]:
    oh = built.openhands
    ctx.out.progress(
        "step 1/4 scan: which newest tag carries the blob routes, is attested to its "
        "source, and was not rolled back?"
    )
    given = {**images, "current": PIN, "openhands": oh.url, "openhands_branch": oh.branch}
    found: dict[str, Any] = _step(ctx, "1/4", "scan", given)
    for candidate in found["candidates"]:
        why = why_json(candidate["evidence"])
        ctx.out.progress(f"  {candidate['tag']:<15} {candidate['verdict']:<5} {why}")
    return found


def _cut(ctx: Context, built: DemoWorld, images: dict[str, Any], tag: str) -> dict[str, Any]:
    oh = built.openhands
    ctx.out.progress(f"step 2/4 cut: pin {tag} on {oh.branch}, point the deploy at it")
    given = {
        "tag": tag,
        "openhands": oh.url,
        "openhands_branch": oh.branch,
        "deploy": built.deploy.url,
        "index_url": built.index_url,  # built.settings holds it, as the CLI would make them
        "push": True,
        "require_commit": oh.backend_commit,
        **images,
    }
    pinned: dict[str, Any] = _step(ctx, "2/4", "cut", given, built.settings)
    for change in pinned["changes"]:
        ctx.out.progress(f"  {change['repo']}: {change['file']}:{change['line']}: {change['new']}")
    return pinned


def _gate(ctx: Context, built: DemoWorld, images: dict[str, Any], branch: str) -> dict[str, Any]:
    oh = built.openhands
    ctx.out.progress(
        "step 3/4 gate: what would the deploy branch run, and is it the pin we proved?"
    )
    given = {
        "deploy": f"{built.deploy.url}@{branch}",
        "openhands": oh.url,
        "require_commit": oh.backend_commit,
        **images,
    }
    gated: dict[str, Any] = _step(ctx, "3/4", "gate", given)
    for check in gated["checks"]:
        ctx.out.progress(f"  {'ok ' if check['ok'] else 'NO '} {check['name']}: {check['detail']}")
    return gated


def _probe(ctx: Context, built: DemoWorld, tag: str, report: Path) -> dict[str, Any]:
    ctx.out.progress(
        f"step 4/4 probe: do a Claude and a Codex conversation survive the move from {PIN} "
        f"to {tag}, and the way back?"
    )
    given = {
        "target": "agent-server",
        "server_command": world.server_command(built.shas[tag], tag),
        "from_server_command": world.server_command(built.shas.get(PIN, built.shas[tag]), PIN),
        "rollback": True,
        "agents": "claude-code,codex",
        "timeout": 60,
        "report": report,
    }
    probed: dict[str, Any] = _step(ctx, "4/4", "probe", given)
    for agent in probed["agents"]:
        ctx.out.progress(f"  {agent['agent']:<12} {agent['verdict']}")
    ctx.out.progress(f"the pin PR's probe part (pinbot cut --probe-report {report}):")
    for line in "\n".join(probe_notes(probed)).strip("\n").splitlines():
        ctx.out.progress(f"  {line}")
    return probed


# The commands the demo's steps run, called directly with their typed options.
RUNS: dict[str, Callable[[Context, Any], int]] = {
    "scan": scan.run,
    "cut": cut.run,
    "gate": gate.run,
    "probe": probe.run,
}


def _step(
    ctx: Context, step: str, command: str, given: dict[str, Any], settings: Settings | None = None
) -> Any:
    """Run `command` as `pinbot --json COMMAND` with `given` would, on the world's own settings:
    the options are built through the table as the CLI builds them (pinbot.options), and the
    command line shown is the one they say. Its result, or StepFailed with its exit code."""
    settings = settings or Settings()
    ctx.out.progress("$ pinbot --json " + shlex.join(options.argv(command, given)))
    opts = options.build(command, options.typed(command, given), settings)
    out = StepOutput(ctx.out)
    code = RUNS[command](Context(settings, out, ctx.cache_dir, ctx.use_cache), opts)
    if code != 0 or out.data is None:
        raise StepFailed(f"{step} {command}", code)
    return out.data


def _summary_text(summary: dict[str, Any], seconds: float) -> str:
    selected, commit = summary["selected"], summary["openhands_commit"][:12]
    oh_branch, branch = summary["openhands_branch"], summary["deploy_branch"]
    head = summary["openhands_head"]
    return f"""\
pinbot demo: success in {seconds:.0f}s
  scan   {selected["tag"]} is the newest tag carrying the blob routes ({selected["digest"][:19]})
  cut    OpenHands {oh_branch}: {commit} on {head} pins it at every site;
         deploy branch {branch} sets OPENHANDS_SHA to that commit
  gate   {summary["gate"]}: {summary["checks"]} checks
  probe  {summary["probe"]}: claude-code and codex kept their ACP session across a recycle
{_where_to_look(summary)}"""


def _where_to_look(summary: dict[str, Any]) -> str:
    if not summary["kept"]:
        return "The world is removed; run `pinbot demo --workdir DIR` (or --keep) to look at it."
    remotes = Path(summary["workdir"]) / "remotes"
    return f"""\
Where to look:
  git -C {remotes / "openhands.git"} show {summary["openhands_commit"][:12]}
  git -C {remotes / "deploy.git"} diff main {summary["deploy_branch"]}
  {summary["probe_report"]}"""
