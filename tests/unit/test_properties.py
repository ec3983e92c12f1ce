"""Properties of the rewriters and parsers, over generated inputs (hypothesis).

For any valid file a rewriter changes exactly the value: the text before and after the value's
span is byte for byte what it was. For any invalid tag or sha, validation refuses with a
UsageError. For arbitrary text, a rewriter or parser either answers or refuses with a
UsageError — it never crashes. Example counts are modest: this runs in the fast suite.
"""

from __future__ import annotations

import contextlib
import re
import string
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pinbot import versions
from pinbot.edits import workflow
from pinbot.errors import UsageError
from pinbot.model import SHA_RE, TAG_RE, ImageName, ImageRef, validate_sha, validate_tag
from pinbot.pins import compose, python_constant
from pinbot.registry.transport import _next_link

FAST = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
FILE = "pin.py"
CONSTANT = "AGENT_SERVER_IMAGE"
VARIABLE = "AGENT_SERVER_IMAGE_TAG"

tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,40}", fullmatch=True)
shas = st.from_regex(r"[0-9a-f]{40}", fullmatch=True)
endings = st.sampled_from(["\n", "\r\n"])
# Comment text: anything printable on one line (no line breaks of any kind Python knows).
comment_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
    max_size=30,
)
components = st.from_regex(r"[a-z0-9]+(?:[._-][a-z0-9]+)?", fullmatch=True)
repositories = st.lists(components, min_size=1, max_size=3).map("/".join)
# Text made of the pieces the rewriters look for: hits their edge cases far more often.
near_misses = st.one_of(
    st.text(max_size=200),
    st.text(
        st.sampled_from(list("AGENT_SERVER_IMAGE_TAG OPENHANDS_SHA env: ='\"\n\r\x00#${}:-&*!|>")),
        max_size=80,
    ),
)
hosts = st.sampled_from(["ghcr.io", "localhost:5000", "127.0.0.1:39999", "registry.example"])


# --- validation refuses what it must --------------------------------------------------------


@FAST
@given(st.text(max_size=140).filter(lambda t: not TAG_RE.match(t)))
def test_an_invalid_tag_is_refused(tag: str) -> None:
    with pytest.raises(UsageError):
        validate_tag(tag)


@FAST
@given(tags)
def test_a_valid_tag_is_accepted_as_it_is(tag: str) -> None:
    assert validate_tag(tag) == tag


@FAST
@given(st.text(max_size=45).filter(lambda t: not SHA_RE.match(t)))
def test_an_invalid_sha_is_refused(sha: str) -> None:
    with pytest.raises(UsageError):
        validate_sha(sha)


# --- the Python constant --------------------------------------------------------------------


@st.composite
def python_files(draw: st.DrawFn) -> tuple[str, str, str]:
    """(head, tag, tail): the file is head + tag + tail, the tag inside the constant."""
    eol = draw(endings)
    quote = draw(st.sampled_from(["'", '"']))
    repo = f"{draw(hosts)}/{draw(repositories)}"
    before = [f"# {draw(comment_text)}", f"# {CONSTANT} = 'mentioned in a comment:1'"]
    before += ['"""A docstring that names AGENT_SERVER_IMAGE too."""', "import os"]
    after = [f"OTHER = {quote}{draw(tags)}{quote}", "def f():", f"    {CONSTANT} = 'local:1'"]
    comment = draw(st.sampled_from(["", "  # keep in sync", f"  # {draw(comment_text)}"]))
    head = eol.join(draw(st.permutations(before))) + eol + f"{CONSTANT} = {quote}{repo}:"
    tail = f"{quote}{comment}{eol}" + eol.join(after) + eol
    return head, draw(tags), tail


@FAST
@given(python_files(), tags)
def test_the_python_rewrite_changes_exactly_the_tag(parts: tuple[str, str, str], new: str) -> None:
    head, old, tail = parts
    text, change = python_constant.rewrite(head + old + tail, new, FILE, CONSTANT)
    assert text == head + new + tail
    assert change.old.endswith(f":{old}") and change.new.endswith(f":{new}")


@FAST
@given(near_misses)
def test_the_python_rewrite_of_any_text_answers_or_refuses(text: str) -> None:
    """Never a crash; an answer holds the new tag and rewriting it again changes nothing."""
    try:
        written, change = python_constant.rewrite(text, "1.0.0-python", FILE, CONSTANT)
    except UsageError:
        return
    assert change.new.endswith(":1.0.0-python") and change.new in written
    assert python_constant.rewrite(written, "1.0.0-python", FILE, CONSTANT)[0] == written


# --- the compose defaults -------------------------------------------------------------------

filler = st.text(string.printable, max_size=40).filter(lambda t: "${" not in t)


@st.composite
def compose_files(draw: st.DrawFn) -> tuple[list[str], str]:
    """(the pieces between the defaults, the old tag): text = tag.join(pieces)."""
    old = draw(tags)
    count = draw(st.integers(min_value=1, max_value=4))
    pieces = [draw(filler) + f"${{{VARIABLE}:-" for _ in range(count)]
    rest = [f"}}{draw(filler)}" for _ in range(count)]
    joined = [pieces[0]] + [rest[i] + pieces[i + 1] for i in range(count - 1)] + [rest[-1]]
    return joined, old


