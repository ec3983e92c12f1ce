"""What every command (and the engine working for it) gets from the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from pinbot.config import Settings
from pinbot.report import Output


@dataclass
class Context:
    """Validated settings, the one output, and the cache switch."""

    settings: Settings
    out: Output
    use_cache: bool = True
