"""Pull requests: the ones a cut opens (idempotent, cross-linked) and the commits a PR carries.

A PR body carries pinbot's section between two HTML comments; the opening one holds the cut as
JSON (the machine-readable marker). Re-running finds the PR by its head branch and rewrites only
that section, and only when it changed: no second PR, no needless edit, a human's text kept.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pinbot import output
from pinbot.commits import GitHubRepo, github_token
from pinbot.config import PrSettings
from pinbot.errors import ExternalError, UsageError
from pinbot.github.client import Forge, open_forge
from pinbot.model import Evidence
from pinbot.report import markdown_table

BEGIN = "<!-- pinbot:begin "
END = "<!-- pinbot:end -->"
_SECTION = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)


@dataclass(frozen=True)
class PullSpec:
    """A PR the cut wants: data, so the plan can print it before anything is opened."""

    role: str  # unique among a cut's PRs ("deploy", "openhands:<branch>")
    repo: GitHubRepo
    head: str
    base: str
    title: str
    marker: Mapping[str, Any]
    section: str  # markdown between the markers; "{other}" stands for the linked PR's link
    links: str = ""  # the role of the PR this one links ("{other}"); "": none

    def body_section(self, other: str | None) -> str:
        link = other or "none"
        # `<`, `>` and `&` as JSON escapes: no value can close the comment and break the marker.
        data = json.dumps(dict(self.marker), sort_keys=True)
        data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return f"{BEGIN}{data} -->\n{self.section.replace('{other}', link)}\n{END}"


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    created: bool = False


def render_section(
    *,
    title: str,
    facts: Sequence[tuple[str, str]],
    evidence: Sequence[Evidence],
    notes: Sequence[str] = (),
) -> str:
    """The evidence a reviewer needs: what is pinned, where it came from, what the checks said."""
    parts = [f"### {title}", "", markdown_table(("pin", "value"), facts).rstrip("\n")]
    if evidence:
        rows = [(e.detector, e.result, output.markdown(e.detail)) for e in evidence]
        parts += ["", markdown_table(("check", "result", "detail"), rows).rstrip("\n")]
    parts += ["", *notes] if notes else []
    return "\n".join(parts).rstrip("\n")


def merge_section(body: str | None, section: str) -> str:
    """`body` with pinbot's section replaced (or appended): a human's text stays as it is."""
    text = body or ""
    if _SECTION.search(text):
        return _SECTION.sub(lambda _: section, text, count=1)
    return f"{text.rstrip()}\n\n{section}" if text.strip() else section


def ensure_pulls(
    forge: Forge, specs: Sequence[PullSpec], conventions: PrSettings | None = None
) -> dict[str, PullRequest]:
    """Open the PRs that do not exist (as a draft, with the labels, reviewers and assignees
    of `conventions`), then make each body link the one it names (`links`): a re-run finds
    them all, computes the same bodies, and writes nothing."""
    found = {spec.role: find_pull(forge, spec) for spec in specs}
    created: set[str] = set()
    for spec in specs:
        if found[spec.role] is None:
            found[spec.role] = _create(forge, spec, _other(found, spec.links), conventions)
            created.add(spec.role)
    done = {}
    for spec in specs:
        pull = _update(forge, found[spec.role], spec, _other(found, spec.links))
        done[spec.role] = dataclasses.replace(pull, created=spec.role in created)
    return done


def find_pull(forge: Forge, spec: PullSpec) -> Any | None:
    """The open PR from `spec.head` into `spec.base`, preferring the one carrying our
    marker. A PR from pinbot's head into another base is not pinbot's: it is left alone."""
    listed = forge.call(
        f"listing pull requests of {spec.repo.full_name}",
        lambda: list(
            forge.repo(spec.repo).get_pulls(
                state="open", head=f"{spec.repo.owner}:{spec.head}", base=spec.base
            )
        ),
    )
    pulls = [p for p in listed if _base_ref(p) == spec.base and _head_ref(p) == spec.head]
    marked = [p for p in pulls if BEGIN in (p.body or "")]
    return (marked or pulls or [None])[0]


def _create(forge: Forge, spec: PullSpec, other: str | None, conventions: PrSettings | None) -> Any:
    draft = bool(conventions and conventions.draft)
    try:
        pull = forge.call(
            f"opening a pull request on {spec.repo.full_name}",
            lambda: forge.repo(spec.repo).create_pull(
                base=spec.base,
                head=spec.head,
                title=spec.title,
                body=spec.body_section(other),
                draft=draft,
            ),
        )
    except ExternalError as exc:
        # 422 "already exists": the listing lagged, or a retried POST had in fact gone
        # through. Either way the PR is there: take it rather than fail or open a second.
        existing = find_pull(forge, spec) if "already exists" in str(exc) else None
        if existing is None:
            raise
        return existing
    if conventions is not None:
        _dress(forge, pull, conventions)
    return pull


def _dress(forge: Forge, pull: Any, conventions: PrSettings) -> None:
    """A new PR's labels, reviewers (ORG/TEAM: a team) and assignees, as configured."""
    where = pull.html_url
    if conventions.labels:
        forge.call(f"labelling {where}", lambda: pull.add_to_labels(*conventions.labels))
    users = [r for r in conventions.reviewers if "/" not in r]
    teams = [r.split("/", 1)[1] for r in conventions.reviewers if "/" in r]
    if users or teams:
        forge.call(
            f"requesting reviews on {where}",
            lambda: pull.create_review_request(reviewers=users, team_reviewers=teams),
        )
    if conventions.assignees:
        forge.call(f"assigning {where}", lambda: pull.add_to_assignees(*conventions.assignees))


def _update(forge: Forge, pull: Any, spec: PullSpec, other: str | None) -> PullRequest:
    """Rewrite pinbot's section of `pull` when it differs; no request when it does not."""
    body = merge_section(pull.body, spec.body_section(other))
    if body == (pull.body or ""):
        return PullRequest(pull.number, pull.html_url)
    forge.call(f"updating {pull.html_url}", lambda: pull.edit(body=body))
    return PullRequest(pull.number, pull.html_url)


def _base_ref(pull: Any) -> str:
    return str(pull.base.ref)


def _head_ref(pull: Any) -> str:
    return str(pull.head.ref)


def _other(found: Mapping[str, Any], role: str) -> str | None:
    pull = found.get(role)
    return str(pull.html_url) if pull is not None else None


def with_pr_commits(
    commits: Sequence[str], prs: Sequence[int], repo: GitHubRepo | None, timeout: float
) -> tuple[str, ...]:
    """The backend commits to require: the shas given, then each pull request's commits."""
    shas = list(commits)
    if prs:
        if repo is None or github_token() is None:
            raise UsageError(
                "config require_prs names pull requests, which needs a GitHub --openhands "
                "repository and GITHUB_TOKEN; set them, or list the commits in require_commits"
            )
        forge = open_forge(timeout)
        for number in prs:
            shas += _pr_commits(forge, repo, number)
    return tuple(dict.fromkeys(shas))


def _pr_commits(forge: Forge, repo: GitHubRepo, number: int) -> list[str]:
    """The commits of PR #number (what a branch must contain to carry that PR)."""
    pull = forge.call(
        f"reading PR #{number} of {repo.full_name}", lambda: forge.repo(repo).get_pull(number)
    )
    shas: list[str] = forge.call(
        f"listing the commits of PR #{number}", lambda: [c.sha for c in pull.get_commits()]
    )
    return shas
