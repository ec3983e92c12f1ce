"""`--target app`: one agent's conversation on an OpenHands app server, in a sandbox the app
server runs, recycled as `Recycle` says."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pinbot import output
from pinbot.errors import ExternalError
from pinbot.probe.http import AgentServerApi, ApiError, AppApi, message
from pinbot.probe.targets.base import (
    Mask,
    checked_id,
    run_recycle_command,
    server_identity,
    substitute,
)
from pinbot.probe.waiting import Progress, StepFailed, wait_until

# What a URL a server reports may look like before it goes into a request or a command word:
# scheme, host (a name or an IP, IPv6 in brackets), an optional port and a plain path. No
# userinfo (its credentials would go wherever the URL points), no query, and none of the
# characters a shell gives a meaning to (a recycle command may be `sh -c '… {agent_server_url}'`).
_SERVER_URL = re.compile(
    r"https?://(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252})"
    r"(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/%-]*)?\Z"
)


def checked_url(found: object, what: str, server: str) -> str:
    """A URL a server reported, if it is a plain http(s) URL (`_SERVER_URL`); else ExternalError
    naming the server and showing the value escaped."""
    if isinstance(found, str) and _SERVER_URL.match(found) and _port_ok(found):
        return found
    shown = output.one_line(repr(found), 120)
    raise ExternalError(
        f"{server} reports {what} {shown}, which is no plain http(s) URL (userinfo, a query or "
        "shell metacharacters are refused); check that server"
    )


def _port_ok(url: str) -> bool:
    try:
        return (urlsplit(url).port or 1) <= 65535
    except ValueError:  # over 65535
        return False


@dataclass(frozen=True)
class Recycle:
    """How an app sandbox is recycled: `pause` (pause + resume), `restart` (delete the sandbox,
    start the conversation again), or `command` (run `command`, then start the conversation
    again if its sandbox is gone)."""

    how: str
    command: str | None = None


# What send-message's refusals mean (OpenHands app server V1), and what to do about them.
SEND_REFUSED = {
    409: "the sandbox is still not running after a resume",
    404: "the app server has no sandbox for the conversation (it was deleted)",
    410: "the conversation's sandbox process is gone: the app server archived it",
    503: "the conversation's sandbox is in error (its agent server does not answer)",
}


class AppHome:
    """One agent's conversation on an app server, started with a conversation id pinbot chose.

    Choosing the id matters: the app server names a new sandbox after the conversation, so
    starting the same conversation again reuses the sandbox's directory when it still exists.
    """

    def __init__(
        self,
        api: AppApi,
        agent: str,
        settings: dict[str, Any],
        recycle: Recycle,
        timeout: float,
        progress: Progress,
        mask: Mask,
        keep: bool,
    ) -> None:
        self.api = api
        self.agent = agent
        self.settings = settings
        self.recycling = recycle
        self.timeout = timeout
        self.progress = progress
        self.mask = mask
        self.keep = keep
        self.conversation_id: str | None = None
        self.sandbox_id: str | None = None
        self.task_id: str | None = None
        self.since: str | None = None  # the server's time when this probe began
        self._server: AgentServerApi | None = None

    def start(self, first_message: str) -> str:
        self.api.set_agent(self.settings)
        chosen = str(uuid.uuid4())
        task = self.api.start(
            {"conversation_id": chosen, "initial_message": message(first_message)}
        )
        self.task_id = checked_id(task.get("id"), "start task id", "app server")
        created = task.get("created_at")
        self.since = created if isinstance(created, str) else None
        ready = self._wait_task(self.task_id)
        found = ready.get("app_conversation_id") or chosen
        self.conversation_id = checked_id(found, "conversation id", "app server")
        return self.conversation_id

    def _start_again(self) -> None:
        """Start the same conversation in a new sandbox (named after it, so same directory)."""
        self._server = None
        task = self.api.start({"conversation_id": self.conversation_id})
        self._wait_task(checked_id(task.get("id"), "start task id", "app server"))

    def _wait_task(self, task_id: str) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            task = self.api.start_task(task_id) or {}
            if task.get("status") == "ERROR":
                raise StepFailed(f"the start task ended in ERROR: {task.get('detail')}")
            if task.get("sandbox_id"):
                self.sandbox_id = checked_id(task["sandbox_id"], "sandbox id", "app server")
            return task if task.get("status") == "READY" else None

        return wait_until(
            f"{self.agent}: waiting for the sandbox", check, self.timeout, self.progress
        )

    def _wait_sandbox(self, wanted: str) -> dict[str, Any]:
        seen = ["unknown"]

        def check() -> dict[str, Any] | None:
            sandbox = self.api.sandbox(str(self.sandbox_id)) or {"status": "MISSING"}
            seen[0] = str(sandbox.get("status"))
            if seen[0] in ("ERROR", "MISSING"):
                raise StepFailed(f"sandbox {self.sandbox_id} is {seen[0]}")
            return sandbox if seen[0] == wanted else None

        what = f"{self.agent}: waiting for sandbox {self.sandbox_id} to be {wanted}"
        try:
            return wait_until(what, check, self.timeout, self.progress)
        except StepFailed as exc:
            if "--timeout" not in str(exc):
                raise
            raise StepFailed(
                f"sandbox {self.sandbox_id} is still {seen[0]} after {self.timeout:.0f}s "
                f"(waited for {wanted}; --timeout)"
            ) from None

    def server(self) -> AgentServerApi:
        if self._server is None:
            sandbox = self._wait_sandbox("RUNNING")
            server = f"the app server at {self.api.base_url.removesuffix('/api/v1')}"
            urls = _agent_server_urls(sandbox.get("exposed_urls"), server)
            if not urls:
                raise StepFailed(f"sandbox {self.sandbox_id} exposes no AGENT_SERVER url")
            key = str(sandbox.get("session_api_key") or "")
            self.mask(key)
            self._server = AgentServerApi(urls[0], key or None, self.api.timeout)
        return self._server

    def send(self, text: str) -> None:
        try:
            self.api.send(str(self.conversation_id), text)
        except ApiError as exc:
            if exc.status != 409:
                raise _refused(exc) from None
            # 409: the sandbox is paused or still starting: resume it, wait, send once more
            self.progress(f"{self.agent}: the sandbox is not running (HTTP 409): resuming it")
            self.api.resume(str(self.sandbox_id))
            self._server = None
            self._wait_sandbox("RUNNING")
            try:
                self.api.send(str(self.conversation_id), text)
            except ApiError as again:
                raise _refused(again) from None

    def events(self) -> list[dict[str, Any]]:
        """This probe's events: the app's store from the probe's start on (the store outlives
        sandboxes, so it may hold an earlier conversation's events under this id, and it keeps
        those of every sandbox this one had), and what the running agent server holds."""
        stored = self.api.events(str(self.conversation_id), self.since)
        seen = {event.get("id") for event in stored}
        live = self.server().events(str(self.conversation_id))
        return stored + [event for event in live if event.get("id") not in seen]

    def recycle(self) -> None:
        self._server = None
        sandbox_id = str(self.sandbox_id)
        if self.recycling.how == "pause":
            self.api.pause(sandbox_id)
            self._wait_sandbox("PAUSED")
            self.api.resume(sandbox_id)
        elif self.recycling.how == "restart":
            self.api.delete_sandbox(sandbox_id)
            self._start_again()
        else:
            self._run_command()
            self._after_command()
        self._wait_sandbox("RUNNING")

    def _run_command(self) -> None:
        url = self.server().base_url
        command = substitute(
            str(self.recycling.command),
            sandbox_id=str(self.sandbox_id),
            conversation_id=str(self.conversation_id),
            agent_server_url=url,
        )
        self._server = None
        run_recycle_command(command, self.timeout)

    def _after_command(self) -> None:
        """Bring the conversation back as the command left it: resume a paused sandbox, start
        the conversation again when its sandbox is gone, use a running one as it is."""
        sandbox = self.api.sandbox(str(self.sandbox_id)) or {"status": "MISSING"}
        status = sandbox.get("status")
        if status == "PAUSED":
            self.api.resume(str(self.sandbox_id))
        elif status in ("MISSING", "ERROR"):
            self.progress(f"{self.agent}: sandbox {self.sandbox_id} is {status}: starting again")
            if status == "ERROR":
                self.api.delete_sandbox(str(self.sandbox_id))
            self._start_again()

    def identity(self) -> str | None:
        """The sandbox's agent server, by its start (`/server_info` uptime): a pause that only
        froze it keeps it; a restarted or new sandbox has a new one."""
        return server_identity(self.server())

    def close(self) -> None:
        """Delete what this probe made; a delete that fails is reported, never swallowed."""
        if self.keep:
            return
        unread = self._read_lost_task()
        failed = []
        for what, undo in (
            ("conversation", self._delete_conversation),
            ("sandbox", self._delete_sandbox),
        ):
            try:
                undo()
            except ExternalError as exc:
                failed.append(f"deleting the {what} failed: {exc}")
        if unread:
            failed.append(
                f"start task {unread} could not be read, so a sandbox it made may be left: "
                "look for it in the app server and delete it"
            )
        if failed:
            raise StepFailed("; ".join(failed))

    def _read_lost_task(self) -> str | None:
        """The start task's sandbox when its answer was lost (a dropped poll); else its id."""
        if self.task_id is None or self.sandbox_id is not None:
            return None
        try:
            task = self.api.start_task(self.task_id) or {}
            sandbox, found = task.get("sandbox_id"), task.get("app_conversation_id")
            # ids go into the paths of the deletes: only ids (not `../sandboxes/another`)
            self.sandbox_id = checked_id(sandbox, "sandbox id", "app server") if sandbox else None
            found = checked_id(found, "conversation id", "app server") if found else None
        except (ExternalError, StepFailed):
            return self.task_id
        self.conversation_id = self.conversation_id or found
        return None

    def _delete_conversation(self) -> None:
        if not self.conversation_id:
            return
        try:
            self.api.delete_conversation(self.conversation_id)
        except ApiError as exc:
            if exc.status != 404:  # already gone is what we wanted
                raise

    def _delete_sandbox(self) -> None:
        """Deleting the conversation may already have taken its sandbox with it."""
        if not self.sandbox_id or not (self.api.sandbox(self.sandbox_id) or {}).get("id"):
            return
        try:
            self.api.delete_sandbox(self.sandbox_id)
        except ApiError as exc:
            if exc.status != 404:
                raise


