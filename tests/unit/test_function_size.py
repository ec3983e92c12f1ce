"""No function in pinbot/ is over 60 lines (STYLE.md: median about 6), except a generated table
named in GENERATED. A long function is split along the steps it already has."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pinbot"
LIMIT = 60
# "path/to/module.py:function" of generated tables, which may be longer (none today).
GENERATED: set[str] = set()


def lengths() -> dict[str, int]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                found[f"{where}:{node.lineno}:{node.name}"] = length
    return found


def test_no_function_is_over_sixty_lines() -> None:
    too_long = {
        name: length
        for name, length in lengths().items()
        if length > LIMIT and f"{name.split(':')[0]}:{name.split(':')[-1]}" not in GENERATED
    }
    assert too_long == {}


def test_the_lengths_are_read_from_every_function() -> None:
    found = lengths()
    assert any(name.endswith(":make_parser") for name in found)
    assert sorted(found.values())[len(found) // 2] <= 10  # the median stays small
