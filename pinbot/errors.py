"""The exceptions the CLI's one error boundary maps to exit codes (docs/reference/exit-codes.md).

A negative verdict is not an exception: commands return 1 for it.
"""

from __future__ import annotations


class PinbotError(Exception):
    """An expected failure; the message is shown to the user as one line."""

    exit_code = 4


class UsageError(PinbotError):
    """Bad usage, configuration or input. The message names the value and the fix."""

    exit_code = 2


class ExternalError(PinbotError):
    """An external system (registry, git, GitHub, docker, app server) failed after retries."""

    exit_code = 3


class NegativeVerdict(PinbotError):
    """A check said no in a place where a command cannot go on (e.g. cut on an incapable tag)."""

    exit_code = 1
