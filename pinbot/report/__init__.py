"""Everything the user sees: text, JSON, Markdown, and GitHub Actions outputs.

Commands hand finished data to an `Output`; nothing else writes to stdout or stderr. Secrets
registered with `mask()` are replaced in every line written, whatever the channel. What each
command shows lives beside this, one module per command (`scan`, `cut`, `gate`, `probe`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pinbot.live import LiveLine

from pinbot import output
from pinbot.errors import UsageError

SECRET_ENV = ("GITHUB_TOKEN", "GH_TOKEN", "PINBOT_REGISTRY_TOKEN", "PINBOT_APP_API_KEY")
# A credential someone wrote into a git or registry URL: `scheme://user:secret@host`, or a
# token as the user name of an https URL (`https://TOKEN@github.com/...`).
# Without a terminal, a long wait says how it goes at most this often (per thing waited for).
PLAIN_EVERY = 5.0
_URL_USERINFO = re.compile(r"\b(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


class Status(str):
    """A progress message about something still under way (`key` names it: a scan, an agent's
    turn). On a terminal it is redrawn in place; elsewhere printed at most every PLAIN_EVERY
    seconds. `done` marks the end of the wait. Any other progress callable sees plain text."""

    key: str
    done: bool

    def __new__(cls, text: str, key: str, done: bool = False) -> Status:
        status = super().__new__(cls, text)
        status.key, status.done = key, done
        return status


def wants_live(stream: TextIO, json_mode: bool, environ: Mapping[str, str]) -> bool:
    """Live progress only for a person at a terminal: not with --json, in CI, under Actions,
    with NO_COLOR (no-color.org: any value) or TERM=dumb."""
    if json_mode or environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    if environ.get("GITHUB_ACTIONS") or environ.get("CI", "").lower() not in ("", "0", "false"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Output:
    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self._stdout = stdout
        self._stderr = stderr
        self.json_mode = False
        self.verbose = 0
        self._secrets: set[str] = set()
        self._live: LiveLine | None = None
        self._said: dict[str, float] = {}
        for name in SECRET_ENV:
            self.mask(os.environ.get(name, ""))

    @property
    def stdout(self) -> TextIO:
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self._stderr or sys.stderr

    def configure(self, json_mode: bool, verbose: int) -> None:
        self.json_mode = json_mode
        self.verbose = verbose
        self._live = None
        if wants_live(self.stderr, json_mode, os.environ):
            from pinbot.live import LiveLine  # only here: --json and CI runs never load it

            self._live = LiveLine(self.stderr)

    def mask(self, secret: str) -> None:
        """Never print `secret`; under GitHub Actions also ask the runner to mask it (on
        stderr: on stdout the command, secret and all, would land in --json output)."""
        if len(secret) < 4 or secret in self._secrets:
            return
        self._secrets.add(secret)
        if in_github_actions():
            self.stderr.write(output.workflow_command("add-mask", secret))
            self.stderr.flush()

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is not left half-shown; a copy,
        # because a worker thread may register a token it just derived meanwhile.
        for secret in sorted(tuple(self._secrets), key=len, reverse=True):
            text = text.replace(secret, "***")
        return strip_credentials(text)

    def progress(self, message: str) -> None:
        """A line of progress on stderr (long waits, phases); never on stdout."""
        if isinstance(message, Status):
            self.status(message.key, message, done=message.done)
            return
        line = output.terminal(self.redact(f"pinbot: {message}\n"))
        if self._live is not None:
            self._live.above(line)
            return
        self.stderr.write(line)
        self.stderr.flush()

    def status(self, key: str, message: str, done: bool = False) -> None:
        """How something long goes (candidates examined, a turn waited for): redrawn in place on
        a terminal; elsewhere a plain line once it has gone on for PLAIN_EVERY seconds, and
        then at most that often."""
        if self._live is not None:
            if done:
                self._live.done(key)
            else:
                self._live.show(key, output.one_line(self.redact(f"pinbot: {message}"), 2000))
            return
        now = time.monotonic()
        if done:
            self._said.pop(key, None)
        elif now - self._said.setdefault(key, now) >= PLAIN_EVERY:
            self._said[key] = now
            self.stderr.write(output.terminal(self.redact(f"pinbot: {message}\n")))
            self.stderr.flush()

    def _end_status(self) -> None:
        if self._live is not None:
            self._live.clear()

    def detail(self, message: str) -> None:
        if self.verbose:
            self.progress(message)

    def error(self, message: str) -> None:
        self._end_status()
        self.stderr.write(self.redact(f"pinbot: error: {output.one_line(message, 2000)}\n"))
        self.stderr.flush()

    def result(self, data: dict[str, Any], text: str) -> None:
        """The command's result: JSON with --json, else the human text."""
        self._end_status()
        if self.json_mode:  # json.dumps escapes every control character itself
            body = json.dumps(data, indent=2) + "\n"
        else:
            body = output.terminal(text.rstrip("\n") + "\n")
        self.stdout.write(self.redact(body))
        self.stdout.flush()
        # Under Actions the whole result is also the step output `report`: one line of JSON, so
        # a later step reads any field with fromJSON() whatever the command.
        self.github(outputs={"report": json.dumps(data, separators=(",", ":"))})

    def github(
        self,
        outputs: dict[str, str] | None = None,
        summary: str | None = None,
        errors: Iterable[str] = (),
    ) -> None:
        """Under Actions: $GITHUB_OUTPUT values, a step-summary block, ::error annotations."""
        if not in_github_actions():
            return
        if outputs:
            _append("GITHUB_OUTPUT", self.redact(output.github_output_block(outputs)))
        if summary:
            _append(
                "GITHUB_STEP_SUMMARY", self.redact(output.terminal(summary).rstrip("\n") + "\n")
            )
        for message in errors:
            line = output.workflow_command("error", self.redact(output.strip_controls(message)))
            self.stderr.write(line.replace("::error::", "::error title=pinbot::", 1))
        self.stderr.flush()


