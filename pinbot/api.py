"""pinbot as a library: scan, check, cut (plan and apply), gate and probe as typed functions.

Each function returns the data `pinbot --json COMMAND` prints - the same keys, the same values -
and prints nothing: no stdout, no stderr, no `$GITHUB_OUTPUT`, no step summary. Failures raise
pinbot's exceptions (`pinbot.errors`): `UsageError` for bad input (the CLI's exit 2),
`ExternalError` when a registry, git remote, GitHub, docker or a server failed (exit 3), and
`NegativeVerdict` where a command refuses to go on (cutting a tag without the capability: the
CLI's exit 1). A negative answer that is data is returned, not raised: nothing qualifies
(`selected` is None), the gate blocks (`verdict == "block"`), the probe saw no native resume.

Settings come from `config` (a pinbot.toml, or a pyproject.toml with [tool.pinbot]) or, as on the
command line, from ./pinbot.toml or ./pyproject.toml when it is None. Tokens come from the
environment, as for the CLI; PINBOT_<FLAG> variables do not (a call says what it means).

The arguments pass through the CLI's own parser, where pinbot validates what comes in
(docs/security.md): a value the CLI refuses is refused here with the same message, and the
command then runs on the same typed options as from the command line.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Required, TypedDict, Unpack, cast

from pinbot.errors import ExternalError
from pinbot.report import Output

__all__ = [
    "CheckReport",
    "CutArguments",
    "GateReport",
    "ImageArguments",
    "IncompleteResult",
    "ProbeReport",
    "ScanReport",
    "apply_cut",
    "check",
    "gate",
    "plan_cut",
    "probe",
    "scan",
]

PathLike = str | Path
Profile = Literal["openhands", "openhands-cloud-chart"]


class Evidence(TypedDict):
    detector: str
    result: str
    detail: str


class Candidate(TypedDict):
    tag: str
    digest: str | None
    version: str | None
    build_sha: str | None
    verdict: str  # pass, fail, error, not-examined
    evidence: list[Evidence]


class Selected(TypedDict):
    tag: str
    digest: str
    ref: str  # IMAGE:TAG@DIGEST


class ScanReport(TypedDict):
    image: str
    capability: str
    selected: Selected | None
    current: str | None
    candidates: list[Candidate]


class CheckReport(Candidate):
    image: str
    capability: str
    ref: str


class Check(TypedDict):
    name: str
    ok: bool
    detail: str


class GateReport(TypedDict):
    verdict: Literal["pass", "block"]
    openhands_sha: str | None
    image: str | None
    tag: str | None
    digest: str | None
    checks: list[Check]


class AgentReport(TypedDict):
    agent: str
    verdict: str  # native, bootstrap, lost, error
    conversation_id: str | None
    acp_session_id_before: str | None
    acp_session_id_after: str | None
    marker_found: bool | None
    codeword_recalled: bool | None
    restarted: bool | None
    seconds: float | None
    server_version_before: str | None
    server_version_after: str | None
    # each move of a conversation: from, to, verdict, restarted, the session ids, marker_found,
    # codeword_recalled, server_version_before/after (DESIGN.md §3 probe)
    legs: list[dict[str, Any]]


class ProbeReport(TypedDict):
    verdict: str  # the worst of the agents': error > lost > bootstrap > native
    target: str
    build_git_sha: str | None
    image: dict[str, Any] | None
    agents: list[AgentReport]


# What `pinbot --json cut` prints: tag, digest, image, openhands, deploy, changes, pull requests
# (docs/reference/json.md). Its shape follows the cut as it grows, so it is not pinned down here.
CutReport = dict[str, Any]


class IncompleteResult(ExternalError):
    """An external system failed part-way: the CLI would exit 3. `report` holds what was found
    (e.g. the gate's checks, one of them an error), when there is a report."""

    def __init__(self, message: str, report: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.report = report


class _Quiet(Output):
    """An Output that keeps the result and says nothing: no stdout or stderr, no workflow
    commands, no $GITHUB_OUTPUT or step summary."""

    def __init__(self) -> None:
        super().__init__(stdout=io.StringIO(), stderr=io.StringIO())
        self.data: dict[str, Any] | None = None
        self.errors: list[str] = []

    def mask(self, secret: str) -> None:
        if len(secret) >= 4:
            self._secrets.add(secret)  # still redacted from messages; no ::add-mask:: line

    def progress(self, message: str) -> None:
        pass

    def status(self, key: str, message: str, done: bool = False) -> None:
        pass

    def error(self, message: str) -> None:
        self.errors.append(self.redact(message))

    def result(self, data: dict[str, Any], text: str) -> None:
        self.data = data

    def github(self, *args: Any, **kwargs: Any) -> None:
        pass


class ImageArguments(TypedDict, total=False):
    """Which image and how to examine it (the image and detector flags), and the settings:
    what scan, check, gate, plan_cut and apply_cut all take, by keyword."""

    image: str | None
    registry_url: str | None
    variant: str | None
    sdk: str | None
    detectors: Sequence[str] | None
    include_sha_tags: bool
    max_candidates: int | None
    config: PathLike | None  # a pinbot.toml or pyproject.toml (default: ./pinbot.toml, ...)
    no_cache: bool  # ignore the digest-keyed verdict cache (default: False)


class CutArguments(ImageArguments, total=False):
    """What plan_cut and apply_cut take: `cut`'s flags, by keyword."""

    tag: str | None  # or latest=True
    latest: bool
    openhands: Required[str]
    openhands_branch: Required[str | Sequence[str]]  # one branch, or several release lines
    deploy: str | None  # without it only the OpenHands branches are pinned
    deploy_branch: str | None
    require_commit: str | Sequence[str] | None
    force_capability: bool
    allow_held: bool  # pin an image whose pinbot pin was reverted on the branch
    profile: Profile | None  # which pin sites (default: config [pin], else openhands)
    index_url: str | None  # where the pinned version's packages must be published
    probe_report: PathLike | None  # a probe report of the image: its leg table goes in the PRs


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """A function's keywords, its `**given` spread among them."""
    return {**{k: v for k, v in values.items() if k != "given"}, **values.get("given", {})}


def _run(command: str, given: dict[str, Any]) -> dict[str, Any]:
    """Run `command` as the CLI would - the same validation, settings and code - but quietly,
    and hand back its JSON result. The keywords become its command line (pinbot.options.argv),
    with no PINBOT_* defaults: a library call says what it means."""
    from pinbot import cli, options

    args = cli.parse(cli.make_parser(), options.argv(command, given))
    out = _Quiet()
    code = cli._dispatch(args, out)
    if code == 3:
        message = out.errors[-1] if out.errors else f"{command}: an external system failed"
        raise IncompleteResult(message, out.data)
    if out.data is None:  # every command reports a result before it returns 0 or 1
        raise ExternalError(f"{command}: no result ({'; '.join(out.errors) or 'no reason given'})")
    return out.data


def scan(
    *,
    current: str | None = None,
    all: bool = False,
    openhands: str | None = None,
    openhands_branch: str | None = None,
    **given: Unpack[ImageArguments],
) -> ScanReport:
    """Release tags newest first, each with its digest, build sha, verdict and evidence; the
    newest that qualifies is `selected` (None when none does: data, not an error). With
    `openhands` and `openhands_branch`, that branch's pin is the current one and an image whose
    pinbot pin was reverted there is held (listed in `holds`, never selected). `all` examines
    every candidate instead of stopping at the first that qualifies."""
    return cast(ScanReport, _run("scan", _given(locals())))


def check(ref: str, **given: Unpack[ImageArguments]) -> CheckReport:
    """One image (TAG, sha256:DIGEST, REPO:TAG or REPO@DIGEST): its verdict and evidence. A
    verdict that could not be reached (`error`) raises IncompleteResult."""
    return cast(CheckReport, _run("check", _given(locals())))


def _cut(given: dict[str, Any]) -> CutReport:
    if (given.get("tag") is None) == (not given.get("latest")):
        from pinbot.errors import UsageError

        raise UsageError("cut: give either tag=TAG or latest=True")
    return _run("cut", given)


def plan_cut(**given: Unpack[CutArguments]) -> CutReport:
    """The cut as `--dry-run` plans it: the commits and their diffs, the PRs; nothing is pushed.
    A tag without the capability raises NegativeVerdict (unless `force_capability`)."""
    return _cut({**given, "dry_run": True})


def apply_cut(
    *, push: bool = True, open_prs: bool = False, **given: Unpack[CutArguments]
) -> CutReport:
    """The cut, done: the commits built from the facts as they are now (idempotent: a second
    call changes nothing), pushed with `push`, the two PRs opened or updated with `open_prs`."""
    return _cut(_given(locals()))


def gate(
    *,
    deploy: str,
    openhands: str,
    require_commit: str | Sequence[str] | None = None,
    allow_retag: bool = False,
    require_probe: PathLike | None = None,
    require_rollback_safe: bool = False,
    profile: Profile | None = None,
    **given: Unpack[ImageArguments],
) -> GateReport:
    """What the deploy (REPO[@REF]) would run, checked. A block is data (`verdict == "block"`,
    the failing checks say why); a check that could not run raises IncompleteResult."""
    return cast(GateReport, _run("gate", _given(locals())))


def probe(
    *,
    target: Literal["app", "agent-server", "acp"] = "app",
    agents: Sequence[str] | None = None,
    timeout: float | None = None,
    app_url: str | None = None,
    app_auth: Literal["bearer", "session-key"] | None = None,
    recycle: Literal["pause", "restart", "command"] | None = None,
    image: str | None = None,
    registry_url: str | None = None,
    server_command: str | None = None,
    agent_server_url: str | None = None,
    recycle_command: str | None = None,
    acp_command: str | None = None,
    report: PathLike | None = None,
    keep: bool = False,
    from_image: str | None = None,
    from_server_command: str | None = None,
    from_acp_command: str | None = None,
    rollback: bool = False,
    config: PathLike | None = None,
    no_cache: bool = False,
) -> ProbeReport:
    """Plant a codeword, recycle, ask for it back (docs/guides/probe.md). Native, bootstrap and
    lost are data (`verdict`); an `error` verdict raises IncompleteResult with the report
    attached."""
    return cast(ProbeReport, _run("probe", _given(locals())))
