"""What every target shares: the `Home` a conversation lives in, the ids and command lines a
target reads and builds, a recycle command, and a server's identity as it reports it."""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any, Protocol

from pinbot import output
from pinbot.probe.http import AgentServerApi
from pinbot.probe.verdict import uptime_identity
from pinbot.probe.waiting import StepFailed

Mask = Callable[[str], None]


class Home(Protocol):
    agent: str
    conversation_id: str | None

    def start(self, first_message: str) -> str: ...

    def server(self) -> AgentServerApi: ...

    def send(self, text: str) -> None: ...

    def events(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


# What an id from a server may look like (UUIDs, in practice): it is shown in the report, the
# terminal and the step summary, and a conversation id goes into URL paths.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")


def checked_id(found: object, what: str, server: str = "agent server") -> str:
    """An id a server reported, if it is one; else the step fails, showing it escaped."""
    if not isinstance(found, str) or not _ID.match(found):
        shown = output.one_line(repr(found), 80)
        raise StepFailed(f"the {server} reports a {what} that is no id: {shown}")
    return found


def agent_settings(agent: str, acp_command: list[str] | None) -> dict[str, Any]:
    """The agent-settings diff that selects `agent` (or a custom ACP command for it)."""
    if acp_command:
        return {"agent_kind": "acp", "acp_server": "custom", "acp_command": acp_command}
    return {"agent_kind": "acp", "acp_server": agent}


def substitute(template: str, **values: str) -> list[str]:
    """Split a command line, then fill the named placeholders (`{port}`, `{workdir}`, …) into
    each word, in one pass: a value stays inside its word (it is never split or re-read, and
    a `{port}` inside a value stays as it is); nothing else is touched."""
    if not values:
        return shlex.split(template)
    names = re.compile("|".join(re.escape("{" + name + "}") for name in values))
    return [names.sub(lambda m: values[m.group()[1:-1]], word) for word in shlex.split(template)]


def run_recycle_command(
    command: list[str], timeout: float, env: dict[str, str] | None = None
) -> None:
    """Run a recycle command to its end; its output goes to a file, not a pipe: a command that
    restarts a server in the background leaves it holding the pipe, and waiting for EOF would
    hang until the timeout."""
    with tempfile.TemporaryFile() as log:
        try:
            done = subprocess.run(
                command, stdout=log, stderr=log, timeout=timeout, check=False, env=env
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StepFailed(f"--recycle-command failed: {exc}") from None
        log.seek(0)
        tail = log.read().decode(errors="replace").strip()[-200:]
    if done.returncode != 0:
        raise StepFailed(f"--recycle-command exited with {done.returncode}: {tail}")


def server_identity(api: AgentServerApi) -> str | None:
    """A server's identity as it reports it: its start, from `/server_info` uptime."""
    sent = time.time()
    info = api.server_info()
    return uptime_identity(info, sent, time.time())