def _append(variable: str, text: str) -> None:
    """Append to the file an Actions variable names; one that cannot be written is bad set-up."""
    path = os.environ.get(variable)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(
            f"{variable}={path!r} cannot be written ({exc.strerror or exc}); point it at a "
            "writable file or unset it"
        ) from None


class RedactingFilter(logging.Filter):
    """Masks an Output's secrets (and URL credentials) in every log record it passes."""

    def __init__(self, out: Output) -> None:
        super().__init__()
        self.out = out

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.out.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.out.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def strip_credentials(text: str) -> str:
    """`https://user:token@host/...` -> `https://***@host/...` wherever it appears in `text`."""
    return _URL_USERINFO.sub(_hide_userinfo, text)


def _hide_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match["scheme"], match["userinfo"]
    if ":" in userinfo or scheme.lower() in ("http://", "https://"):
        return f"{scheme}***@"
    return match.group(0)  # ssh://git@host: a user name, not a secret


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], width: int | None = None
) -> str:
    """A plain left-aligned text table, no wider than `width` (default: the terminal's, when
    stdout is one; unlimited into a pipe or a file). The last column - the why, the detail -
    gives way first, each cut marked with an ellipsis."""
    cells = [
        [str(h) for h in headers],
        *[["" if c is None else str(c) for c in row] for row in rows],
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    limit = terminal_width() if width is None else width
    if limit:
        room = limit - sum(widths[:-1]) - 2 * (len(widths) - 1)
        widths[-1] = max(min(widths[-1], room), 8)
        cells = [[*row[:-1], _cut(row[-1], widths[-1])] for row in cells]
    lines = (
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )
    return "\n".join(_cut(line, limit) if limit else line for line in lines)


def terminal_width() -> int | None:
    """The terminal's columns when stdout is a terminal, else None (pipes and files get it all)."""
    isatty = getattr(sys.stdout, "isatty", None)
    if not (isatty and isatty()):
        return None
    import shutil  # only for a terminal

    return shutil.get_terminal_size().columns


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return "" if value is None else output.table_cell(str(value))

    head = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers) + "\n"
    return head + "".join("| " + " | ".join(cell(c) for c in row) + " |\n" for row in rows)
