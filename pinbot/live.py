"""Live progress on a terminal: a status line redrawn in place under the permanent lines.

Only `Output` imports this, and only when stderr is a terminal and nothing asked for plain
output (`--json`, `CI`, `GITHUB_ACTIONS`, `NO_COLOR`, `TERM=dumb`): a `--json` run never loads it.
"""

from __future__ import annotations

import shutil
import threading
from typing import TextIO

ERASE_LINE = "\r\x1b[K"


class LiveLine:
    """One status line on `stream`, one part per key (a scan, each probed agent), redrawn when
    a part changes; permanent lines are written above it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._parts: dict[str, str] = {}
        self._shown = False
        self._lock = threading.Lock()

    def show(self, key: str, text: str) -> None:
        with self._lock:
            self._parts[key] = text
            self._draw()

    def done(self, key: str) -> None:
        with self._lock:
            if self._parts.pop(key, None) is not None:
                self._draw()

    def above(self, line: str) -> None:
        """A permanent line: printed where the status line was, the status line below it."""
        with self._lock:
            self._erase()
            self.stream.write(line)
            self._draw()

    def clear(self) -> None:
        with self._lock:
            self._parts.clear()
            self._erase()
            self.stream.flush()

    def _draw(self) -> None:
        self._erase()
        if self._parts:
            width = shutil.get_terminal_size().columns - 1  # the last column would wrap
            self.stream.write(fit(" | ".join(self._parts.values()), width))
            self._shown = True
        self.stream.flush()

    def _erase(self) -> None:
        if self._shown:
            self.stream.write(ERASE_LINE)
            self._shown = False


def fit(text: str, width: int) -> str:
    """`text` cut to `width` characters, an ellipsis marking the cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"
