"""`--target agent-server`: the conversations of every agent on one agent server, which a
`Server` (`command`, `image`, `url`) starts and recycles on the same conversations directory."""

from __future__ import annotations

import contextlib
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pinbot.errors import ExternalError
from pinbot.net import free_port
from pinbot.probe.http import AgentServerApi, message
from pinbot.probe.targets.base import Mask, checked_id
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


class OwnServer(ABC):
    """An agent server pinbot runs itself (`command`, `image`), one side at a time: on a free
    loopback port with a session key of its own, started once however many agents are planted
    side by side, recycled by stopping it and starting the next side's on the same storage."""

    def __init__(self, side: str, timeout: float, progress: Progress, mask: Mask) -> None:
        self.side = side
        self.timeout = timeout
        self.progress = progress
        self.port = free_port()
        self.key = secrets.token_urlsafe(24)
        mask(self.key)
        self.api = AgentServerApi(f"http://127.0.0.1:{self.port}", self.key)
        self.starting = threading.Lock()  # agents planted side by side start it once

    def up(self) -> None:
        with self.starting:
            if not self._launched():
                self._start()

    def recycle(self, side: str) -> None:
        self._halt()
        self.side = side
        self._start()

    def _start(self) -> None:
        self._launch()
        wait_healthy(self.api, self.timeout, self.progress, self._exited)

    @abstractmethod
    def _launch(self) -> None:
        """Start `self.side`'s server on `self.port` with `self.key`; do not wait for it."""

    @abstractmethod
    def _launched(self) -> bool:
        """Whether a server was started (and not halted since), up yet or not."""

    @abstractmethod
    def _exited(self) -> str | None:
        """Why the server cannot come up (it exited), or None."""

    @abstractmethod
    def _halt(self) -> None:
        """Stop the server, if one was started; its storage stays."""


@dataclass
class ServerHome:
    """One agent's conversation on an agent server."""

    srv: Server
    agent: str
    settings: dict[str, Any]
    keep: bool
    conversation_id: str | None = None

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
