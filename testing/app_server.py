"""A stand-in for the OpenHands app server (V1, `/api/v1`), whose sandboxes are agent servers.

Run as `python -m testing.app_server --port N --root DIR`. Every call needs
`Authorization: Bearer KEY` with a key from `HARNESS_APP_KEY` (comma-separated: one account
each, and settings such as the ACP agent are per account, as in OpenHands). A sandbox is a
`testing.agent_server` process in its own process group on a free port, with its own
session key, on a directory that stands for the conversation's volume (so a restarted sandbox
finds the conversation again). Pausing or deleting a sandbox kills its whole group, ACP agents
included.

`HARNESS_APP_MODE` picks how a recycled conversation comes back:

- `native`: the agents' session store survives; the next turn resumes the ACP session natively;
- `bootstrap`: the store is lost (an image without the session-blob routes) and the backend falls
  back to a bootstrap prompt: `<<RESUMED CONVERSATION>>` and the transcript, in a new session;
- `lost`: the store is lost and there is no fallback: the agent has forgotten;
- `crash`: the ACP agent exits when asked to load its session;
- `stuck`: a resumed or restarted sandbox stays `STARTING` forever;
- `start-error`: every start task ends in `ERROR`;
- `start-stuck`: every start task stays `WORKING` forever (no sandbox is ever made);
- `send-409` / `send-410`: send-message answers 409 (sandbox not running) / 410 (archived);
- `send-404` / `send-503`: send-message answers 404 (no sandbox) / 503 (sandbox in error).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from pinbot.demo.web import Reply, Request, Router, serve
from pinbot.net import free_port

MARKER = "<<RESUMED CONVERSATION>>"
AGENT_MODES = {"crash": "crash-on-load"}


def call(method: str, url: str, key: str, body: Any = None, timeout: float = 10) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Session-API-Key", key)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


class Sandbox:
    def __init__(self, conversation_id: str, volume: Path, mode: str) -> None:
        self.id = f"sandbox-{uuid.uuid4().hex[:12]}"
        self.conversation_id = conversation_id
        self.volume = volume
        self.mode = mode
        self.key = secrets.token_urlsafe(16)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.status = "STARTING"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        env = dict(os.environ, OH_SESSION_API_KEYS_0=self.key)
        env["HARNESS_AGENT_MODE"] = AGENT_MODES.get(self.mode, "remember")
        command = [
            sys.executable,
            "-m",
            "testing.agent_server",
            "--port",
            str(self.port),
        ]
        self.proc = subprocess.Popen(
            [*command, "--workdir", str(self.volume)], env=env, start_new_session=True
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                urllib.request.urlopen(f"{self.url}/health", timeout=1).close()
                self.status = "RUNNING"
                return
            except OSError:
                time.sleep(0.05)
        self.status = "ERROR"

    def stop(self, status: str) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        self.status = status

    def info(self) -> dict[str, Any]:
        running = self.status == "RUNNING"
        urls = [{"name": "AGENT_SERVER", "url": self.url, "port": self.port}] if running else []
        return {
            "id": self.id,
            "status": self.status,
            "session_api_key": self.key if running else None,
            "exposed_urls": urls,
            "pid": self.proc.pid if self.proc else None,
        }


class App:
    def __init__(self, root: Path, mode: str) -> None:
        self.root = root
        self.mode = mode
        self.settings: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.sandboxes: dict[str, Sandbox] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()

    def account(self, user: str) -> dict[str, Any]:
        return self.settings.setdefault(user, {"agent_settings": {}})

    def start_task(self, request: dict[str, Any], user: str) -> dict[str, Any]:
        task: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "status": "WORKING",
            "detail": None,
            "request": request,
        }
        task["user"] = user
        task.update(app_conversation_id=None, sandbox_id=None, agent_server_url=None)
        self.tasks[task["id"]] = task
        threading.Thread(target=self._run_task, args=(task,), daemon=True).start()
        return task

    def _run_task(self, task: dict[str, Any]) -> None:
        if self.mode == "start-error":
            task.update(status="ERROR", detail="sandbox failed to start: no capacity (harness)")
            return
        if self.mode == "start-stuck":
            return  # the task never leaves WORKING
        request = task["request"]
        ident = str(request.get("conversation_id") or uuid.uuid4())
        existing = ident in self.conversations
        sandbox = Sandbox(ident, self.root / "volumes" / ident, self.mode)
        with self.lock:
            self.sandboxes[sandbox.id] = sandbox
        task.update(status="WAITING_FOR_SANDBOX", sandbox_id=sandbox.id)
        if existing and self.mode == "stuck":
            return  # the sandbox never leaves STARTING, nor does the task
        if existing:
            self.recycled(self.conversations[ident])
        sandbox.start()
        if sandbox.status != "RUNNING":
            task.update(status="ERROR", detail="the agent server did not start")
            return
        task["status"] = "STARTING_CONVERSATION"
        if existing:
            self.conversations[ident]["sandbox_id"] = sandbox.id
        else:
            self._create_conversation(ident, sandbox, request, task["user"])
        task.update(status="READY", app_conversation_id=ident, agent_server_url=sandbox.url)

    def _create_conversation(
        self, ident: str, sandbox: Sandbox, request: dict[str, Any], user: str
    ) -> None:
        settings = dict(self.account(user)["agent_settings"])
        body = {
            "conversation_id": ident,
            "workspace": {"working_dir": str(sandbox.volume / "workspace")},
            "agent_settings": settings,
            "initial_message": request.get("initial_message"),
            "autotitle": False,
        }
        call("POST", f"{sandbox.url}/api/conversations", sandbox.key, body)
        tags = {"acpserver": settings.get("acp_server", "")}
        self.conversations[ident] = {"id": ident, "sandbox_id": sandbox.id, "tags": tags}
        self.conversations[ident].update(agent_kind="acp", bootstrap=False)

    def recycled(self, conversation: dict[str, Any]) -> None:
        """Before a recycled sandbox starts again: what survives depends on the mode."""
        if self.mode in ("bootstrap", "lost"):
            shutil.rmtree(self.root / "volumes" / conversation["id"] / "acp-store", True)
        conversation["bootstrap"] = self.mode == "bootstrap"

    def sandbox_of(self, conversation: dict[str, Any]) -> Sandbox:
        sandbox = self.sandboxes.get(conversation["sandbox_id"])
        if sandbox is None or sandbox.status != "RUNNING":
            raise Reply(409, {"detail": "the sandbox is not running: resume it first"})
        return sandbox

    def conversation(self, ident: str) -> dict[str, Any]:
        if ident not in self.conversations:
            raise Reply(404, {"detail": f"app conversation {ident} not found"})
        return self.conversations[ident]

    def send(self, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        conversation = self.conversation(ident)
        if self.mode == "send-409":
            raise Reply(409, {"detail": "the sandbox is not running"})
        if self.mode == "send-410":
            raise Reply(410, {"detail": "the conversation is archived"})
        if self.mode == "send-404":
            raise Reply(404, {"detail": f"Sandbox not found for conversation {ident}"})
        if self.mode == "send-503":
            raise Reply(503, {"detail": "Sandbox is in an error state"})
        sandbox = self.sandbox_of(conversation)
        if conversation["bootstrap"]:
            body = self._bootstrap(sandbox, ident, body)
            conversation["bootstrap"] = False
        call("POST", f"{sandbox.url}/api/conversations/{ident}/events", sandbox.key, body)
        return {"success": True, "sandbox_status": sandbox.status, "message": None}

    def _bootstrap(self, sandbox: Sandbox, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        """The backend's fallback: replay the transcript behind the marker, then the message."""
        url = f"{sandbox.url}/api/conversations/{ident}/events/search?limit=100"
        lines = []
        while url:
            found = call("GET", url, sandbox.key)
            lines += [transcript_line(event) for event in found["items"]]
            next_page = found["next_page_id"]
            url = f"{url.split('&page_id=')[0]}&page_id={next_page}" if next_page else ""
        text = "\n".join([MARKER, *filter(None, lines), "", *texts(body)])
        return {**body, "content": [{"type": "text", "text": text}]}

    def app_conversation(self, conversation: dict[str, Any]) -> dict[str, Any]:
        sandbox = self.sandboxes.get(conversation["sandbox_id"])
        status = sandbox.status if sandbox else "MISSING"
        info = {**conversation, "sandbox_status": status, "execution_status": None}
        if sandbox is not None and status == "RUNNING":
            state = call(
                "GET", f"{sandbox.url}/api/conversations/{conversation['id']}", sandbox.key
            )
            info.update(execution_status=state["execution_status"], session_api_key=sandbox.key)
            info["conversation_url"] = f"{sandbox.url}/api/conversations/{conversation['id']}"
        return info

    def resume(self, sandbox: Sandbox) -> None:
        if sandbox.status in ("RUNNING", "STARTING"):
            return  # as OpenHands: resuming a sandbox that is not paused changes nothing
        sandbox.status = "STARTING"
        if self.mode == "stuck":
            return
        self.recycled(self.conversations[sandbox.conversation_id])
        threading.Thread(target=sandbox.start, daemon=True).start()

    def delete_sandbox(self, sandbox_id: str) -> None:
        with self.lock:
            sandbox = self.sandboxes.pop(sandbox_id, None)
        if sandbox is None:
            raise Reply(404, {"detail": f"sandbox {sandbox_id} not found"})
        sandbox.stop("MISSING")

    def shutdown(self) -> None:
        for sandbox in list(self.sandboxes.values()):
            sandbox.stop("MISSING")
        os._exit(0)


