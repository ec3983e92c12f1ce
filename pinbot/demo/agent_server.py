"""A stand-in for `openhands-agent-server`: the endpoints the probe uses, as 1.58.0 answers them.

Run as `python -m pinbot.demo.agent_server --port N --workdir DIR [--version V]` (V is what
/server_info reports: two versions stand in for the pin and the candidate).
Conversations persist under
DIR/conversations, the ACP agents' sessions under DIR/acp-store, so a restart on the same DIR
resumes them. Each conversation's ACP agent is a child process (same process group), started at
the first turn after (re)start: it is sent `session/load` with the saved `acp_session_id`, and on
a protocol error the server quietly falls back to `session/new` (a new id, no error event), as the
real server does. An agent that dies mid-turn becomes a `ConversationErrorEvent`.

Environment: `OH_SESSION_API_KEYS_0` (then every /api/* call needs `X-Session-API-Key`),
`HARNESS_BUILD_SHA` (for /server_info). `claude-code` and `codex` run `agent_module` (the demo's
ACP agent) with the agent name and `--store` appended.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pinbot.demo.web import Reply, Request, Router, page, serve

STARTED = time.time()
HOME = Path(__file__).resolve().parents[2]  # where `pinbot` was found, however that was
DEFAULT_BUILD_SHA = "0123456789abcdef0123456789abcdef01234567"
TERMINAL = ("finished", "error", "stuck")


class AgentGone(Exception):
    """The ACP agent process ended (crashed or was killed)."""


class RpcError(Exception):
    pass


class AcpProcess:
    """One ACP agent child process and a blocking JSON-RPC client on its stdio."""

    def __init__(self, command: list[str], cwd: str) -> None:
        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # the agent's complaints go to the server's own log, as upstream's do
            text=True,
            bufsize=1,
        )
        self.next_id = 0
        self.pending: dict[int, queue.Queue[dict[str, Any] | None]] = {}
        self.chunks: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.next_id += 1
            ident = self.next_id
            box: queue.Queue[dict[str, Any] | None] = queue.Queue()
            self.pending[ident] = box
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        reply = box.get()
        if reply is None:
            raise AgentGone(f"the ACP agent exited (code {self.proc.wait()}) during {method}")
        if "error" in reply:
            raise RpcError(f"{method}: {reply['error'].get('message')}")
        return dict(reply.get("result") or {})

    def _send(self, message: dict[str, Any]) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the reader sees EOF and fails the pending call

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            if "method" not in message:
                self.pending.pop(message["id"]).put(message)
            elif message["method"] == "session/update":
                content = message["params"]["update"].get("content") or {}
                self.chunks.append(content.get("text", ""))
            elif "id" in message:
                error = {"code": -32601, "message": "not supported by this client"}
                self._send({"jsonrpc": "2.0", "id": message["id"], "error": error})
        for box in list(self.pending.values()):
            box.put(None)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


class Conversation:
    def __init__(self, directory: Path, state: dict[str, Any]) -> None:
        self.dir = directory
        self.state = state
        self.events: list[dict[str, Any]] = []
        self.agent: AcpProcess | None = None
        self.lock = threading.RLock()

    @classmethod
    def load(cls, directory: Path) -> Conversation:
        state = json.loads((directory / "conversation.json").read_text("utf-8"))
        if state["execution_status"] == "running":
            state["execution_status"] = "idle"  # the turn died with the old process
        conversation = cls(directory, state)
        conversation.events = json.loads((directory / "events.json").read_text("utf-8"))
        return conversation

    def save(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "conversation.json").write_text(json.dumps(self.state), "utf-8")
        (self.dir / "events.json").write_text(json.dumps(self.events), "utf-8")

    def add(self, kind: str, source: str, **fields: Any) -> dict[str, Any]:
        event = {"kind": kind, "id": str(uuid.uuid4()), "timestamp": now(), "source": source}
        event.update(fields)
        self.events.append(event)
        return event

    def info(self) -> dict[str, Any]:
        return dict(self.state)


class AgentServer:
    agent_module = "pinbot.demo.acp_agent"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.key = os.environ.get("OH_SESSION_API_KEYS_0", "")
        self.page_size = 100  # events per search page
        self.conversations: dict[str, Conversation] = {}
        root = workdir / "conversations"
        for directory in sorted(root.glob("*")) if root.is_dir() else []:
            conversation = Conversation.load(directory)
            self.conversations[conversation.state["id"]] = conversation

    def acp_command(self, settings: dict[str, Any]) -> list[str]:
        server = settings.get("acp_server", "custom")
        if server == "custom":
            return [str(part) for part in settings["acp_command"]]
        store = self.workdir / "acp-store" / server
        return [sys.executable, "-m", self.agent_module, "--name", server, "--store", str(store)]

    def create(self, body: dict[str, Any]) -> Conversation:
        ident = str(body.get("conversation_id") or uuid.uuid4())
        settings = body.get("agent_settings") or {}
        if settings.get("agent_kind") != "acp":
            raise Reply(422, {"detail": "this stand-in runs ACP agents only (agent_kind: acp)"})
        state = {
            "id": ident,
            "workspace": body.get("workspace") or {},
            "agent_settings": settings,
            "agent_state": {},
            "execution_status": "idle",
            "last_user_message_id": None,
        }
        conversation = Conversation(self.workdir / "conversations" / ident, state)
        self.conversations[ident] = conversation
        conversation.save()
        message = body.get("initial_message")
        if message:
            self.send(conversation, message)
        return conversation

    def send(self, conversation: Conversation, message: dict[str, Any]) -> None:
        with conversation.lock:
            event = conversation.add(
                "MessageEvent",
                "user",
                llm_message={"role": "user", "content": message.get("content", [])},
            )
            conversation.state["last_user_message_id"] = event["id"]
            conversation.save()
        if message.get("run", True):
            conversation.state["execution_status"] = "running"
            threading.Thread(target=self.turn, args=(conversation, event), daemon=True).start()

    def turn(self, conversation: Conversation, event: dict[str, Any]) -> None:
        text = "\n".join(c.get("text", "") for c in event["llm_message"]["content"])
        try:
            agent, session_id = self.agent_for(conversation)
            conversation.state["agent_state"]["acp_last_prompt_user_message_id"] = event["id"]
            agent.chunks.clear()
            prompt = [{"type": "text", "text": text}]
            agent.call("session/prompt", {"sessionId": session_id, "prompt": prompt})
            self.finish(conversation, "".join(agent.chunks))
        except (AgentGone, RpcError) as exc:
            self.fail(conversation, str(exc))

    def agent_for(self, conversation: Conversation) -> tuple[AcpProcess, str]:
        state = conversation.state
        if conversation.agent is not None and conversation.agent.proc.poll() is None:
            return conversation.agent, state["agent_state"]["acp_session_id"]
        cwd = state["workspace"].get("working_dir") or str(self.workdir / "workspace")
        Path(cwd).mkdir(parents=True, exist_ok=True)
        agent = AcpProcess(self.acp_command(state["agent_settings"]), cwd)
        conversation.agent = agent
        agent.call("initialize", {"protocolVersion": 1, "clientCapabilities": {}})
        saved = state["agent_state"].get("acp_session_id")
        session_id = self.open_session(agent, cwd, saved)
        state["agent_state"]["acp_session_id"] = session_id
        conversation.save()
        return agent, session_id

    def open_session(self, agent: AcpProcess, cwd: str, saved: str | None) -> str:
        """`session/load` the saved id; on a protocol error quietly start a new session."""
        if saved:
            try:
                agent.call("session/load", {"sessionId": saved, "cwd": cwd, "mcpServers": []})
                return saved
            except RpcError:
                pass
        return str(agent.call("session/new", {"cwd": cwd, "mcpServers": []})["sessionId"])

    def finish(self, conversation: Conversation, message: str) -> None:
        with conversation.lock:
            action = {"kind": "FinishAction", "message": message}
            conversation.add("ActionEvent", "agent", tool_name="finish", action=action)
            conversation.state["execution_status"] = "finished"
            conversation.save()

    def fail(self, conversation: Conversation, detail: str) -> None:
        with conversation.lock:
            conversation.add(
                "ConversationErrorEvent", "environment", code="AcpError", detail=detail
            )
            conversation.state["execution_status"] = "error"
            conversation.agent = None
            conversation.save()

    def get(self, ident: str) -> Conversation:
        if ident not in self.conversations:
            raise Reply(404, {"detail": f"conversation {ident} not found"})
        return self.conversations[ident]

    def stop(self) -> None:
        for conversation in self.conversations.values():
            if conversation.agent is not None:
                conversation.agent.kill()
        os._exit(0)

    def delete(self, ident: str) -> None:
        conversation = self.get(ident)
        if conversation.agent is not None:
            conversation.agent.kill()
        del self.conversations[ident]


def build_router(server: AgentServer, version: str = "harness") -> Router:
    router = Router()

    def check_key(method: str, path: str, request: Request) -> None:
        refused = request.headers.get("X-Session-API-Key") != server.key
        if path.startswith("/api/") and server.key and refused:
            raise Reply(401, {"detail": "Unauthorized"})

    router.before = check_key
    sha = os.environ.get("HARNESS_BUILD_SHA") or DEFAULT_BUILD_SHA

    @router.add("GET", r"/(health|alive|ready)")
    def health(request: Request) -> tuple[int, Any]:
        return 200, {"status": "ok"}

    @router.add("GET", r"/server_info")
    def server_info(request: Request) -> tuple[int, Any]:
        info = {"version": version, "build_git_sha": sha, "build_git_ref": "harness"}
        return 200, {**info, "uptime": time.time() - STARTED}

    @router.add("POST", r"/api/conversations")
    def create(request: Request) -> tuple[int, Any]:
        return 201, server.create(request.body).info()

    @router.add("GET", r"/api/conversations/(?P<id>[^/]+)")
    def get(request: Request) -> tuple[int, Any]:
        return 200, server.get(request.params["id"]).info()

    @router.add("DELETE", r"/api/conversations/(?P<id>[^/]+)")
    def delete(request: Request) -> tuple[int, Any]:
        server.delete(request.params["id"])
        return 200, {"success": True}

    @router.add("POST", r"/api/conversations/(?P<id>[^/]+)/events")
    def send(request: Request) -> tuple[int, Any]:
        server.send(server.get(request.params["id"]), request.body)
        return 200, {"success": True}

    @router.add("GET", r"/api/conversations/(?P<id>[^/]+)/events/search")
    def search(request: Request) -> tuple[int, Any]:
        conversation = server.get(request.params["id"])
        with conversation.lock:
            events = list(conversation.events)
        kind = request.arg("kind")
        events = [e for e in events if kind is None or e["kind"] == kind]
        return 200, page(events, request, server.page_size)

    return router


def command(
    version: str,
    build_sha: str | None = None,
    module: str = "pinbot.demo.agent_server",
    home: Path = HOME,
) -> str:
    """A `--server-command` that runs this server (`module`: or a subclass's module) reporting
    `version` and `build_sha` (None: the default one). It runs in a directory of its own, so
    `home` goes on its PYTHONPATH."""
    sha = f" HARNESS_BUILD_SHA={build_sha}" if build_sha else ""
    return (
        f"env PYTHONPATH={shlex.quote(str(home))}{sha} {shlex.quote(sys.executable)} -m {module} "
        f"--port {{port}} --workdir {{workdir}} --version {shlex.quote(version)}"
    )


def main(make: Callable[[Path], AgentServer] = AgentServer) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workdir", default=".")
    parser.add_argument("--version", default="harness")
    args = parser.parse_args()
    server = make(Path(args.workdir).resolve())
    serve(build_router(server, args.version), args.port)
    # Plain SIGTERM (not a group kill) must not orphan the agents: take them down too.
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    threading.Event().wait()


if __name__ == "__main__":
    main()
