"""Where a probed conversation lives, and how it is recycled.

A `Home` is one agent's conversation on a target: the app server (recycled by pause + resume, or
by deleting the sandbox and starting the same conversation again), or an agent server pinbot runs
(`CommandServer`, `DockerServer`) or is pointed at (`UrlServer`), recycled by restarting it on the
same conversations directory. Homes clean up what they made unless told to keep it; processes
and containers pinbot started are always stopped.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from pinbot import cleanup, output
from pinbot.errors import ExternalError
from pinbot.net import free_port
from pinbot.probe.http import AgentServerApi, ApiError, AppApi, message
from pinbot.probe.verdict import uptime_identity
from pinbot.probe.waiting import Progress, StepFailed, wait_until

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


# --- the app server -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recycle:
    """How an app sandbox is recycled: `pause` (pause + resume), `restart` (delete the sandbox,
    start the conversation again), or `command` (run `command`, then start the conversation
    again if its sandbox is gone)."""

    how: str
    command: str | None = None

    def describe(self) -> str:
        return {
            "pause": "pause and resume the sandbox",
            "restart": "delete the sandbox and start the conversation again",
        }.get(self.how, "run the recycle command")


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
        self.recycle_how = recycle.describe()
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


# --- agent servers ----------------------------------------------------------------------------


class Server(Protocol):
    """An agent server pinbot can (re)start; `working_dir` is valid where the server runs."""

    api: AgentServerApi
    working_dir: str
    how: str

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


# `openhands-agent-server==1.58.2` (pip, uvx) or `openhands-agent-server@1.58.2` (uvx) in a
# server command: the version its package name says.
_PACKAGE_VERSION = re.compile(r"agent-server(?:==|@)([0-9][A-Za-z0-9.+_-]{0,63})")


def package_version(command: str) -> str | None:
    found = _PACKAGE_VERSION.search(command)
    return found.group(1) if found else None


def server_identity(api: AgentServerApi) -> str | None:
    """A server's identity as it reports it: its start, from `/server_info` uptime."""
    sent = time.time()
    info = api.server_info()
    return uptime_identity(info, sent, time.time())


def process_identity(pid: int) -> str:
    """A process's pid and start time (clock ticks after boot, from /proc): unique per process.

    Without /proc the pid alone: pinbot started the process, so a new pid is a new process.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return f"pid {pid}"
    # The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return f"pid {pid} started {fields[19]}"


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


class CommandServer:
    """`--server-command` (and `--from-server-command`): CMD in a fresh working directory;
    recycled by killing its group and starting the next side's command on the same directory."""

    how = "restart the server command"

    def __init__(
        self,
        templates: dict[str, str],
        side: str,
        timeout: float,
        progress: Progress,
        mask: Mask,
    ) -> None:
        self.templates = templates
        self.side = side
        self.timeout = timeout
        self.progress = progress
        self.workdir = Path(tempfile.mkdtemp(prefix="pinbot-probe-"))
        cleanup.track(self.workdir)  # removed even if pinbot is interrupted or killed
        self.working_dir = str(self.workdir / "workspace")
        self.port = free_port()
        self.key = secrets.token_urlsafe(24)
        mask(self.key)
        self.api = AgentServerApi(f"http://127.0.0.1:{self.port}", self.key)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "server.log"
        self.failed = False  # keep the log: it holds the server's and its agents' stderr
        self.starting = threading.Lock()  # agents planted side by side start it once

    def up(self) -> None:
        with self.starting:
            if self.proc is None:
                self._start()

    def failure_detail(self) -> str:
        """Where the server's log is kept, and how it ends (its agents' stderr is in it)."""
        self.failed = True
        return f"; the server's log {self.log} ends:\n{_tail(self.log)}"

    def _start(self) -> None:
        template = self.templates[self.side]
        command = substitute(template, port=str(self.port), workdir=str(self.workdir))
        env = dict(os.environ, OH_SESSION_API_KEYS_0=self.key)
        with open(self.log, "ab") as log:
            try:
                self.proc = subprocess.Popen(
                    command,
                    cwd=self.workdir,
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            except OSError as exc:
                raise StepFailed(f"--server-command could not start: {exc}") from None
        cleanup.track_process(self.proc.pid)  # killed by the next run if pinbot is killed
        wait_healthy(self.api, self.timeout, self.progress, self._exited)

    def _exited(self) -> str | None:
        if self.proc is None or self.proc.poll() is None:
            return None
        return f"the server command exited with {self.proc.returncode}"

    def recycle(self, side: str) -> None:
        self._kill()
        self.side = side
        self._start()

    def named(self, side: str) -> str | None:
        return package_version(self.templates[side])

    def _kill(self) -> None:
        """Stop the whole process group: the ACP agents are the server's children."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        _kill_group_leftovers(self.proc.pid)
        self.proc = None

    def stop(self, keep: bool) -> None:
        self._kill()
        kept_log = self.failed and not cleanup.STOP.is_set()  # an interrupt keeps nothing
        if kept_log or keep:
            cleanup.untrack(self.workdir)  # the user's to look at, not a run's leftover
            if kept_log:
                self.progress(f"kept the server's log for a look: {self.log}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def identity(self) -> str | None:
        return process_identity(self.proc.pid) if self.proc is not None else None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_bytes()[-8000:].decode(errors="replace")
    except OSError:
        return "(no log was written)"
    return "\n".join(f"  | {line}" for line in text.splitlines()[-lines:]) or "  | (empty)"


def _kill_group_leftovers(pgid: int) -> None:
    """Children that ignored SIGTERM still belong to the group: make sure they are gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class UrlServer:
    """`--agent-server-url` + `--recycle-command`: someone else's server, recycled by a command."""

    how = "run the recycle command"

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
        self.working_dir = tempfile.mkdtemp(prefix="pinbot-probe-")
        cleanup.track(self.working_dir)

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
        self.recycle_how = server.how

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


def volume_name() -> str:
    return f"pinbot-probe-{uuid.uuid4().hex[:12]}"
