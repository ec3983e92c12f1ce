"""`pinbot probe`: prove that a recycled Claude Code / Codex conversation resumes natively.

Exit 0 only when every agent resumed natively, 1 when one fell back to a bootstrap prompt or lost
its context, 3 when the target failed (a step errored, the server refused the key or did not
answer), 2 for bad usage.

Agents run concurrently when nothing they share can be disturbed, else one after another:
- `--target app`: the ACP agent is chosen in the account's settings, so one API key means one
  agent at a time. Concurrent only when every agent has its own key in
  `PINBOT_APP_API_KEY_<AGENT>` (e.g. `PINBOT_APP_API_KEY_CLAUDE_CODE`).
- `--image` / `--server-command` / `--agent-server-url`: every agent's conversation lives on one
  server (pinbot's, or the one at the URL), so they are planted together, the server is recycled
  once per leg, and they are asked together (`pinbot.probe.run.Group`). The URL's session key
  comes from `PINBOT_SESSION_API_KEY`.
With `--from-image` / `--from-server-command` the conversations are born on the from side and
the recycle moves them to the candidate; `--rollback` moves them back (`pinbot.probe.legs`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pinbot import cleanup
from pinbot.commands import Context
from pinbot.errors import UsageError
from pinbot.options import ProbeOptions
from pinbot.probe.http import AppApi
from pinbot.probe.legs import CANDIDATE, FROM, LegPlan, leg_plans
from pinbot.probe.run import AgentReport, Group, probe_all
from pinbot.probe.targets.agent_server import Server, ServerHome, ServerStage
from pinbot.probe.targets.app import AppHome, AppStage, Recycle
from pinbot.probe.targets.base import Home, agent_settings, substitute
from pinbot.probe.targets.command import CommandServer
from pinbot.probe.targets.url import UrlServer
from pinbot.probe.verdict import worst
from pinbot.report.probe import render_markdown, render_text

AGENT_RE = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
EXIT = {"native": 0, "bootstrap": 1, "lost": 1, "unsupported": 1, "error": 3}


@dataclass
class Plan:
    target: str
    agents: list[str]
    timeout: float
    legs: list[LegPlan] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    shared: list[Server] = field(default_factory=list)
    concurrent: bool = False
    image: dict[str, Any] | None = None
    from_image: dict[str, Any] | None = None


def run(ctx: Context, args: ProbeOptions) -> int:
    agents = parse_agents(args.agents, ctx.settings.probe.agents)
    timeout = args.timeout if args.timeout is not None else ctx.settings.probe.timeout
    if timeout <= 0:
        raise UsageError(f"--timeout {timeout}: give a positive number of seconds")
    plan = Plan(
        args.target, agents, timeout, leg_plans(_from_flag(args) is not None, args.rollback)
    )
    if args.target == "acp":
        return _report(ctx, args, plan, [_run_acp(ctx, args, plan)])
    if args.target == "app":
        _plan_app(ctx, args, plan)
    else:
        _plan_agent_server(ctx, args, plan)
    ctx.out.progress(f"probing {', '.join(agents)} on {_describe(args)}")
    try:
        reports = probe_all(plan.groups, plan.legs, timeout, ctx.out.progress, plan.concurrent)
    finally:
        for server in plan.shared:
            server.stop(args.keep)
    return _report(ctx, args, plan, reports)


def parse_agents(text: str | None, default: list[str]) -> list[str]:
    agents = [a.strip() for a in text.split(",")] if text else list(default)
    bad = [a for a in agents if not AGENT_RE.match(a)]
    if bad or not agents:
        raise UsageError(
            f"--agents {text!r}: name ACP agents as a comma-separated list, e.g. claude-code,codex"
        )
    if len(set(agents)) != len(agents):
        raise UsageError(f"--agents {text!r} names an agent twice")
    return agents


# Which from flag goes with which candidate flag.
FROM_FLAGS = {
    "--from-image": "--image",
    "--from-server-command": "--server-command",
    "--from-acp-command": "--target acp",
}


def _from_flag(args: ProbeOptions) -> str | None:
    """The from side's flag, checked against the candidate's; --rollback needs one."""
    given = _given(
        ("--from-image", args.from_image),
        ("--from-server-command", args.from_server_command),
        ("--from-acp-command", args.from_acp_command),
    )
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)}: give one from side (the pin today)")
    if args.rollback and not given:
        raise UsageError(
            "--rollback moves a conversation back to the from side: name it with --from-image, "
            "--from-server-command or --from-acp-command"
        )
    return given[0] if given else None


def _given(*flags: tuple[str, str | None]) -> list[str]:
    """The flags, of those named with their values, that were given."""
    return [flag for flag, value in flags if value]


def _check_from(args: ProbeOptions, candidate: str) -> None:
    found = _from_flag(args)
    if found is not None and FROM_FLAGS[found] != candidate:
        raise UsageError(f"{found} goes with {FROM_FLAGS[found]} (the candidate), not {candidate}")


def _describe(args: ProbeOptions) -> str:
    if args.target == "app":
        return f"the app server {args.app_url}"
    return f"an agent server ({_server_flag(args)})"


def _server_flag(args: ProbeOptions) -> str:
    given = _given(
        ("--image", args.image),
        ("--server-command", args.server_command),
        ("--agent-server-url", args.agent_server_url),
    )
    if len(given) != 1:
        raise UsageError(
            "--target agent-server needs exactly one of --image, --server-command or "
            f"--agent-server-url (got {', '.join(given) or 'none'})"
        )
    return given[0]


def _acp_command(args: ProbeOptions, workdir: str | None) -> list[str] | None:
    if not args.acp_command:
        return None
    if workdir is None and "{workdir}" in args.acp_command:
        raise UsageError("--acp-command: {workdir} is only known with --target agent-server")
    return substitute(args.acp_command, workdir=workdir or "")


def _plan_app(ctx: Context, args: ProbeOptions, plan: Plan) -> None:
    if not args.app_url:
        raise UsageError("--target app needs --app-url URL (or PINBOT_APP_URL)")
    if args.server_command or args.agent_server_url or args.image:
        raise UsageError(
            "--image, --server-command and --agent-server-url go with --target agent-server"
        )
    _check_from(args, "--target app")
    recycle = args.recycle or ctx.settings.probe.recycle
    if recycle not in ("pause", "restart", "command"):
        raise UsageError(
            f"probe recycle {recycle!r} in {ctx.settings.source}: use pause, restart or command"
        )
    if (recycle == "command") != bool(args.recycle_command):
        raise UsageError(
            "--recycle command needs --recycle-command CMD, and --recycle-command goes with "
            "--recycle command (or --target agent-server --agent-server-url)"
        )
    keys = {agent: _app_key(agent) for agent in plan.agents}
    for key in keys.values():
        ctx.out.mask(key)
    timeout = ctx.settings.http_timeout
    auth = args.app_auth or "bearer"
    apis = {agent: AppApi(args.app_url, key, timeout, auth) for agent, key in keys.items()}
    for api in {id(a): a for a in apis.values()}.values():
        api.settings()  # fail fast (exit 3) on a refused key or a server that does not answer
    plan.concurrent = len(set(keys.values())) == len(keys)
    for agent in plan.agents:
        settings = agent_settings(agent, _acp_command(args, None))
        home = AppHome(
            apis[agent],
            agent,
            settings,
            Recycle(recycle, args.recycle_command),
            plan.timeout,
            ctx.out.progress,
            ctx.out.mask,
            args.keep,
        )
        plan.groups.append(Group(AppStage(home), [home]))


def _app_key(agent: str) -> str:
    own = os.environ.get("PINBOT_APP_API_KEY_" + agent.upper().replace("-", "_"))
    key = own or os.environ.get("PINBOT_APP_API_KEY")
    if not key:
        raise UsageError(
            "--target app needs an API key in PINBOT_APP_API_KEY (never on the command line)"
        )
    return key


def _plan_agent_server(ctx: Context, args: ProbeOptions, plan: Plan) -> None:
    flag = _server_flag(args)
    _check_from(args, flag)
    _acp_command(args, "")  # bad usage before anything is started
    if args.recycle_command and flag != "--agent-server-url":
        raise UsageError("--recycle-command goes with --agent-server-url")
    if flag == "--agent-server-url":
        _plan_url(ctx, args, plan)
        return
    server = _own_server(ctx, args, plan, flag)
    plan.shared.append(server)
    _homes(args, plan, server)


def _homes(args: ProbeOptions, plan: Plan, server: Server) -> None:
    """Every agent's conversation on the one server; a second one is born beside it."""
    homes: list[Home] = [
        ServerHome(
            server, agent, agent_settings(agent, _acp_command(args, server.working_dir)), args.keep
        )
        for agent in plan.agents
    ]
    plan.groups.append(Group(ServerStage(server), homes, born=_again))