@FAST
@given(compose_files(), tags)
def test_the_compose_rewrite_changes_exactly_every_default(
    parts: tuple[list[str], str], new: str
) -> None:
    pieces, old = parts
    text, changes = compose.rewrite(old.join(pieces), new, "compose.yml", VARIABLE)
    assert text == new.join(pieces)
    assert len(changes) == len(pieces) - 1


@FAST
@given(near_misses)
def test_the_compose_rewrite_of_any_text_answers_or_refuses(text: str) -> None:
    """Never a crash; an answer sets every default and rewriting it again changes nothing."""
    try:
        written, changes = compose.rewrite(text, "1.0.0-python", "compose.yml", VARIABLE)
    except UsageError:
        return
    assert changes and all(c.new.endswith("1.0.0-python") for c in changes)
    assert compose.rewrite(written, "1.0.0-python", "compose.yml", VARIABLE)[0] == written


# --- the deploy workflow --------------------------------------------------------------------

yaml_comment = st.text(string.ascii_letters + string.digits + " .,:-_()", max_size=30)


@st.composite
def workflows(draw: st.DrawFn) -> tuple[str, str, str]:
    """(head, sha, tail) of a deploy workflow whose top-level env sets OPENHANDS_SHA."""
    eol = draw(endings)
    quote = draw(st.sampled_from(["", "'", '"']))
    anchor = draw(st.sampled_from(["", "&sha "]))
    comment = draw(st.sampled_from(["", f"  # {draw(yaml_comment)}"]))
    others = [f"  RUNTIME_API_SHA: '{draw(shas)}'", f"  # {draw(yaml_comment)}"]
    head = eol.join(["name: Deploy", f"# {draw(yaml_comment)}", "env:", *others]) + eol
    head += f"  OPENHANDS_SHA: {anchor}{quote}"
    tail = f"{quote}{comment}{eol}" + eol.join(
        ["jobs:", "  deploy:", "    env:", f"      OPENHANDS_SHA: {draw(shas)}", ""]
    )
    return head, draw(shas), tail


@FAST
@given(workflows(), shas)
def test_the_workflow_rewrite_changes_exactly_the_sha(
    parts: tuple[str, str, str], new: str
) -> None:
    head, old, tail = parts
    text, change = workflow.rewrite(head + old + tail, new, "deploy.yaml", "OPENHANDS_SHA")
    assert text == head + new + tail
    assert (change.old, change.new) == (old, new)


@FAST
@given(near_misses)
def test_the_workflow_rewrite_of_any_text_answers_or_refuses(text: str) -> None:
    """Never a crash; an answer holds the new sha and rewriting it again changes nothing."""
    try:
        written, change = workflow.rewrite(text, "a" * 40, "deploy.yaml", "OPENHANDS_SHA")
    except UsageError:
        return
    assert "a" * 40 in change.new and "a" * 40 in written
    assert workflow.rewrite(written, "a" * 40, "deploy.yaml", "OPENHANDS_SHA")[0] == written


# --- tags, references and links -------------------------------------------------------------


@FAST
@given(
    st.integers(0, 999),
    st.integers(0, 999),
    st.integers(0, 999),
    st.sampled_from(["python", "java"]),
)
def test_release_tags_classify_with_their_version(
    major: int, minor: int, patch: int, variant: str
) -> None:
    info = versions.classify(f"{major}.{minor}.{patch}-{variant}", variant)
    assert info.kind == "release"
    assert str(info.version) == f"{major}.{minor}.{patch}"
    assert versions.classify(f"{major}.{minor}.{patch}-{variant}-amd64", variant).kind == "arch"


@FAST
@given(tags)
def test_any_tag_classifies_without_error(tag: str) -> None:
    assert versions.classify(tag, "python").kind in ("release", "sha", "floating", "arch", "other")


digests = st.from_regex(r"sha256:[0-9a-f]{64}", fullmatch=True)


@FAST
@given(hosts, repositories, st.one_of(st.none(), tags), st.one_of(st.none(), digests))
def test_an_image_reference_parses_back_to_itself(
    host: str, repo: str, tag: str | None, digest: str | None
) -> None:
    ref = ImageRef(ImageName(host, repo), tag, digest)
    if tag is None and digest is None:
        return
    assert ImageRef.parse(str(ref)) == ref


@FAST
@given(st.text(max_size=80))
def test_any_text_parses_as_a_reference_or_is_refused(text: str) -> None:
    with contextlib.suppress(UsageError):
        ImageRef.parse(text)


paths = st.lists(components, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


@FAST
@given(paths, st.from_regex(r"[a-z0-9.=&_-]{0,20}", fullmatch=True), st.booleans())
def test_a_next_link_is_followed_relative_to_the_page(path: str, query: str, quoted: bool) -> None:
    current = "https://ghcr.example/v2/a/b/tags/list?n=1000"
    target = f"{path}?{query}" if query else path
    rel = 'rel="next"' if quoted else "rel=next"
    header = f'<https://elsewhere.example/x>; rel="prev", <{target}>; {rel}'
    assert _next_link(header, current) == urllib.parse.urljoin(current, target)


@FAST
@given(st.text(max_size=120))
def test_any_link_header_gives_a_url_or_none(header: str) -> None:
    """Never a crash; a URL it gives is one the header names, resolved against the page."""
    page = "https://ghcr.example/v2/a/tags/list"
    found = _next_link(header, page)
    named = {urllib.parse.urljoin(page, url) for url in re.findall(r"<([^>]*)>", header)}
    assert found is None or found in named
