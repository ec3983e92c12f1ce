"""`--target acp`: pinbot itself is the ACP client of an agent over stdio, no server between.

One life of the agent: start its command in its own process group (in one working directory for
every life: sessions belong to a cwd), `initialize`, open sessions, prompt, then end the group as
an agent server's restart would (SIGTERM, SIGKILL after a grace). A session is reopened with
`session/load` when the agent advertises `loadSession`, else `session/resume` when it advertises
`sessionCapabilities.resume`; neither is `unsupported`. A reopen the agent refuses falls back to
`session/new` as the agent server does (DESIGN.md §1), so the leg shows what a user would see:
a fresh agent that does not know the codeword (lost), with the refusal in the leg's detail.

Built on the `agent-client-protocol` package's client connection; the process is pinbot's own
(`asyncio` subprocess) so that the whole group can be ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import acp
from acp import schema

from pinbot import output
from pinbot.probe.verdict import MARKER

GRACE = 5.0  # seconds between SIGTERM and SIGKILL of the agent's group
STREAM_LIMIT = 16 * 1024 * 1024  # one JSON-RPC line; a replayed history can be long
CLIENT = schema.Implementation(name="pinbot", version="probe")


class AgentFailed(Exception):
    """The agent did not start, broke the protocol, or did not answer in time."""


@dataclass
class Turn:
    """One session's prompt in a life: its reply, and how the session was (re)opened."""

    session_id: str
    reply: str = ""
    marker_found: bool = False
    reopen_error: str | None = None


@dataclass
class Ask:
    """What a life should do with one conversation: open it (new, or reopen `session_id`) and
    send `text`."""

    text: str
    session_id: str | None = None


@dataclass
class Life:
    """What one start of the agent showed."""

    pid: int
    version: str | None
    can_reopen: str | None  # "session/load", "session/resume" or None (unsupported)
    turns: list[Turn] = field(default_factory=list)


class Listener:
    """The client side pinbot offers: it reads the agent's messages and allows nothing."""

    def __init__(self) -> None:
        self.chunks: dict[str, list[str]] = {}

    def on_connect(self, conn: Any) -> None:
        pass

    async def session_update(self, session_id: str, update: Any, **_: Any) -> None:
        if getattr(update, "session_update", None) == "agent_message_chunk":
            text = getattr(getattr(update, "content", None), "text", "")
            self.chunks.setdefault(session_id, []).append(str(text or ""))

    async def request_permission(self, **_: Any) -> schema.RequestPermissionResponse:
        return schema.RequestPermissionResponse(outcome=schema.DeniedOutcome(outcome="cancelled"))


def live(
    argv: list[str], cwd: Path, env: dict[str, str], log: Path, asks: list[Ask], timeout: float
) -> Life:
    """Start the agent, do `asks` in order, end its process group."""
    return asyncio.run(_live(argv, cwd, env, log, asks, timeout))


async def _live(
    argv: list[str], cwd: Path, env: dict[str, str], log: Path, asks: list[Ask], timeout: float
) -> Life:
    with open(log, "ab") as errors:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                cwd=cwd,
                env=env,
                start_new_session=True,
                limit=STREAM_LIMIT,
            )
        except OSError as exc:
            raise AgentFailed(f"the ACP command could not start: {exc}") from None
    try:
        return await _talk(proc, cwd, asks, timeout)
    finally:
        await _end(proc)


async def _talk(proc: Any, cwd: Path, asks: list[Ask], timeout: float) -> Life:
    listener = Listener()
    conn = acp.connect_to_agent(listener, proc.stdin, proc.stdout)  # type: ignore[arg-type]
    try:
        hello = await _bounded(
            conn.initialize(protocol_version=acp.PROTOCOL_VERSION, client_info=CLIENT),
            timeout,
            "initialize",
        )
        life = Life(proc.pid, _version(hello), _reopen(hello))
        for ask in asks:
            life.turns.append(await _turn(conn, listener, life, ask, str(cwd), timeout))
        return life
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


async def _turn(
    conn: Any, listener: Listener, life: Life, ask: Ask, cwd: str, timeout: float
) -> Turn:
    turn = await _open(conn, life, ask.session_id, cwd, timeout)
    listener.chunks[turn.session_id] = []  # a load replays the history: only the answer counts
    prompt = [acp.text_block(ask.text)]
    await _bounded(conn.prompt(session_id=turn.session_id, prompt=prompt), timeout, "prompt")
    turn.reply = "".join(listener.chunks.get(turn.session_id, []))
    turn.marker_found = MARKER in turn.reply
    return turn


async def _open(conn: Any, life: Life, saved: str | None, cwd: str, timeout: float) -> Turn:
    """Reopen `saved` the way the agent offers; a refusal falls back to a new session."""
    refused = None
    if saved is not None and life.can_reopen is not None:
        try:
            if life.can_reopen == "session/load":
                call = conn.load_session(cwd=cwd, session_id=saved)
            else:
                call = conn.resume_session(session_id=saved, cwd=cwd)
            await _bounded(call, timeout, life.can_reopen, refusable=True)
            return Turn(saved)
        except acp.RequestError as exc:
            said = f": {output.one_line(str(exc.data), 200)}" if exc.data else ""
            refused = f"{life.can_reopen} failed: {exc} (code {exc.code}){said}"
    made = await _bounded(conn.new_session(cwd=cwd), timeout, "session/new")
    return Turn(str(made.session_id), reopen_error=refused)


async def _bounded(call: Any, timeout: float, what: str, refusable: bool = False) -> Any:
    """`call` within the timeout; an error answer is a failure unless the caller handles it."""
    try:
        return await asyncio.wait_for(call, timeout)
    except TimeoutError:
        raise AgentFailed(f"{what}: no answer after {timeout:.0f}s (--timeout)") from None
    except acp.RequestError as exc:
        if refusable:
            raise
        raise AgentFailed(f"{what}: the agent answered an error: {exc}") from None
    except (ConnectionError, EOFError, RuntimeError, ValueError) as exc:
        raise AgentFailed(f"{what}: the agent broke off ({exc or type(exc).__name__})") from None


def _version(hello: Any) -> str | None:
    info = getattr(hello, "agent_info", None)
    found = getattr(info, "version", None)
    return found if isinstance(found, str) else None


def _reopen(hello: Any) -> str | None:
    capabilities = getattr(hello, "agent_capabilities", None)
    if getattr(capabilities, "load_session", False):
        return "session/load"
    sessions = getattr(capabilities, "session_capabilities", None)
    return "session/resume" if getattr(sessions, "resume", None) is not None else None


async def _end(proc: Any) -> None:
    """End the agent's whole group: its own children (a vendor CLI) go with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), GRACE)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        await proc.wait()
