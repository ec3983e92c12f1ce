"""A scalar at a key path in a YAML file (Helm values, replicated config): read and spliced.

The path is dotted keys with list steps: `global.agentServerImage.tag`,
`spec.groups[name=sandbox_configuration].items[name=custom_sandbox_image_tag].default`, `a[0].b`.
ruamel.yaml's node tree says where the scalar sits (its marks); the new value is spliced into the
original text there, so quotes, comments, anchors, key order, indentation and line endings stay.
With `within`, the scalar is prose that mentions the value once (`help_text: Image tag, e.g.
1.41.0-python`) and only that mention is replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pinbot.errors import UsageError
from pinbot.pins import Found
from pinbot.pins.text import Change, NotPresent, changed_lines, compose_yaml, line_at

_STEP = re.compile(
    r"\.?(?:(?P<key>[^.\[\]=]+)|\[(?P<index>\d+)\]|\[(?P<sel>[^=\]]+)=(?P<val>[^\]]*)\])"
)
# A value mentioned in prose: a release or build tag, or a bare version.
_MENTION = {
    "tag": re.compile(r"(?<![\w.-])(?:\d+\.\d+\.\d+|[0-9a-f]{7}|[0-9a-f]{40})-[a-z]+(?![\w-])"),
    "version": re.compile(r"(?<![\w.-])\d+\.\d+\.\d+(?![\w-])"),
}


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    line: int
    value: str


def parse_path(path: str, where: str) -> list[tuple[str, str]]:
    """`a.b[name=x][0]` as steps: key a, key b, select name=x, index 0."""
    steps: list[tuple[str, str]] = []
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None or match.end() == position:
            raise UsageError(
                f"{where}: key path {path!r} is not valid at {path[position:]!r}: write keys "
                "with dots and list items as [N] or [key=value], e.g. a.b[name=x].c"
            )
        if match["key"] is not None:
            steps.append(("key", match["key"].strip()))
        elif match["index"] is not None:
            steps.append(("index", match["index"]))
        else:
            steps.append(("select", f"{match['sel'].strip()}={match['val'].strip()}"))
        position = match.end()
    if not steps:
        raise UsageError(f"{where}: the key path is empty: name the key, e.g. image.tag")
    return steps


def read(text: str, file: str, path: str, holds: str, within: bool = False) -> Found:
    span = _locate(text, file, path, holds, within)
    return Found(file, span.line, holds, span.value, f"{path}: {span.value}")


def rewrite(
    text: str, value: str, file: str, path: str, holds: str, within: bool = False
) -> tuple[str, Change]:
    """Set the scalar (or its one mention of the value) to `value`, changing one line."""
    span = _locate(text, file, path, holds, within)
    new = text[: span.start] + value + text[span.end :]
    after = _locate(new, file, path, holds, within)
    if after.value != value or changed_lines(text, new) > 1:
        raise AssertionError(f"{file}: rewriting {path} changed more than its value")
    return new, Change(file, span.line, span.value, value)


def _locate(text: str, file: str, path: str, holds: str, within: bool) -> _Span:
    node = _root(text, file)
    line = 1
    for kind, step in parse_path(path, file):
        node, line = _step(node, kind, step, file, path, line)
    scalar = _scalar(text, node, file, path, line)
    return _mention(text, scalar, file, path, holds) if within else scalar


def _root(text: str, file: str) -> Any:
    root = compose_yaml(text, file, "a pin file")
    if root is None:
        raise UsageError(f"{file}: the YAML document is empty")
    return root


def _step(node: Any, kind: str, step: str, file: str, path: str, line: int) -> tuple[Any, int]:
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if kind == "key":
        if not isinstance(node, MappingNode):
            raise _missing(file, line, path, f"{step!r} (not under a mapping)")
        return _only(node, step, file, path, line)
    if not isinstance(node, SequenceNode):
        raise _missing(file, line, path, f"[{step}] (not under a list)")
    if kind == "index":
        items = node.value
        if int(step) >= len(items):
            raise _missing(file, line, path, f"item [{step}] (the list has {len(items)})")
        return items[int(step)], items[int(step)].start_mark.line + 1
    key, _, wanted = step.partition("=")
    hits = [item for item in node.value if _selects(item, key, wanted)]
    if len(hits) != 1:
        what = "no" if not hits else f"{len(hits)}"
        raise UsageError(
            f"{file}:{line}: {path}: {what} list item has {key}: {wanted}; the path must name "
            "exactly one"
        )
    return hits[0], hits[0].start_mark.line + 1


def _selects(item: Any, key: str, wanted: str) -> bool:
    from ruamel.yaml.nodes import MappingNode, ScalarNode

    if not isinstance(item, MappingNode):
        return False
    return any(
        getattr(k, "value", None) == key and isinstance(v, ScalarNode) and v.value == wanted
        for k, v in item.value
    )


def _only(node: Any, key: str, file: str, path: str, line: int) -> tuple[Any, int]:
    entries = [(k, v) for k, v in node.value if getattr(k, "value", None) == key]
    if not entries:
        raise _missing(file, line, path, repr(key))
    if len(entries) > 1:
        lines = ", ".join(str(k.start_mark.line + 1) for k, _ in entries)
        raise UsageError(f"{file}: {path}: {key!r} appears {len(entries)} times (lines {lines})")
    name, value = entries[0]
    # An alias resolves to the anchored node elsewhere: its marks lie before our key.
    if value.start_mark.index < name.end_mark.index:
        raise UsageError(
            f"{file}:{name.start_mark.line + 1}: {path} is an alias (*name) of a value written "
            "elsewhere: point the site's path at the anchored value instead"
        )
    return value, name.start_mark.line + 1


def _missing(file: str, line: int, path: str, what: str) -> UsageError:
    return NotPresent(f"{file}:{line}: no {what} on the key path {path}: check the site's path")


def _scalar(text: str, node: Any, file: str, path: str, line: int) -> _Span:
    from ruamel.yaml.nodes import ScalarNode

    refuse = UsageError(
        f"{file}:{line}: {path} is not a plain or quoted one-line value (a mapping, a list, a "
        "block or an empty value): write it as `key: value`"
    )
    if not isinstance(node, ScalarNode) or not node.value:
        raise refuse
    source = text[node.start_mark.index : node.end_mark.index]
    quote = node.style if node.style in ("'", '"') else ""
    written = f"{quote}{node.value}{quote}"
    properties = source[: len(source) - len(written)]
    # What precedes the value may only be properties: `&anchor` or `!tag`.
    if not source.endswith(written) or not all(w[0] in "&!" for w in properties.split()):
        raise refuse
    end = node.end_mark.index - len(quote)
    return _Span(end - len(node.value), end, node.start_mark.line + 1, node.value)


def _mention(text: str, scalar: _Span, file: str, path: str, holds: str) -> _Span:
    pattern = _MENTION.get(holds)
    mentions = list(pattern.finditer(scalar.value)) if pattern else []
    if len(mentions) != 1:
        raise UsageError(
            f"{file}:{scalar.line}: {path} ({scalar.value!r}) must mention exactly one "
            f"{holds} to be kept in step, found {len(mentions)}"
        )
    start = scalar.start + mentions[0].start()
    value = mentions[0].group()
    return _Span(start, start + len(value), line_at(text, start), value)
