"""A deterministic model for the real vendor agents: Anthropic Messages and OpenAI Responses.

Claude Code (`claude-agent-acp`) talks to `ANTHROPIC_BASE_URL` (`POST /v1/messages?beta=true`,
server-sent events; `POST /v1/messages/count_tokens`), Codex (`codex-acp`) to a custom provider's
Responses API (`POST /v1/responses`, server-sent events). This server answers both, and only from
the conversation history each request carries:
- a message that says "the codeword is X" is acknowledged (without repeating X);
- "what is the codeword" is answered with the newest codeword found earlier in the history,
  or "I don't know." when the history holds none (an agent that lost its session);
- anything else gets "OK.".
Every request's history goes to a JSON-lines log, so a test can show what the agent sent after a
recycle. No tool calls, no randomness, no network beyond the socket it serves.

    python -m testing.fake_model --port 0 --log requests.jsonl --port-file port
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

GIVEN = re.compile(r"the codeword is ([A-Za-z0-9][A-Za-z0-9_-]*)", re.IGNORECASE)
ASKED = re.compile(r"what is the codeword", re.IGNORECASE)
ACK = "Understood. I will remember it."
UNKNOWN = "I don't know."
MODEL_ROLES = ("user", "assistant")


@dataclass(frozen=True)
class Said:
    role: str
    text: str


def answer(history: list[Said]) -> str:
    """The reply to the newest user message, from `history` alone."""
    asked = [i for i, said in enumerate(history) if said.role == "user"]
    if not asked:
        return "OK."
    question = history[asked[-1]].text
    if ASKED.search(question):
        found = codewords_in(history[: asked[-1]])
        return f"The codeword is {found[-1]}." if found else UNKNOWN
    if GIVEN.search(question):
        return ACK
    return "OK."


def codewords_in(history: list[Said]) -> list[str]:
    return [word for said in history for word in GIVEN.findall(said.text)]


# --- reading a request's history ----------------------------------------------------------------


def anthropic_history(body: dict[str, Any]) -> list[Said]:
    """`messages` of a Messages request; the system prompt is not conversation."""
    return [
        Said(str(message.get("role")), _text(message.get("content")))
        for message in body.get("messages") or []
        if message.get("role") in MODEL_ROLES
    ]


def responses_history(body: dict[str, Any]) -> list[Said]:
    """`input` messages of a Responses request (instructions and tool items are not)."""
    items = body.get("input")
    if isinstance(items, str):
        return [Said("user", items)]
    return [
        Said(str(item.get("role")), _text(item.get("content")))
        for item in items or []
        if item.get("type", "message") == "message" and item.get("role") in MODEL_ROLES
    ]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    texts = [part.get("text") for part in parts if isinstance(part, dict)]
    return "\n".join(text for text in texts if isinstance(text, str))


# --- the wire formats ----------------------------------------------------------------------------


def anthropic_events(reply: str, model: str, ident: str) -> Iterator[tuple[str, dict[str, Any]]]:
    usage = {"input_tokens": 10, "output_tokens": 0}
    message = {
        "id": ident,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    yield "message_start", {"type": "message_start", "message": message}
    block = {"type": "text", "text": ""}
    yield "content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}
    delta = {"type": "text_delta", "text": reply}
    yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    stop = {"stop_reason": "end_turn", "stop_sequence": None}
    done = {"type": "message_delta", "delta": stop, "usage": {"output_tokens": len(reply.split())}}
    yield "message_delta", done
    yield "message_stop", {"type": "message_stop"}


def anthropic_message(reply: str, model: str, ident: str) -> dict[str, Any]:
    return {
        "id": ident,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": reply}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": len(reply.split())},
    }


def responses_events(reply: str, model: str, ident: str) -> Iterator[tuple[str, dict[str, Any]]]:
    item_id = f"msg_{ident}"
    response = {"id": f"resp_{ident}", "object": "response", "model": model, "output": []}
    yield (
        "response.created",
        {
            "type": "response.created",
            "response": {**response, "status": "in_progress"},
        },
    )
    item = {"type": "message", "id": item_id, "role": "assistant", "content": []}
    yield (
        "response.output_item.added",
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress"},
        },
    )
    yield (
        "response.output_text.delta",
        {
            "type": "response.output_text.delta",
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
            "delta": reply,
        },
    )
    text = {"type": "output_text", "text": reply, "annotations": []}
    finished = {**item, "status": "completed", "content": [text]}
    yield (
        "response.output_item.done",
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": finished,
        },
    )
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": len(reply.split()),
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 10 + len(reply.split()),
    }
    done = {**response, "status": "completed", "output": [finished], "usage": usage}
    yield "response.completed", {"type": "response.completed", "response": done}


# --- the server ----------------------------------------------------------------------------------


class FakeModel(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, log: Path) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.log = log
        self.lock = threading.Lock()
        self.ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock, self.log.open("a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")

    def next_id(self) -> str:
        with self.lock:
            return f"{next(self.ids):06d}"


class Handler(BaseHTTPRequestHandler):
    server: FakeModel

    def log_message(self, format: str, *args: Any) -> None:  # the JSON log says it all
        pass

    def do_GET(self) -> None:
        self._record_unknown()
        self._json(404, {"error": {"type": "not_found", "message": "fake model: no such route"}})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": {"type": "invalid_request_error", "message": "not JSON"}})
            return
        if path.endswith("/messages/count_tokens"):
            self._json(200, {"input_tokens": 10})
        elif path.endswith("/messages"):
            self._anthropic(body)
        elif path.endswith("/responses"):
            self._responses(body)
        else:
            self._record_unknown()
            self._json(404, {"error": {"type": "not_found", "message": "fake model: no route"}})

    def _anthropic(self, body: dict[str, Any]) -> None:
        history = anthropic_history(body)
        reply = answer(history)
        model = str(body.get("model") or "fake")
        ident = f"msg_{self.server.next_id()}"
        self._record("anthropic", history, reply, model)
        if body.get("stream"):
            self._sse(anthropic_events(reply, model, ident))
        else:
            self._json(200, anthropic_message(reply, model, ident))

    def _responses(self, body: dict[str, Any]) -> None:
        history = responses_history(body)
        reply = answer(history)
        model = str(body.get("model") or "fake")
        self._record("openai", history, reply, model)
        self._sse(responses_events(reply, model, self.server.next_id()))

    def _record(self, api: str, history: list[Said], reply: str, model: str) -> None:
        self.server.record(
            {
                "api": api,
                "path": self.path,
                "model": model,
                "history": [[said.role, said.text] for said in history],
                "codewords": codewords_in(history),
                "reply": reply,
            }
        )

    def _record_unknown(self) -> None:
        self.server.record({"api": None, "method": self.command, "path": self.path})

    def _json(self, status: int, data: Any) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _sse(self, events: Iterator[tuple[str, dict[str, Any]]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # the end of the body is the end of the stream
        self.end_headers()
        for name, data in events:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True


def read_log(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args()
    server = FakeModel(args.port, args.log)
    if args.port_file:
        args.port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
