"""`--target agent-server`: the conversations of every agent on one agent server, which a
`Server` (`command`, `image`, `url`) starts and recycles on the same conversations directory."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from pinbot.errors import ExternalError
from pinbot.probe.http import AgentServerApi, message
from pinbot.probe.targets.base import checked_id
from pinbot.probe.waiting import Progress, StepFailed, wait_until


class Server(Protocol):
    """An agent server pinbot can (re)start; `working_dir` is valid where the server runs."""

    api: AgentServerApi
    working_dir: str

    def up(self) -> None: ...

    def recycle(self, side: str) -> None:
        """Stop the server and start `side`'s (the candidate, or the from side) on the same
        storage: the same conversations directory and `workspace.working_dir`."""
        ...

    def named(self, side: str) -> str | None:
        """The version `side`'s package or image name says, if it says one."""
        ...

    def stop(self, keep: bool) -> None: ...

    def identity(self) -> str | None: ...


class ServerStage:
    """An agent server as the stage its agents' conversations move on."""

    def __init__(self, server: Server) -> None:
        self.srv = server

    def recycle(self, side: str) -> None:
        self.srv.recycle(side)

    def identity(self) -> str | None:
        return self.srv.identity()

    def server_info(self) -> dict[str, Any]:
        return self.srv.api.server_info()

    def named(self, side: str) -> str | None:
        return self.srv.named(side)


def wait_healthy(
    api: AgentServerApi, timeout: float, progress: Progress, alive: Callable[[], str | None]
) -> None:
    """Wait for /health; `alive` returns why the server cannot come up (it exited), or None."""

    def check() -> bool | None:
        died = alive()
        if died:
            raise StepFailed(died)
        return True if api.health() else None

    wait_until(f"waiting for the agent server at {api.base_url}", check, timeout, progress)


class ServerHome:
    """One agent's conversation on an agent server."""

    def __init__(
        self,
        server: Server,
        agent: str,
        settings: dict[str, Any],
        keep: bool,
    ) -> None:
        self.srv = server
        self.agent = agent
        self.settings = settings
        self.keep = keep
        self.conversation_id: str | None = None

    def start(self, first_message: str) -> str:
        self.srv.up()
        body = {
            "workspace": {"working_dir": self.srv.working_dir},
            "agent_settings": self.settings,
            "initial_message": message(first_message),
            "autotitle": False,
        }
        created = self.srv.api.create(body).get("id")
        self.conversation_id = checked_id(str(created) if created else "", "conversation id")
        return self.conversation_id

    def server(self) -> AgentServerApi:
        return self.srv.api

    def send(self, text: str) -> None:
        self.srv.api.send(str(self.conversation_id), text)

    def events(self) -> list[dict[str, Any]]:
        return self.srv.api.events(str(self.conversation_id))

    def again(self) -> ServerHome:
        """A home for another conversation of the same agent on the same server."""
        return ServerHome(self.srv, self.agent, self.settings, self.keep)

    def failure_detail(self) -> str:
        """What the server kept that explains a failure (its log), when it keeps one."""
        detail: Callable[[], str] | None = getattr(self.srv, "failure_detail", None)
        return detail() if detail is not None else ""

    def close(self) -> None:
        if not self.keep and self.conversation_id:
            # a stopped or broken server: its conversations go with it
            with contextlib.suppress(ExternalError):
                self.srv.api.delete(self.conversation_id)
