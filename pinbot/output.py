"""The one place text from outside is made safe for where it goes (docs/security.md).

A tag, a registry's message, an image's config, a repository's file or a server's answer may
carry anything: ANSI escapes that repaint a terminal, a newline followed by `::stop-commands::`
that switches off the runner's masking, `<!-- pinbot:end -->` that breaks pinbot's PR section, a
`javascript:` link in a step summary. Every channel has one function here, and `report.Output`
and the PR/summary renderers use only these.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

# C0 controls except tab and newline, DEL, C1 controls (a lone 0x9b is a CSI on some terminals),
# and the bidirectional overrides that make a line read differently from what it holds.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Lines the Actions runner would take as a workflow command: `::name ...::` and the old `##[`.
_COMMAND_LINE = re.compile(r"^(\s*)(::|##\[)", re.MULTILINE)
_OUTPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,99}\Z")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!~])")


def strip_controls(text: str) -> str:
    """`text` without control characters (tabs and newlines stay)."""
    return _CONTROL.sub("\ufffd", text.replace("\r\n", "\n"))


def terminal(text: str) -> str:
    """`text` fit for a terminal or a log: no control characters, no workflow-command lines.

    Tabs and newlines stay; a line that would start a workflow command gets a space-free
    prefix the runner does not read as one (`::x` -> `:\u200b:x`)."""
    text = strip_controls(text)
    return _COMMAND_LINE.sub(lambda m: m.group(1) + m.group(2)[0] + "\u200b" + m.group(2)[1:], text)


def one_line(text: str, limit: int = 500) -> str:
    """A single line of outside text (an error detail, an annotation): newlines become spaces."""
    flat = " ".join(terminal(text).split("\n"))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def markdown(text: str, limit: int = 500) -> str:
    """Outside text as one inert Markdown/HTML run: no markup, tags, links, comments or table
    cell breaks (entities for `&<>|`, backslashes for Markdown's punctuation)."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text, limit))
    escaped = escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "&#124;")


def table_cell(text: str) -> str:
    """A Markdown table cell pinbot wrote (it may hold `code`): one line, no `|` that splits
    it, no `<` or `>` that opens HTML or forges the PR section's closing comment."""
    cell = one_line(text).replace("|", "\\|")
    return cell.replace("<", "&lt;").replace(">", "&gt;")


def command_data(text: str) -> str:
    """The data part of a workflow command (`::error::DATA`, `::add-mask::DATA`), escaped as
    the runner unescapes it: `%`, CR and LF; so one command stays one line."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def command_property(text: str) -> str:
    """A property value of a workflow command (`title=VALUE`): also `:` and `,` escaped."""
    return command_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(name: str, data: str, **properties: str) -> str:
    """One workflow command line, every part escaped: for stderr only (never --json, never a
    report file: a `::add-mask::` line there would put the very secret it masks into the file)."""
    props = ",".join(f"{key}={command_property(value)}" for key, value in properties.items())
    return f"::{name}{' ' + props if props else ''}::{command_data(data)}\n"


def github_output_block(outputs: Mapping[str, str]) -> str:
    """`$GITHUB_OUTPUT` lines: `name=value`, or a heredoc whose delimiter is random and checked
    against the value, so no value can end the block early and set another output."""
    lines = []
    for name, value in outputs.items():
        if not _OUTPUT_NAME.match(name):
            raise ValueError(f"output name {name!r} is not a valid step output name")
        if "\n" not in value and "\r" not in value:
            lines.append(f"{name}={value}\n")
            continue
        delimiter = f"pinbot_{uuid.uuid4().hex}"
        while delimiter in value:  # astronomically unlikely; cheap to rule out
            delimiter = f"pinbot_{uuid.uuid4().hex}"
        lines.append(f"{name}<<{delimiter}\n{value.replace(chr(13), '')}\n{delimiter}\n")
    return "".join(lines)
