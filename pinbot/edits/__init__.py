"""The deploy repository's site (`env.OPENHANDS_SHA`); the pin sites live in `pinbot.pins`."""

from pinbot.pins.text import (
    Change,
    Site,
    changed_lines,
    compose_yaml,
    line_at,
    line_starts,
    split_lines,
)

__all__ = [
    "Change",
    "Site",
    "changed_lines",
    "compose_yaml",
    "line_at",
    "line_starts",
    "split_lines",
]