def texts(message: dict[str, Any]) -> list[str]:
    return [c.get("text", "") for c in message.get("content", []) if c.get("type") == "text"]


def transcript_line(event: dict[str, Any]) -> str:
    if event["kind"] == "MessageEvent":
        return "User: " + " ".join(texts(event["llm_message"]))
    if event.get("tool_name") == "finish":
        return "Assistant: " + str(event["action"]["message"])
    return ""


def build_router(app: App) -> Router:
    router = Router()
    keys = [f"Bearer {key}" for key in os.environ.get("HARNESS_APP_KEY", "").split(",") if key]

    def check_key(method: str, path: str, request: Request) -> None:
        if path.startswith("/api/") and request.headers.get("Authorization") not in keys:
            raise Reply(401, {"detail": "Not authenticated: invalid API key"})

    def user(request: Request) -> str:
        return str(request.headers.get("Authorization"))

    router.before = check_key

    @router.add("GET", r"/api/v1/settings")
    def get_settings(request: Request) -> tuple[int, Any]:
        return 200, app.account(user(request))

    @router.add("POST", r"/api/v1/settings")
    def post_settings(request: Request) -> tuple[int, Any]:
        diff = request.body.get("agent_settings_diff") or {}
        app.account(user(request))["agent_settings"].update(diff)
        return 200, {"message": "Settings stored"}

    @router.add("POST", r"/api/v1/app-conversations")
    def start(request: Request) -> tuple[int, Any]:
        return 200, app.start_task(request.body, user(request))

    @router.add("GET", r"/api/v1/app-conversations/start-tasks")
    def tasks(request: Request) -> tuple[int, Any]:
        return 200, [app.tasks.get(ident) for ident in request.args("ids")]

    @router.add("GET", r"/api/v1/app-conversations")
    def conversations(request: Request) -> tuple[int, Any]:
        found = [app.conversations.get(ident) for ident in request.args("ids")]
        return 200, [app.app_conversation(c) if c else None for c in found]

    @router.add("DELETE", r"/api/v1/app-conversations/(?P<id>[^/]+)")
    def delete_conversation(request: Request) -> tuple[int, Any]:
        conversation = app.conversations.pop(request.params["id"], None)
        if conversation is None:
            raise Reply(404, {"detail": "app conversation not found"})
        if conversation["sandbox_id"] in app.sandboxes:
            app.delete_sandbox(conversation["sandbox_id"])
        return 200, True

    @router.add("POST", r"/api/v1/app-conversations/(?P<id>[^/]+)/send-message")
    def send(request: Request) -> tuple[int, Any]:
        return 200, app.send(request.params["id"], request.body)

    @router.add("GET", r"/api/v1/conversation/(?P<id>[^/]+)/events/search")
    def events(request: Request) -> tuple[int, Any]:
        ident = request.params["id"]
        sandbox = app.sandbox_of(app.conversation(ident))
        query = "&".join(f"{k}={v[0]}" for k, v in request.query.items())
        return 200, call(
            "GET", f"{sandbox.url}/api/conversations/{ident}/events/search?{query}", sandbox.key
        )

    @router.add("GET", r"/api/v1/sandboxes")
    def sandboxes(request: Request) -> tuple[int, Any]:
        found = [app.sandboxes.get(ident) for ident in request.args("id")]
        return 200, [s.info() if s else None for s in found]

    @router.add("POST", r"/api/v1/sandboxes/(?P<id>[^/]+)/(?P<action>pause|resume)")
    def pause_resume(request: Request) -> tuple[int, Any]:
        sandbox = app.sandboxes.get(request.params["id"])
        if sandbox is None:
            raise Reply(404, {"detail": "sandbox not found"})
        if request.params["action"] == "pause":
            sandbox.stop("PAUSED")
        else:
            app.resume(sandbox)
        return 200, {"success": True}

    @router.add("DELETE", r"/api/v1/sandboxes/(?P<id>[^/]+)")
    def delete_sandbox(request: Request) -> tuple[int, Any]:
        app.delete_sandbox(request.params["id"])
        return 200, True

    @router.add("GET", r"/harness/sandboxes")
    def harness_sandboxes(request: Request) -> tuple[int, Any]:
        return 200, [s.info() for s in app.sandboxes.values()]

    return router


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--root", default=".")
    args = parser.parse_args()
    app = App(Path(args.root).resolve(), os.environ.get("HARNESS_APP_MODE", "native"))
    serve(build_router(app), args.port)
    signal.signal(signal.SIGTERM, lambda *_: app.shutdown())
    threading.Event().wait()


if __name__ == "__main__":
    main()
