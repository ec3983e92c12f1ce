from __future__ import annotations

import re

import pytest
import responses

from pinbot import commits
from pinbot.errors import ExternalError, UsageError
from pinbot.github.client import open_forge
from pinbot.github.pulls import END, PullSpec, find_pull, merge_section, render_section
from pinbot.model import Evidence

SPEC = PullSpec(
    role="deploy",
    repo=commits.GitHubRepo("acme", "deploy"),
    head="pinbot/agent-server-1.27.0-python",
    base="main",
    title="Deploy",
    marker={"role": "deploy", "tag": "1.27.0-python"},
    section=render_section(
        title="pinbot: deploy",
        facts=[("tag", "`1.27.0-python`"), ("OpenHands PR", "{other}")],
        evidence=[Evidence("source", "pass", "route file | present")],
    ),
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/OpenHands/OpenHands", ("OpenHands", "OpenHands")),
        ("https://github.com/OpenHands/OpenHands.git", ("OpenHands", "OpenHands")),
        ("git@github.com:acme/deploy.git", ("acme", "deploy")),
        ("ssh://git@github.com/acme/deploy", ("acme", "deploy")),
        ("https://gitlab.com/acme/deploy", None),
        ("file:///srv/git/deploy.git", None),
        ("/srv/git/deploy.git", None),
        ("https://github.com/acme", None),
    ],
)
def test_github_remotes_are_recognised(url: str, expected: tuple[str, str] | None) -> None:
    found = commits.github_repo(url)
    assert ((found.owner, found.name) if found else None) == expected


def test_enterprise_hosts_come_from_github_server_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert commits.github_repo("https://git.corp.example/acme/deploy") is None
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://git.corp.example")
    assert commits.github_repo("https://git.corp.example/acme/deploy") == commits.GitHubRepo(
        "acme", "deploy"
    )


def test_the_section_holds_the_marker_the_link_and_an_escaped_evidence_table() -> None:
    body = SPEC.body_section("https://github.com/acme/OpenHands/pull/7")
    first, *rest = body.splitlines()
    assert first == '<!-- pinbot:begin {"role": "deploy", "tag": "1.27.0-python"} -->'
    assert rest[-1] == END
    assert "| OpenHands PR | https://github.com/acme/OpenHands/pull/7 |" in rest
    assert "| source | pass | route file &#124; present |" in rest


def test_merge_section_keeps_human_text_and_replaces_only_pinbots_part() -> None:
    old = SPEC.body_section(None)
    body = merge_section("Human text.\n", old)
    assert body == f"Human text.\n\n{old}"
    new = SPEC.body_section("https://x/pull/1")
    assert merge_section(body + "\nFooter", new) == f"Human text.\n\n{new}\nFooter"
    assert merge_section(None, new) == new


def test_open_forge_needs_a_token() -> None:
    with pytest.raises(UsageError, match="set GITHUB_TOKEN"):
        open_forge(5)


@responses.activate
def test_github_errors_become_external_errors_naming_the_action(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GH_TOKEN", "token-1234")
    responses.get(
        re.compile(r"https://api\.github\.com(:443)?/repos/acme/deploy/pulls"),
        status=403,
        json={"message": "Resource not accessible by integration"},
    )
    hub = open_forge(5)
    with pytest.raises(ExternalError) as info:
        find_pull(hub, SPEC)
    message = str(info.value)
    assert "GitHub said 403 while listing pull requests of acme/deploy" in message
    assert "Resource not accessible by integration" in message
    assert "GITHUB_TOKEN may write pull requests" in message
    call = responses.calls[0].request
    assert call.headers["Authorization"] == "token token-1234"
    assert "head=acme%3Apinbot%2Fagent-server-1.27.0-python" in call.url
