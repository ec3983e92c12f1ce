"""The real vendor agents under the real agent server, offline, in a network namespace.

`openhands-agent-server` (PyPI, Python 3.12) runs `claude-agent-acp` / `codex-acp` (npm) when they
are on `PATH`; they talk to `testing.fake_model` instead of Anthropic and OpenAI:
- Claude Code through `ANTHROPIC_BASE_URL`; as root it needs `IS_SANDBOX=1`, and
  `CLAUDE_CODE_EAGER_FLUSH=1` makes it write its session file before a turn returns (else a kill
  in the next tens of ms loses the turn). Sessions live in `$HOME/.claude/projects/`.
- Codex through a custom provider in `$CODEX_HOME/config.toml` (`wire_api = "responses"`; plugins
  and apps off, so it calls no other host). Sessions live in `$CODEX_HOME/sessions/`.
Everything runs inside `unshare -n` (a network namespace with loopback only), the probe too, so
nothing can leave the machine:

    unshare -n python -m testing.vendor_agents probe ROOT --via server-command --agents codex

`probe` brings up loopback, starts the fake model (and, `--via url`, an agent server), runs
`pinbot --json probe` against it, writes ROOT/result.json, and stops what it started.
`recycle ROOT [--wipe]` is the `--recycle-command` of the `--via url` runs: it restarts the
agent server on the same directories, after wiping the vendors' session stores when asked.

`scripts/dev setup` installs both parts under `$PINBOT_TOOLS_DIR` (default `~/.cache/pinbot-dev`)
and exports `AGENT_SERVER_VENV` and `ACP_ADAPTERS_DIR`, which say where they are.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pinbot.net import free_port, serving
from testing.fake_model import FakeModel, read_log
from testing.world import alive

REPO = Path(__file__).resolve().parent.parent
ADAPTERS = {"claude-code": "claude-agent-acp", "codex": "codex-acp"}
HEALTH_TIMEOUT = 240.0  # 10-25 s on an idle machine; a minute and more on two busy cores


def tools_dir() -> Path:
    """Where `scripts/dev setup` keeps the real servers (shared by checkouts)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("PINBOT_TOOLS_DIR") or Path(cache) / "pinbot-dev")


def agent_server_binary() -> Path:
    venv = os.environ.get("AGENT_SERVER_VENV") or tools_dir() / "agent-server"
    return Path(venv) / "bin" / "agent-server"


def older_server(name: str) -> Path:
    """An older agent server that `scripts/dev setup` installed (`agent-server-1.50.1`)."""
    return tools_dir() / name / "bin" / "agent-server"


def older_adapters(name: str) -> Path:
    """An older adapter's npm dir's binaries (`codex-acp-1.1.7`)."""
    return tools_dir() / name / "node_modules" / ".bin"


def adapters_bin() -> Path:
    where = os.environ.get("ACP_ADAPTERS_DIR") or tools_dir() / "acp-adapters"
    return Path(where) / "node_modules" / ".bin"


def missing_parts() -> list[str]:
    """What of the real parts is not installed (empty when everything is)."""
    missing = [] if agent_server_binary().exists() else [str(agent_server_binary())]
    missing += [
        str(adapters_bin() / b) for b in ADAPTERS.values() if not (adapters_bin() / b).exists()
    ]
    missing += [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    return missing


# --- one rig: the directories, the environment, the commands ------------------------------------


class Rig:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.codex_home = root / "codex-home"
        self.server_dir = root / "agent-server"
        self.model_log = root / "model.jsonl"

    @property
    def stores(self) -> list[Path]:
        """The vendors' session stores, which a native resume needs."""
        return [self.home / ".claude" / "projects", self.codex_home / "sessions"]

    def prepare(self, model_url: str) -> None:
        for directory in (self.home, self.codex_home, self.server_dir):
            directory.mkdir(parents=True, exist_ok=True)
        (self.codex_home / "config.toml").write_text(codex_config(model_url))
        (self.root / "model-url").write_text(model_url)

    def env(self) -> dict[str, str]:
        model_url = (self.root / "model-url").read_text()
        return dict(
            os.environ,
            PATH=f"{adapters_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=str(REPO),  # the recycle command runs `python -m testing.vendor_agents`
            # Found before HOME moves: the recycle command must find the same installs.
            AGENT_SERVER_VENV=str(agent_server_binary().parent.parent),
            ACP_ADAPTERS_DIR=str(adapters_bin().parent.parent),
            HOME=str(self.home),
            CODEX_HOME=str(self.codex_home),
            ANTHROPIC_BASE_URL=model_url,
            ANTHROPIC_API_KEY="fake-model-key",
            OPENAI_API_KEY="fake-model-key",
            IS_SANDBOX="1",
            CLAUDE_CODE_EAGER_FLUSH="1",
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            DISABLE_AUTOUPDATER="1",
            # The agent server would otherwise try GitHub for LiteLLM's price list, three times.
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            OH_ENABLE_VSCODE="false",
            OH_PRELOAD_TOOLS="false",
        )

    def server_command(self, binary: Path | None = None, adapters: Path | None = None) -> str:
        """A `--server-command` template: the real server (today's, or `binary`), its
        conversations under {workdir}; `adapters` first on its PATH (an older codex-acp)."""
        conversations = "OH_CONVERSATIONS_PATH={workdir}/conversations"
        path = f" PATH={adapters}{os.pathsep}{self.env()['PATH']}" if adapters else ""
        return f"env {conversations}{path} {binary or agent_server_binary()} --port {{port}}"

    def recycle_command(self, wipe: bool) -> str:
        flags = " --wipe" if wipe else ""
        return f"{sys.executable} -m testing.vendor_agents recycle {self.root}{flags}"

    # --- an agent server started outside pinbot (`--via url`) ---

    def start_server(self, port: int) -> None:
        env = self.env()
        env["OH_CONVERSATIONS_PATH"] = str(self.server_dir / "conversations")
        with open(self.root / "agent-server.log", "ab") as log:
            proc = subprocess.Popen(
                [str(agent_server_binary()), "--port", str(port)],
                cwd=self.server_dir,
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        (self.root / "agent-server.pid").write_text(str(proc.pid))
        (self.root / "agent-server.port").write_text(str(port))

    def stop_server(self) -> None:
        pid_file = self.root / "agent-server.pid"
        if pid_file.exists():
            kill_group(int(pid_file.read_text()))
            pid_file.unlink()

    def wipe_stores(self) -> None:
        for store in self.stores:
            shutil.rmtree(store, ignore_errors=True)

    def model_requests(self) -> list[dict[str, Any]]:
        return read_log(self.model_log)


def codex_config(model_url: str) -> str:
    # A model Codex knows (else every answer starts with a warning about its metadata); the fake
    # model answers to any name.
    return f"""model = "gpt-5.5"
model_provider = "fake"

[model_providers.fake]
name = "fake model (pinbot tests)"
base_url = "{model_url}/v1"
env_key = "OPENAI_API_KEY"
wire_api = "responses"

[features]
plugins = false
apps = false
"""


def kill_group(pid: int) -> None:
    """SIGTERM the process group, SIGKILL what is left once the leader is gone or in 5 s."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # our own child: reap it, or it lingers as a zombie


def wait_healthy(port: int, timeout: float = HEALTH_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
            return
        time.sleep(0.3)
    raise RuntimeError(f"the agent server on port {port} was not healthy after {timeout:.0f}s")


# --- what runs inside the namespace -------------------------------------------------------------


def loopback_up() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


@contextlib.contextmanager
def fake_model(log: Path) -> Iterator[FakeModel]:
    server = FakeModel(0, log)
    with serving(server):
        yield server


def probe(args: argparse.Namespace) -> int:
    rig = Rig(args.root)
    loopback_up()
    with fake_model(rig.model_log) as model:
        rig.prepare(model.url)
        try:
            argv = _target_args(rig, args)
            code, out, err = run_pinbot(argv, rig.env(), rig.root, args.deadline)
        finally:
            rig.stop_server()
    result = {"code": code, "stdout": out, "stderr": err}
    (rig.root / "result.json").write_text(json.dumps(result))
    return 0


def run_pinbot(
    argv: list[str], env: dict[str, str], cwd: Path, deadline: float
) -> tuple[int, str, str]:
    """`pinbot --json probe ARGV`; past the deadline, interrupted (it cleans up) like a ^C."""
    command = [sys.executable, "-m", "pinbot", "--json", "probe", *argv]
    with subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            out, err = proc.communicate(timeout=deadline)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            err += f"\n(vendor_agents: interrupted after {deadline:.0f}s)"
    return proc.returncode, out, err


def _target_args(rig: Rig, args: argparse.Namespace) -> list[str]:
    common = ["--agents", args.agents, "--timeout", str(args.timeout)]
    common += ["--report", str(rig.root / "report.json")]
    common += ["--rollback"] if args.rollback else []
    common += ["--acp-command", args.acp_command] if args.acp_command else []
    if args.via == "acp":
        return ["--target", "acp", *_acp_sides(args), *common]
    if args.via == "server-command":
        return ["--target", "agent-server", "--server-command", rig.server_command(), *common,
                *_from_server(rig, args)]  # fmt: skip
    port = free_port()
    rig.start_server(port)
    wait_healthy(port)
    url = f"http://127.0.0.1:{port}"
    recycle = rig.recycle_command(args.wipe)
    return [
        "--target",
        "agent-server",
        "--agent-server-url",
        url,
        "--recycle-command",
        recycle,
        *common,
    ]


def _from_server(rig: Rig, args: argparse.Namespace) -> list[str]:
    """`--from-server-command`: an older server, with an older codex-acp first on its PATH."""
    if not args.from_server:
        return []
    adapters = older_adapters(args.from_adapters) if args.from_adapters else None
    command = rig.server_command(older_server(args.from_server), adapters)
    return ["--from-server-command", command]


def _acp_sides(args: argparse.Namespace) -> list[str]:
    """`--target acp`: the adapter of `--agents` itself, and an older one as the from side."""
    program = ADAPTERS[args.agents]
    sides = ["--acp-command", str(adapters_bin() / program)]
    if args.from_adapters:
        sides += ["--from-acp-command", str(older_adapters(args.from_adapters) / program)]
    return sides


def recycle(args: argparse.Namespace) -> int:
    """Stop the agent server, wipe the vendors' stores if asked, start it on the same port."""
    rig = Rig(args.root)
    port = int((rig.root / "agent-server.port").read_text())
    rig.stop_server()
    if args.wipe:
        rig.wipe_stores()
    rig.start_server(port)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testing.vendor_agents")
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("probe", help="run pinbot probe against the real agents (in unshare -n)")
    run.add_argument("root", type=Path)
    run.add_argument("--via", choices=("server-command", "url", "acp"), required=True)
    run.add_argument("--from-server", help="the from side: an older server's venv name")
    run.add_argument("--from-adapters", help="the from side's adapters: an older npm dir's name")
    run.add_argument("--rollback", action="store_true")
    run.add_argument("--acp-command", help="a custom ACP agent for every agent named")
    run.add_argument("--wipe", action="store_true", help="--via url: the recycle wipes the stores")
    run.add_argument("--agents", default="claude-code,codex")
    run.add_argument("--timeout", type=float, default=240, help="pinbot's --timeout")
    run.add_argument("--deadline", type=float, default=780, help="interrupt pinbot after this")
    again = verbs.add_parser("recycle", help="the --recycle-command of a --via url run")
    again.add_argument("root", type=Path)
    again.add_argument("--wipe", action="store_true")
    args = parser.parse_args(argv)
    return probe(args) if args.verb == "probe" else recycle(args)


if __name__ == "__main__":
    sys.exit(main())
