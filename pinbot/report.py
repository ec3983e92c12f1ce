"""Everything the user sees: text, JSON, Markdown, and GitHub Actions outputs.

Commands hand finished data to an `Output`; nothing else writes to stdout or stderr. Secrets
registered with `mask()` are replaced in every line written, whatever the channel.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

SECRET_ENV = ("GITHUB_TOKEN", "GH_TOKEN", "PINBOT_REGISTRY_TOKEN", "PINBOT_APP_API_KEY")
# A credential someone wrote into a git or registry URL: `scheme://user:secret@host`, or a
# token as the user name of an https URL (`https://TOKEN@github.com/...`).
_URL_USERINFO = re.compile(r"\b(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


class Output:
    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self._stdout = stdout
        self._stderr = stderr
        self.json_mode = False
        self.verbose = 0
        self._secrets: set[str] = set()
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

    def mask(self, secret: str) -> None:
        """Never print `secret`; under GitHub Actions also ask the runner to mask it."""
        if len(secret) < 4 or secret in self._secrets:
            return
        self._secrets.add(secret)
        if in_github_actions():
            self.stdout.write(f"::add-mask::{secret}\n")

    def redact(self, text: str) -> str:
        # Longest first, so a secret that contains another is not left half-shown; a copy,
        # because a worker thread may register a token it just derived meanwhile.
        for secret in sorted(tuple(self._secrets), key=len, reverse=True):
            text = text.replace(secret, "***")
        return strip_credentials(text)

    def progress(self, message: str) -> None:
        """A line of progress on stderr (long waits, phases); never on stdout."""
        self.stderr.write(self.redact(f"pinbot: {message}\n"))
        self.stderr.flush()

    def detail(self, message: str) -> None:
        if self.verbose:
            self.progress(message)

    def error(self, message: str) -> None:
        self.stderr.write(self.redact(f"pinbot: error: {message}\n"))
        self.stderr.flush()

    def result(self, data: dict[str, Any], text: str) -> None:
        """The command's result: JSON with --json, else the human text."""
        body = json.dumps(data, indent=2) + "\n" if self.json_mode else text.rstrip("\n") + "\n"
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
        if outputs and os.environ.get("GITHUB_OUTPUT"):
            with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
                fh.write(self.redact(github_output_block(outputs)))
        if summary and os.environ.get("GITHUB_STEP_SUMMARY"):
            with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
                fh.write(self.redact(summary.rstrip("\n") + "\n"))
        for message in errors:
            self.stdout.write(self.redact(f"::error title=pinbot::{escape_annotation(message)}\n"))


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


def github_output_block(outputs: dict[str, str]) -> str:
    """name=value lines; multi-line values in a heredoc with a delimiter that cannot collide."""
    lines = []
    for name, value in outputs.items():
        if "\n" in value:
            delimiter = f"pinbot_{uuid.uuid4().hex}"
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{name}={value}\n")
    return "".join(lines)


def escape_annotation(message: str) -> str:
    return message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain left-aligned text table."""
    cells = [
        [str(h) for h in headers],
        *[["" if c is None else str(c) for c in row] for row in rows],
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers) + "\n"
    return head + "".join("| " + " | ".join(cell(c) for c in row) + " |\n" for row in rows)