def _again(home: Home) -> Home:
    assert isinstance(home, ServerHome)  # only agent-server groups are born again
    return home.again()


def _own_server(ctx: Context, args: ProbeOptions, plan: Plan, flag: str) -> Server:
    side = plan.legs[0].source
    if flag == "--server-command":
        assert args.server_command is not None  # _server_flag chose --server-command
        templates = {CANDIDATE: args.server_command}
        if args.from_server_command:
            templates[FROM] = args.from_server_command
        return CommandServer(templates, side, plan.timeout, ctx.out.progress, ctx.out.mask)
    from pinbot.probe.targets.image import DockerServer

    images = {CANDIDATE: _image(args, args.image)}
    plan.image = images[CANDIDATE].identity()
    if args.from_image:
        images[FROM] = _image(args, args.from_image)
        plan.from_image = images[FROM].identity()
    memory = ctx.settings.openapi.memory  # the same bound as any other candidate container
    return DockerServer(images, side, memory, plan.timeout, ctx.out.progress, ctx.out.mask)


def _image(args: ProbeOptions, ref: str | None) -> Any:
    from pinbot.docker import Image

    assert ref is not None  # _server_flag chose --image
    return Image(ref, args.registry_url)


def _plan_url(ctx: Context, args: ProbeOptions, plan: Plan) -> None:
    if not args.recycle_command:
        raise UsageError("--agent-server-url needs --recycle-command CMD to recycle the server")
    key = os.environ.get("PINBOT_SESSION_API_KEY")
    if key:
        ctx.out.mask(key)
    assert args.agent_server_url is not None  # _server_flag chose --agent-server-url
    server = UrlServer(
        args.agent_server_url,
        args.recycle_command,
        key,
        plan.timeout,
        ctx.out.progress,
        http_timeout=ctx.settings.http_timeout,
    )
    plan.shared.append(server)
    server.api.server_info()  # fail fast (exit 3) when nothing answers at the URL
    _homes(args, plan, server)


