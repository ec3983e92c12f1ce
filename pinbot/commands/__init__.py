"""One module per verb; each is a thin use of the engine and returns an exit code."""

from __future__ import annotations

from dataclasses import dataclass

from pinbot.config import Settings
from pinbot.report import Output


@dataclass
class Context:
    """What every command gets: validated settings, the one output, and the cache switch."""

    settings: Settings
    out: Output
    use_cache: bool = True