def _agent_server_urls(exposed: object, server: str) -> list[str]:
    """The sandbox's AGENT_SERVER URLs; one that is no plain URL is refused (`checked_url`)."""
    entries = exposed if isinstance(exposed, list) else []
    urls = [
        u.get("url") for u in entries if isinstance(u, dict) and u.get("name") == "AGENT_SERVER"
    ]
    urls = [u for u in urls if isinstance(u, str) and u.startswith(("http://", "https://"))]
    return [checked_url(u, "an agent-server URL", server) for u in urls]


def _refused(exc: ApiError) -> Exception:
    """A send-message refusal, explained (`SEND_REFUSED`); anything else as it came."""
    meaning = SEND_REFUSED.get(exc.status or 0)
    if meaning is None:
        return exc
    return StepFailed(f"send-message: {meaning} (HTTP {exc.status}): {exc}")


class AppStage:
    """An app conversation's sandbox: its own stage, recycled as `Recycle` says."""

    def __init__(self, home: AppHome) -> None:
        self.home = home

    def recycle(self, side: str) -> None:
        self.home.recycle()

    def identity(self) -> str | None:
        return self.home.identity()

    def server_info(self) -> dict[str, Any]:
        return self.home.server().server_info()

    def named(self, side: str) -> str | None:
        return None
