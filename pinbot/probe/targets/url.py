"""`--agent-server-url URL` + `--recycle-command CMD`: someone else's agent server, recycled by
a command."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

from pinbot import cleanup
from pinbot.probe.http import AgentServerApi
from pinbot.probe.targets.agent_server import wait_healthy
from pinbot.probe.targets.base import run_recycle_command, server_identity, substitute
from pinbot.probe.waiting import Progress


class UrlServer:
    """`--agent-server-url` + `--recycle-command`: someone else's server, recycled by a command."""

    def __init__(
        self,
        url: str,
        recycle_command: str,
        key: str | None,
        timeout: float,
        progress: Progress,
        http_timeout: float = 30.0,
    ) -> None:
        self.api = AgentServerApi(url, key, http_timeout)
        self.recycle_command = recycle_command
        self.timeout = timeout
        self.progress = progress
        self.working_dir = str(cleanup.temp_dir("pinbot-probe-"))

    def up(self) -> None:
        wait_healthy(self.api, self.timeout, self.progress, lambda: None)

    def recycle(self, side: str) -> None:
        port = str(urlsplit(self.api.base_url).port or 80)
        command = substitute(self.recycle_command, port=port, workdir=self.working_dir)
        # Untagged: the server it restarts is the user's, not this run's to kill.
        run_recycle_command(command, self.timeout, env=cleanup.untagged_environment())
        wait_healthy(self.api, self.timeout, self.progress, lambda: None)

    def named(self, side: str) -> str | None:
        return None  # the recycle command's server: only its /server_info says

    def stop(self, keep: bool) -> None:
        if keep:
            cleanup.untrack(self.working_dir)
        else:
            shutil.rmtree(self.working_dir, ignore_errors=True)

    def identity(self) -> str | None:
        return server_identity(self.api)
