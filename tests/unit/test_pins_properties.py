"""Properties of the pin site kinds over generated files (hypothesis), CRLF included.

For any version and any surrounding text, a rewrite changes exactly the pinned versions (the
text outside them is byte for byte what it was), a rewrite back restores the file, and arbitrary
text is either read or refused with a UsageError, never a crash.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings, strategies as st

from pinbot.errors import UsageError
from pinbot.pins import lock, requirement, yaml_value
from pinbot.pins.text import Lines

FAST = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
PACKAGES = ("openhands-sdk", "openhands-tools")
versions = st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True)
endings = st.sampled_from(["\n", "\r\n"])
quotes = st.sampled_from(['"', "'"])
comments = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
near_misses = st.text(
    st.sampled_from(list("openhands-sdk=[]{}\"'#\n\r\t .,1;version[tool.poetry]")), max_size=120
)


def pyproject(old: str, quote: str, comment: str, end: str) -> str:
    lines = [
        "[project]",
        "dependencies = [",
        f"  {quote}openhands-sdk=={old}{quote},  # {comment}",
        f"  {quote}openhands-tools[x] == {old} ; python_version > '3'{quote},"
        if quote == '"'
        else f"  {quote}openhands-tools=={old}{quote},",
        "]",
        "[tool.poetry.dependencies]",
        f"openhands-sdk = {quote}=={old}{quote}",
        f"openhands-tools = {{ version = {quote}{old}{quote} }}  # {comment}",
    ]
    return end.join(lines) + end


@FAST
@given(versions, versions, quotes, comments, endings)
def test_a_requirement_rewrite_changes_exactly_the_versions(
    old: str, new: str, quote: str, comment: str, end: str
) -> None:
    text = pyproject(old, quote, comment, end)
    rewritten, changes = requirement.rewrite(text, new, "pyproject.toml", PACKAGES)
    assert rewritten == pyproject(new, quote, comment, end)
    assert len(changes) == (0 if old == new else 4)
    back, _ = requirement.rewrite(rewritten, old, "pyproject.toml", PACKAGES)
    assert back == text


@FAST
@given(versions, versions, comments, endings)
def test_a_requirements_file_rewrite_changes_exactly_the_version(
    old: str, new: str, comment: str, end: str
) -> None:
    text = f"# {comment}{end}openhands-sdk=={old}  # {comment}{end}other=={old}{end}"
    rewritten, _ = requirement.rewrite(text, new, "requirements.txt", PACKAGES)
    assert rewritten == f"# {comment}{end}openhands-sdk=={new}  # {comment}{end}other=={old}{end}"


@FAST
@given(versions, versions, quotes, comments, endings)
def test_a_yaml_rewrite_changes_exactly_the_value(
    old: str, new: str, quote: str, comment: str, end: str
) -> None:
    def doc(version: str) -> str:
        return end.join(
            [f"# {comment}", "image:", f"  tag: {quote}{version}-python{quote}  # {comment}", ""]
        )

    rewritten, change = yaml_value.rewrite(doc(old), f"{new}-python", "v.yaml", "image.tag", "tag")
    assert rewritten == doc(new)
    assert change.line == 3


@FAST
@given(near_misses)
def test_arbitrary_text_is_read_or_refused(text: str) -> None:
    for file in ("pyproject.toml", "requirements.txt"):
        with contextlib.suppress(UsageError):
            requirement.read(text, file, PACKAGES)
    with contextlib.suppress(UsageError):
        yaml_value.read(text, "v.yaml", "image.tag", "tag")


@FAST
@given(st.text(st.sampled_from(list("ab\r\n")), max_size=60), st.data())
def test_a_line_number_counts_the_line_ends_before_it(text: str, data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, len(text)))
    ends = [m.end() for m in re.finditer(r"\r\n|\r|\n", text) if m.end() <= offset]
    assert Lines(text).at(offset) == len(ends) + 1


def test_lexing_a_large_lock_grows_linearly_with_its_size() -> None:
    entry = (
        '[[package]]\nname = "p{n}"\nversion = "1.0.{n}"\nfiles = [\n'
        + ('  {{file = "p-{n}.whl", hash = "sha256:{n:064}"}},\n' * 8)
        + "]\n"
    )
    small = "".join(entry.format(n=n) for n in range(200))
    large = "".join(entry.format(n=n) for n in range(2000))
    took = [_timed(lambda text=text: lock.locked(text, "poetry.lock")) for text in (small, large)]
    assert lock.locked(large, "poetry.lock")[-1].line == large.count("\n") - 10
    assert took[1] < 30 * took[0]  # 10x the text: linear is ~10x, the old rescan was ~100x


def _timed(step: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best
