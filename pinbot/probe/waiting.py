"""Bounded waits with progress, and the failure of one probe step."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from pinbot import cleanup
from pinbot.report import Status

T = TypeVar("T")
Progress = Callable[[str], None]
# A terminal redraws the wait each second; elsewhere Output prints it every PLAIN_EVERY seconds.
PROGRESS_EVERY = 1.0
MAX_POLL = 0.5  # seconds between polls at most: a turn can end any moment


class StepFailed(Exception):
    """A probe step failed: the agent's verdict is `error`; the message says what happened."""


def wait_until(
    what: str,
    check: Callable[[], T | None],
    timeout: float,
    progress: Progress,
) -> T:
    """Poll `check` until it returns a value; say so every few seconds; give up after `timeout`.

    Polls start fast (a local turn takes about a second) and back off to MAX_POLL.
    """
    start = time.monotonic()
    said = start
    delay = 0.05
    try:
        while True:
            if cleanup.STOP.is_set():
                raise StepFailed(f"{what}: interrupted")
            found = check()
            if found is not None:
                return found
            elapsed = time.monotonic() - start
            if elapsed >= timeout:
                raise StepFailed(f"{what}: still waiting after {timeout:.0f}s (--timeout)")
            if time.monotonic() - said >= PROGRESS_EVERY:
                progress(Status(f"{what} ({elapsed:.0f}s of {timeout:.0f}s)", what))
                said = time.monotonic()
            cleanup.STOP.wait(min(delay, max(0.0, timeout - elapsed)))
            delay = min(delay * 1.3, MAX_POLL)
    finally:
        if said != start:  # something was shown: take it down
            progress(Status(f"{what}: done after {time.monotonic() - start:.0f}s", what, True))
