"""`env.OPENHANDS_SHA` at the top of the deploy workflow (.github/workflows/deploy.yaml).

The YAML node tree says exactly where the scalar sits (its marks); the new sha is spliced into
the text there, so comments, quoting, anchors, key order and indentation are untouched and the
diff is one line. Round-tripping the whole file through a YAML dumper would reflow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pinbot.edits import Change, Site, changed_lines, compose_yaml
from pinbot.errors import UsageError
from pinbot.model import validate_sha


@dataclass(frozen=True)
class _Scalar:
    start: int  # offset of the value's own text (after any quote, anchor or tag)
    end: int
    line: int
    value: str


def read(text: str, file: str, key: str) -> Site:
    """The value of top-level env.<key>, as written (not validated: the gate judges it)."""
    scalar = _locate(text, file, key)
    return Site(file, scalar.line, scalar.value)


def rewrite(text: str, sha: str, file: str, key: str) -> tuple[str, Change]:
    """Set top-level env.<key> to `sha`, changing exactly one line."""
    validate_sha(sha, f"new {key}")
    scalar = _locate(text, file, key)
    new_text = text[: scalar.start] + sha + text[scalar.end :]
    after = _locate(new_text, file, key)
    if after.value != sha or changed_lines(text, new_text) > 1:
        raise AssertionError(f"{file}: rewriting env.{key} changed more than one line")
    return new_text, Change(file, scalar.line, scalar.value, sha)


def _locate(text: str, file: str, key: str) -> _Scalar:
    root = _compose(text, file)
    env_key, env = _only_entry(root, "env", file, "top level", 1)
    if not _is_mapping(env) or env.start_mark.index < env_key.end_mark.index:
        raise UsageError(
            f"{file}:{env_key.start_mark.line + 1}: the top-level env is not a plain mapping "
            f"(an alias or a scalar): write {key} directly under it"
        )
    name, node = _only_entry(env, key, file, "the top-level env", env_key.start_mark.line + 1)
    return _scalar(text, name, node, file, key)


def _compose(text: str, file: str) -> Any:
    root = compose_yaml(text, file, "a workflow")
    if not _is_mapping(root):
        raise UsageError(f"{file}: expected a workflow (a YAML mapping) at the top level")
    return root


def _is_mapping(node: Any) -> bool:
    from ruamel.yaml.nodes import MappingNode

    return isinstance(node, MappingNode)


def _only_entry(mapping: Any, key: str, file: str, where: str, line: int) -> tuple[Any, Any]:
    entries = [(k, v) for k, v in mapping.value if getattr(k, "value", None) == key]
    if not entries:
        raise UsageError(
            f"{file}:{line}: no {key!r} key in {where}: the deploy workflow must set "
            f"{key} there (config deploy.workflow / deploy.sha_key)"
        )
    if len(entries) > 1:
        lines = ", ".join(str(k.start_mark.line + 1) for k, _ in entries)
        raise UsageError(f"{file}: {key!r} appears {len(entries)} times in {where} (lines {lines})")
    return entries[0]


def _scalar(text: str, name: Any, node: Any, file: str, key: str) -> _Scalar:
    from ruamel.yaml.nodes import ScalarNode

    line = node.start_mark.line + 1
    refuse = UsageError(
        f"{file}:{line}: env.{key} is not a plain or quoted one-line value (an alias, a block "
        f"or an empty value): write `{key}: <40-hex sha>`"
    )
    # An alias resolves to the anchored node elsewhere: its marks lie before our key.
    if not isinstance(node, ScalarNode) or node.start_mark.index < name.end_mark.index:
        raise refuse
    source = text[node.start_mark.index : node.end_mark.index]
    quote = node.style if node.style in ("'", '"') else ""
    written = f"{quote}{node.value}{quote}"
    properties = source[: len(source) - len(written)]
    # What precedes the value may only be properties: `&anchor` or `!tag`.
    if not node.value or not source.endswith(written) or not _only_properties(properties):
        raise refuse
    end = node.end_mark.index - len(quote)
    return _Scalar(end - len(node.value), end, line, node.value)


def _only_properties(text: str) -> bool:
    return all(word[0] in "&!" for word in text.split())


def overrides(text: str, file: str, key: str) -> list[tuple[str, Site]]:
    """Every place below the top level that sets env.<key> for a job or a step, as written:
    what the deploying job sees wins over the top-level value. A value no reader can know
    before the run (an `env:` that is an expression, a step writing `$GITHUB_ENV`) comes back
    as `<...>` so the gate can block on it."""
    root = _compose(text, file)
    jobs = _value(root, "jobs")
    if not _is_mapping(jobs):
        return []
    found: list[tuple[str, Site]] = []
    for job_key, job in jobs.value:
        if not _is_mapping(job):
            continue
        place = f"job {job_key.value!r}"
        found += _env_entries(_value(job, "env"), key, file, place)
        steps = _value(job, "steps")
        for number, step in enumerate(getattr(steps, "value", None) or [], start=1):
            if not _is_mapping(step):
                continue
            named = _value(step, "name") or _value(step, "id")
            label = f"{place} step {number}" + (f" ({named.value})" if _is_text(named) else "")
            found += _env_entries(_value(step, "env"), key, file, label)
            run = _value(step, "run")
            if _is_text(run) and "GITHUB_ENV" in run.value and key in run.value:
                line = run.start_mark.line + 1
                found.append((f"{label} run", Site(file, line, "<written to $GITHUB_ENV>")))
    return found


def _env_entries(env: Any, key: str, file: str, place: str) -> list[tuple[str, Site]]:
    if env is None:
        return []
    line = env.start_mark.line + 1
    if not _is_mapping(env):
        shown = env.value if _is_text(env) else "not a mapping"
        return [(f"{place} env", Site(file, line, f"<env is {shown}>"))]
    return [
        (f"{place} env", Site(file, name.start_mark.line + 1, _shown(node)))
        for name, node in env.value
        if getattr(name, "value", None) == key
    ]


def _shown(node: Any) -> str:
    return str(node.value) if _is_text(node) else "<not a plain value>"


def _value(mapping: Any, key: str) -> Any:
    if not _is_mapping(mapping):
        return None
    return next((v for k, v in mapping.value if getattr(k, "value", None) == key), None)


def _is_text(node: Any) -> bool:
    from ruamel.yaml.nodes import ScalarNode

    return isinstance(node, ScalarNode)