def _run_acp(ctx: Context, args: ProbeOptions, plan: Plan) -> AgentReport:
    """`--target acp`: pinbot is the agent's ACP client, in a fresh working directory."""
    from pinbot.probe.targets.acp import Rig, probe_acp

    if not args.acp_command:
        raise UsageError("--target acp needs --acp-command CMD (the ACP agent to run over stdio)")
    if args.image or args.server_command or args.agent_server_url or args.app_url:
        raise UsageError("--target acp runs the agent itself: drop the server and app flags")
    _check_from(args, "--target acp")
    workdir = cleanup.temp_dir("pinbot-probe-")
    try:
        commands = {CANDIDATE: substitute(args.acp_command, workdir=str(workdir))}
        if args.from_acp_command:
            commands[FROM] = substitute(args.from_acp_command, workdir=str(workdir))
        (workdir / "workspace").mkdir()
        rig = Rig(commands, workdir / "workspace", dict(os.environ), workdir / "agent.log",
                  plan.timeout, ctx.out.progress)  # fmt: skip
        name = _acp_name(args, commands[CANDIDATE])
        ctx.out.progress(f"probing the ACP agent {name} over stdio")
        return probe_acp(name, rig, plan.legs)
    finally:
        cleanup.untrack(workdir)  # --keep: the user's to look at; else gone now
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _acp_name(args: ProbeOptions, command: list[str]) -> str:
    """The agent's name in the report: the one --agents gives, else its program's."""
    if args.agents:
        named = parse_agents(args.agents, [])
        if len(named) > 1:
            raise UsageError(f"--agents {args.agents!r}: --target acp probes one agent")
        return named[0]
    program = Path(command[0]).name if command else ""
    return program if AGENT_RE.match(program) else "acp-agent"


def _report(ctx: Context, args: ProbeOptions, plan: Plan, reports: list[AgentReport]) -> int:
    verdict = worst(r.verdict for r in reports)
    data = report_json(plan, reports, verdict)
    if args.report:
        _write(Path(args.report), ctx.out.redact(json.dumps(data, indent=2) + "\n"))
    ctx.out.result(data, render_text(data))
    errors = [f"{r.agent}: {r.step}: {r.error}" for r in reports if r.error]
    ctx.out.github(outputs={"verdict": verdict}, summary=render_markdown(data), errors=errors)
    return EXIT[verdict]


def report_json(plan: Plan, reports: list[AgentReport], verdict: str) -> dict[str, Any]:
    shas = {r.build_git_sha for r in reports if r.build_git_sha}
    return {
        "verdict": verdict,
        "target": plan.target,
        "build_git_sha": shas.pop() if len(shas) == 1 else None,
        "image": plan.image,
        "from_image": plan.from_image,
        "rollback": len(plan.legs) > 1,
        "agents": [r.to_json() for r in reports],
    }


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--report {path}: cannot write it ({exc.strerror})") from None
