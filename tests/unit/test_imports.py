"""The import graph of pinbot/ (read from the source, every import: at module level, inside a
function, under TYPE_CHECKING) has no circle and no arrow that runs back up the floors of
DESIGN.md §2: core < seams < engine < report < commands < faces. The text helpers every floor
escapes and masks with (`pinbot.output`, the `pinbot.report` package itself) are the ground
floor's, usable from anywhere; the renderers (`pinbot.report.scan`, ...) are not: a check
returns data and the renderer explains it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "pinbot"
FLOORS = {
    "core": 1,
    "seam": 2,
    "engine": 3,
    "report": 4,
    "command": 5,
    "face": 6,
}
SEAMS = {"registry", "pyindex", "git", "github", "docker", "httpclient", "net", "cleanup"}
ENGINE = {"engine", "capability", "provenance", "cut", "gate", "probe"}
REPORT = {"report", "output", "live"}
COMMANDS = {"commands", "demo"}
FACES = {"cli", "api", "__main__", "reference"}
GROUND = {"pinbot.output", "pinbot.report"}  # escaping, masking, tables: every floor's


def floor(module: str) -> str:
    top = module.removeprefix("pinbot").lstrip(".").split(".")[0]
    for name, tops in (
        ("seam", SEAMS), ("engine", ENGINE), ("report", REPORT), ("command", COMMANDS),
        ("face", FACES),
    ):  # fmt: skip
        if top in tops:
            return name
    return "core"  # the package itself, errors, model, config, options, inputs, pins/, edits/


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The pinbot modules `module` imports (a name imported from a package that is itself a
    module counts as that module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, path, node)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m in known and m != module}


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    package = parts if path.name == "__init__.py" else parts[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, *([node.module] if node.module else [])])


def graph() -> dict[str, set[str]]:
    found = modules()
    return {m: imports(m, path, set(found)) for m, path in found.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, rest = work[-1]
            step = next(rest, None)
            if step is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    part = stack[stack.index(node) :]
                    del stack[stack.index(node) :]
                    found += [sorted(part)] if len(part) > 1 else []
            elif step not in index:
                index[step] = low[step] = len(index)
                stack.append(step)
                work.append((step, iter(sorted(edges[step]))))
            elif step in stack:
                low[node] = min(low[node], index[step])
    return found


def test_the_package_has_no_import_circle() -> None:
    assert circles(graph()) == []


def test_no_import_runs_back_up_a_floor() -> None:
    upward = [
        f"{module} ({floor(module)}) -> {target} ({floor(target)})"
        for module, targets in graph().items()
        for target in sorted(targets)
        if target not in GROUND and FLOORS[floor(target)] > FLOORS[floor(module)]
    ]
    assert upward == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_floors_are_read_as_designed() -> None:
    assert [floor(m) for m in ("pinbot.git", "pinbot.gate.checks", "pinbot.report.scan")] == [
        "seam", "engine", "report",
    ]  # fmt: skip
    assert floor("pinbot.commits") == floor("pinbot.model") == "core"
    edges = graph()
    hub = set().union(*(edges[m] for m in edges if m.startswith("pinbot.github.")))
    assert "pinbot.commits" in hub  # the shared nouns are read from the core
    assert not [m for m in hub if m.split(".")[:2] == ["pinbot", "git"]]
