"""An agent server of our own that lies, for `pinbot probe --agent-server-url` (and, on
`/api/v1`, an app server that lies to `--target app`).

Left alone, `LyingAgentServer` is a plain, honest agent server: conversations whose agent answers
at once (a finish action per message; asked for the codeword, it gives back the one planted), a
`/server_info` whose uptime counts from its (simulated) start, and `POST /_restart`, which the
test's recycle command calls to simulate a restart. A test then makes it lie:

- `session_id`, `conversation_id`, `reply`, `build_git_sha`: what it reports in those fields;
- `uptime`: a fixed uptime in every `/server_info` (a server that always looks freshly started);
- `on(method, path, rule)`: a rule that answers instead (an error text, a huge or trickled body,
  malformed JSON, a document of the wrong shape), as `testing.hostile.Liar` does.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import threading
import time
from typing import Any

from testing.hostile import Answer, Ruled, Seen

SHA = "ab" * 20
CODEWORD = re.compile(r"the codeword is (pinbot-[0-9a-f]+)")


class LyingAgentServer(Ruled):
    def __init__(self) -> None:
        super().__init__()
        self.started = time.time()
        self.restarts = 0
        self.session_id = "0f9d7c1e-5b3a-4c2d-9e8f-a1b2c3d4e5f6"
        self.conversation_id = "6c1f0b9e2d4a4f8e9c7b5a3d1e0f2a4b"
        self.reply: str | None = None  # None: the codeword, as an honest agent
        self.build_git_sha: object = SHA
        self.uptime: float | None = None
        self.events: list[dict[str, Any]] = []
        self.codeword = ""
        self._state = threading.Lock()

    def restart_command(self) -> str:
        """A recycle command that restarts this server (as far as it can tell)."""
        code = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], data=b'')"
        return shlex.join([sys.executable, "-c", code, f"{self.url}/_restart"])

    def answer(self, request: Seen, body: bytes | None) -> Answer:
        given = self.ruled(request)
        if given is not None:
            return given
        data = json.loads(body) if body else {}
        with self._state:
            return self._honest(request.method, request.path.split("?")[0], data)

    def _honest(self, method: str, path: str, data: dict[str, Any]) -> Answer:
        conversation = f"/api/conversations/{self.conversation_id}"
        if path in ("/health", "/alive"):
            return _json({"status": "ok"})
        if path == "/server_info":
            uptime = self.uptime if self.uptime is not None else time.time() - self.started
            return _json({"uptime": uptime, "build_git_sha": self.build_git_sha})
        if method == "POST" and path == "/_restart":
            self.started, self.restarts = time.time(), self.restarts + 1
            return _json({})
        if method == "POST" and path == "/api/conversations":
            self._message(data.get("initial_message") or {})
            return _json({"id": self.conversation_id})
        if method == "POST" and path == f"{conversation}/events":
            self._message(data)
            return _json({})
        if path == f"{conversation}/events/search":
            return _json({"items": self.events, "next_page_id": None})
        if path == conversation and method == "GET":
            state = {"acp_session_id": self.session_id}
            return _json({"id": self.conversation_id, "execution_status": "finished",
                          "agent_state": state})  # fmt: skip
        if path == conversation and method == "DELETE":
            return _json({})
        return Answer(404, {"Content-Type": "application/json"}, b'{"detail": "Not Found"}')

    def _message(self, message: dict[str, Any]) -> None:
        """The agent's turn: a finish action answering the message at once."""
        text = " ".join(str(part.get("text", "")) for part in message.get("content") or [])
        planted = CODEWORD.search(text)
        if planted:
            self.codeword = planted.group(1)
        reply = self.reply if self.reply is not None else (self.codeword or "noted")
        self.events.append(
            {
                "id": f"e{len(self.events)}",
                "kind": "ActionEvent",
                "tool_name": "finish",
                "action": {"message": "I will remember." if planted else reply},
            }
        )

    def __enter__(self) -> LyingAgentServer:
        super().__enter__()
        return self


def _json(data: object) -> Answer:
    return Answer(200, {"Content-Type": "application/json"}, json.dumps(data).encode())
