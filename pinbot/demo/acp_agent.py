"""A small ACP agent that remembers what it was told, persisted on disk so `session/load` works.

Run as `python -m pinbot.demo.acp_agent --name NAME --store DIR`.
It answers from its session
history: told "the codeword is X" it acknowledges without repeating X; asked for the codeword it
answers with the last one in its history (which, after a bootstrap prompt, includes the replayed
transcript). `session/load` restores the history from DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import typing
import uuid
from pathlib import Path
from typing import Any

import acp
from acp import schema

CODEWORD_RE = re.compile(r"codeword is ([A-Za-z0-9_-]+)")


class MemoryAgent:
    def __init__(self, name: str, store: Path) -> None:
        self.name = name
        self.store = store
        self.histories: dict[str, list[dict[str, str]]] = {}
        self.conn: Any = None

    def on_connect(self, conn: Any) -> None:
        self.conn = conn

    async def initialize(self, protocol_version: int, **_: Any) -> schema.InitializeResponse:
        return schema.InitializeResponse(
            protocol_version=acp.PROTOCOL_VERSION,
            agent_capabilities=schema.AgentCapabilities(load_session=True),
            agent_info=schema.Implementation(name=self.name, version="0.1.0"),
        )

    async def new_session(self, cwd: str, **_: Any) -> schema.NewSessionResponse:
        session_id = f"{self.name}-{uuid.uuid4().hex[:12]}"
        self.histories[session_id] = []
        self._save(session_id)
        return schema.NewSessionResponse(session_id=session_id)

    async def load_session(self, cwd: str, session_id: str, **_: Any) -> schema.LoadSessionResponse:
        path = self._path(session_id)
        if not path.is_file():
            raise acp.RequestError.resource_not_found(f"session {session_id}")
        self.histories[session_id] = json.loads(path.read_text(encoding="utf-8"))
        return schema.LoadSessionResponse()

    async def prompt(self, session_id: str, prompt: list[Any], **_: Any) -> schema.PromptResponse:
        text = "\n".join(getattr(block, "text", "") for block in prompt)
        history = self.histories.setdefault(session_id, [])
        history.append({"role": "user", "text": text})
        reply = answer(text, history)
        history.append({"role": "agent", "text": reply})
        self._save(session_id)
        await self.conn.session_update(session_id, acp.update_agent_message_text(reply))
        return schema.PromptResponse(stop_reason="end_turn")

    def _path(self, session_id: str) -> Path:
        return self.store / f"{session_id}.json"

    def _save(self, session_id: str) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        self._path(session_id).write_text(json.dumps(self.histories[session_id]), "utf-8")


def answer(text: str, history: list[dict[str, str]]) -> str:
    """Reply to `text` from what the session was told (the newest codeword wins)."""
    if "what is the codeword" not in text.lower():
        return "Understood. I will remember it."
    told = [
        m for turn in history if turn["role"] == "user" for m in CODEWORD_RE.findall(turn["text"])
    ]
    return f"The codeword is {told[-1]}." if told else "I do not know any codeword."


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="harness-agent")
    parser.add_argument("--store", default=".acp-sessions")
    return parser.parse_args()


def run(agent: MemoryAgent) -> None:
    # MemoryAgent implements the methods this stand-in needs, not the whole Agent protocol.
    asyncio.run(acp.run_agent(typing.cast(acp.Agent, agent)))


def main() -> None:
    args = arguments()
    store = Path(args.store)
    store.mkdir(parents=True, exist_ok=True)
    run(MemoryAgent(args.name, store))


if __name__ == "__main__":
    main()
