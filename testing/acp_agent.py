"""The demo's ACP agent with the faults the probe's tests need, picked by `HARNESS_AGENT_MODE`:

- `remember` (default): as the demo's agent, `session/load` restores the history;
- `forget`: `session/load` fails as if the store were gone (the server falls back to a new session);
- `crash-on-load`: the process exits on `session/load`;
- `silent`: a prompt never gets an answer;
- `no-load`: it advertises neither `session/load` nor `session/resume`.
`HARNESS_AGENT_VERSION` is the version it reports in `initialize` (default 0.1.0).

Run as `python -m testing.acp_agent --name NAME --store DIR`. Each start appends its pid to
DIR/pids, so a test can see that a recycle killed the agent.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import acp
from acp import schema

from pinbot.demo.acp_agent import MemoryAgent, arguments, run


class FaultyAgent(MemoryAgent):
    def __init__(self, name: str, store: Path, mode: str) -> None:
        super().__init__(name, store)
        self.mode = mode

    async def initialize(self, protocol_version: int, **_: Any) -> schema.InitializeResponse:
        hello = await super().initialize(protocol_version)
        version = os.environ.get("HARNESS_AGENT_VERSION", "0.1.0")
        hello.agent_info = schema.Implementation(name=self.name, version=version)
        if self.mode == "no-load":
            hello.agent_capabilities = schema.AgentCapabilities(load_session=False)
        return hello

    async def load_session(self, cwd: str, session_id: str, **_: Any) -> schema.LoadSessionResponse:
        if self.mode == "crash-on-load":
            os._exit(3)
        if self.mode == "forget":
            raise acp.RequestError.resource_not_found(f"session {session_id}")
        return await super().load_session(cwd, session_id)

    async def prompt(self, session_id: str, prompt: list[Any], **_: Any) -> schema.PromptResponse:
        if self.mode == "silent":
            await asyncio.Event().wait()
        return await super().prompt(session_id, prompt)


def main() -> None:
    args = arguments()
    store = Path(args.store)
    store.mkdir(parents=True, exist_ok=True)
    with (store / "pids").open("a") as pids:
        pids.write(f"{os.getpid()}\n")
    run(FaultyAgent(args.name, store, os.environ.get("HARNESS_AGENT_MODE", "remember")))


if __name__ == "__main__":
    main()
