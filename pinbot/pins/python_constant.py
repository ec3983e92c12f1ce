"""The module-level `AGENT_SERVER_IMAGE = '<repo>:<tag>'` constant (sandbox_spec_service.py).

Located with `ast`, so a comment or a docstring that mentions the name is never mistaken for it;
replaced by splicing the literal's own text, so quotes, comments, encoding and line endings stay.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass

from pinbot.errors import UsageError
from pinbot.model import ImageRef, validate_tag
from pinbot.pins.text import Change, NotPresent, Site, line_starts

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


@dataclass(frozen=True)
class _Literal:
    """Where the constant's string literal sits in the text, and what it says."""

    tag_start: int
    tag_end: int
    line: int
    value: str
    repository: str
    tag: str


def decode(data: bytes, file: str) -> tuple[str, str]:
    """(text, encoding): honour a PEP 263 cookie or a BOM so the rewrite can encode it back."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding), encoding
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        raise UsageError(f"{file}: cannot decode the Python source ({exc})") from None


def read(text: str, file: str, constant: str) -> Site:
    """The pinned image reference, e.g. ghcr.io/openhands/agent-server:1.26.0-python."""
    literal = _locate(text, file, constant)
    return Site(file, literal.line, literal.value)


def rewrite(
    text: str, tag: str, file: str, constant: str, repository: str | None = None
) -> tuple[str, Change]:
    """Replace only the tag inside the constant's literal; refuse anything but one plain literal."""
    validate_tag(tag)
    literal = _locate(text, file, constant)
    if repository is not None and literal.repository != repository:
        raise UsageError(
            f"{file}:{literal.line}: {constant} pins {literal.repository}, not {repository}: "
            f"pass --image {literal.repository} (use --registry-url to read it elsewhere)"
        )
    new_value = f"{literal.repository}:{tag}"
    new_text = text[: literal.tag_start] + tag + text[literal.tag_end :]
    _confirm(text, new_text, file, constant, new_value)
    return new_text, Change(file, literal.line, literal.value, new_value)


def _locate(text: str, file: str, constant: str) -> _Literal:
    tree = _parse(text, file)
    bindings = _bindings(tree, constant)
    if not bindings:
        raise NotPresent(
            f"{file}: no module-level {constant} = '<repo>:<tag>' found: check the path "
            "(config pin.python_file) and the name (pin.python_constant)"
        )
    if len(bindings) > 1:
        lines = ", ".join(str(b.lineno) for b in bindings)
        raise UsageError(
            f"{file}: {constant} is assigned {len(bindings)} times (lines {lines}): "
            "keep one plain assignment so the pin is not ambiguous"
        )
    value = _assigned_value(tree, bindings[0], file, constant)
    return _literal(text, value, file, constant)


MAX_DEPTH = 200  # far beyond real code; keeps ast.dump/unparse (recursive) within the stack


def _parse(text: str, file: str) -> ast.Module:
    try:
        tree = ast.parse(text, filename=file)
        if _depth(tree) > MAX_DEPTH:
            raise RecursionError
        return tree
    except SyntaxError as exc:
        where = f"{file}:{exc.lineno}" if exc.lineno else file
        raise UsageError(f"{where}: not valid Python ({exc.msg})") from None
    except (RecursionError, MemoryError):
        raise UsageError(
            f"{file}: nests expressions too deep for a pin file; refusing it"
        ) from None


def _bindings(tree: ast.AST, name: str) -> list[ast.Name]:
    """Every place the module scope binds `name` (functions and classes have their own)."""
    found: list[ast.Name] = []
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, _SCOPES):
            continue
        if isinstance(child, ast.Name) and child.id == name and isinstance(child.ctx, ast.Store):
            found.append(child)
        found.extend(_bindings(child, name))
    return found


def _assigned_value(tree: ast.Module, target: ast.Name, file: str, constant: str) -> ast.expr:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and node.targets == [target]:
            return node.value
        if isinstance(node, ast.AnnAssign) and node.target is target and node.value is not None:
            return node.value
    raise UsageError(
        f"{file}:{target.lineno}: {constant} is not bound by a plain `{constant} = '...'` "
        "assignment: write it as one so pinbot can edit it"
    )


def _literal(text: str, value: ast.expr, file: str, constant: str) -> _Literal:
    where = f"{file}:{value.lineno}"
    if isinstance(value, ast.JoinedStr):
        raise UsageError(
            f"{where}: {constant} is built with an f-string: pinbot edits only a plain string "
            "literal; write the full image reference as one"
        )
    if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
        raise UsageError(
            f"{where}: {constant} is not a string literal ({ast.unparse(value)}): "
            "write the full image reference as one"
        )
    start, end = _span(text, value)
    closing = _closing_quote(text[start:end], value.value, where, constant)
    repository, tag = _split_reference(value.value, where, constant)
    # The literal's text is exactly the value, so the tag ends right before the closing quote.
    tag_end = end - len(closing)
    return _Literal(tag_end - len(tag), tag_end, value.lineno, value.value, repository, tag)


def _span(text: str, node: ast.expr) -> tuple[int, int]:
    """Character offsets of a node (ast gives UTF-8 byte columns)."""
    starts = line_starts(text)

    def offset(line: int, column: int) -> int:
        begin = starts[line - 1]
        head = text[begin:].encode("utf-8")[:column]
        return begin + len(head.decode("utf-8"))

    assert node.end_lineno is not None and node.end_col_offset is not None
    return offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)


def _closing_quote(source: str, value: str, where: str, constant: str) -> str:
    """One literal whose text is the value: no implicit concatenation, no escapes."""
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)
    ]
    quoted = tokens[0].string if len(tokens) == 1 else ""
    body = quoted.lstrip("rRuU")
    quote = body[:3] if body[:3] in ("'''", '"""') else body[:1]
    if len(tokens) != 1 or body[len(quote) : len(body) - len(quote)] != value:
        raise UsageError(
            f"{where}: {constant} is not one plain string literal ({source.strip()}): "
            "write it as a single quoted string without escapes"
        )
    return quote


def _split_reference(value: str, where: str, constant: str) -> tuple[str, str]:
    try:
        ref = ImageRef.parse(value)
    except UsageError as exc:
        raise UsageError(f"{where}: {constant} = {value!r}: {exc}") from None
    if ref.tag is None or ref.digest is not None:
        raise UsageError(
            f"{where}: {constant} = {value!r} must be REPO:TAG (no digest): pinbot pins tags"
        )
    return str(ref.name), ref.tag


def _confirm(old: str, new: str, file: str, constant: str, expected: str) -> None:
    """Re-parse: the constant now says `expected`, and nothing else in the module changed."""
    after = _locate(new, file, constant)
    before_tree, after_tree = ast.parse(old), ast.parse(new)
    binding = _bindings(before_tree, constant)[0]
    value = _assigned_value(before_tree, binding, file, constant)
    assert isinstance(value, ast.Constant)
    value.value = expected
    if after.value != expected or ast.dump(before_tree) != ast.dump(after_tree):
        raise AssertionError(f"{file}: rewriting {constant} changed more than its value")


def _depth(tree: ast.AST) -> int:
    """How deep the syntax tree nests (iteratively: the tree may be deeper than the stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest
