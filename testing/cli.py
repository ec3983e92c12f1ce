"""The one way tests run pinbot: the real CLI in-process, as a user runs it, output captured.

Works at any fixture scope (it captures by redirection, not through capsys).
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any, NamedTuple

from pinbot.cli import main


class Run(NamedTuple):
    """What one run of a command gave: exit code and everything it printed
    (`code, out, err = pinbot(...)` unpacks it)."""

    code: int
    out: str
    err: str

    @property
    def data(self) -> Any:
        """stdout as JSON (with --json), or None when it printed none."""
        return json.loads(self.out) if self.out.strip() else None

    @property
    def text(self) -> str:
        return self.out + self.err

    def error_line(self) -> str:
        """The error pinbot printed, else its last line on stderr (a probe's failed step)."""
        lines = [line for line in self.err.splitlines() if line.startswith("pinbot: error:")]
        return (lines or self.err.splitlines() or [""])[-1]


def pinbot(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # --help and --version end in argparse's exit, as for a user
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return Run(code, out.getvalue(), err.getvalue())
