"""What every command (and the engine working for it) gets from the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pinbot.config import Settings
from pinbot.report import Output


@dataclass
class Context:
    """Validated settings, the one output, pinbot's cache directory (the face reads it from the
    environment: `pinbot.inputs.cache_dir`) and the verdict cache switch."""

    settings: Settings
    out: Output
    cache_dir: Path
    use_cache: bool = True
