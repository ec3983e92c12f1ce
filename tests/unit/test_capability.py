from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import responses

from pinbot.capability import (
    NO_BUILD_SHA,
    ImageFacts,
    SourceDetector,
    VerdictCache,
    judge,
    make_detectors,
    open_sdk,
)
from pinbot.config import ROUTE_FILE, Settings
from pinbot.errors import ExternalError, UsageError
from pinbot.git.sdk import GitClone, GitMirror
from pinbot.github.contents import GithubContents
from pinbot.model import Evidence

DIGEST = "sha256:" + "d" * 64
SHA = "1" * 40
BOTH = ("linux/amd64", "linux/arm64")
API = "https://api.github.com/repos/OpenHands/software-agent-sdk"
ROUTE_DIR, ROUTE_NAME = ROUTE_FILE.rsplit("/", 1)


class FakeDetector:
    def __init__(self, name: str, result: str) -> None:
        self.name = name
        self.result = result
        self.calls = 0

    def check(self, facts: ImageFacts) -> Evidence:
        self.calls += 1
        return Evidence(self.name, self.result, f"{self.name} said {self.result}")  # type: ignore[arg-type]


class FakeSdk:
    where = "the fake SDK"

    def __init__(self, files: dict[str, set[str]], broken: bool = False) -> None:
        self.files = files
        self.broken = broken
        self.calls = 0

    def has_file(self, sha: str, path: str) -> bool:
        self.calls += 1
        if self.broken:
            raise ExternalError("GitHub API answered 502")
        return path in self.files.get(sha, set())


def facts(build_sha: str | None = SHA, platforms: tuple[str, ...] = BOTH) -> ImageFacts:
    return ImageFacts(DIGEST, platforms, build_sha=build_sha)


@pytest.fixture
def cache(tmp_path: Path) -> VerdictCache:
    return VerdictCache(tmp_path / "verdicts")


# -- judge and the cache -------------------------------------------------------------------


def test_judge_passes_when_every_detector_passes(cache: VerdictCache) -> None:
    verdict = judge(facts(), [FakeDetector("source", "pass")], cache, "k", BOTH)
    assert verdict.result == "pass"
    assert [(e.detector, e.result) for e in verdict.evidence] == [
        ("platforms", "pass"),
        ("source", "pass"),
    ]


def test_judge_skips_later_detectors_after_a_fail(cache: VerdictCache) -> None:
    later = FakeDetector("openapi", "pass")
    verdict = judge(facts(), [FakeDetector("source", "fail"), later], cache, "k", BOTH)
    assert verdict.result == "fail"
    assert verdict.evidence[-1] == Evidence("openapi", "skip", "not run: source said fail")
    assert later.calls == 0


def test_judge_fails_on_a_missing_platform_without_running_detectors(cache: VerdictCache) -> None:
    source = FakeDetector("source", "pass")
    verdict = judge(facts(platforms=("linux/amd64",)), [source], cache, "k", BOTH)
    assert verdict.result == "fail"
    assert verdict.evidence[0].detail == "missing linux/arm64 (has linux/amd64)"
    assert source.calls == 0


def test_pass_and_fail_are_cached_by_digest(cache: VerdictCache) -> None:
    first = FakeDetector("source", "fail")
    judge(facts(), [first], cache, "k", BOTH)
    again = FakeDetector("source", "pass")
    verdict = judge(facts(), [again], cache, "k", BOTH)
    assert (verdict.result, again.calls) == ("fail", 0)


def test_errors_are_never_cached(cache: VerdictCache) -> None:
    judge(facts(), [FakeDetector("source", "error")], cache, "k", BOTH)
    retry = FakeDetector("source", "pass")
    verdict = judge(facts(), [retry], cache, "k", BOTH)
    assert (verdict.result, retry.calls) == ("pass", 1)


def test_a_new_capability_key_ignores_old_verdicts(cache: VerdictCache) -> None:
    judge(facts(), [FakeDetector("source", "fail")], cache, "old", BOTH)
    verdict = judge(facts(), [FakeDetector("source", "pass")], cache, "new", BOTH)
    assert verdict.result == "pass"


# -- the source detector --------------------------------------------------------------------


def test_source_passes_when_the_route_file_is_at_the_build_sha() -> None:
    detector = SourceDetector(FakeSdk({SHA: {ROUTE_FILE}}), ROUTE_FILE)
    evidence = detector.check(facts())
    assert evidence == Evidence(
        "source",
        "pass",
        f"route file acp_session_blob_router.py present at {SHA[:12]} in the fake SDK",
    )


def test_source_fails_when_the_route_file_is_absent() -> None:
    evidence = SourceDetector(FakeSdk({SHA: set()}), ROUTE_FILE).check(facts())
    assert evidence == Evidence(
        "source",
        "fail",
        f"route file acp_session_blob_router.py absent at {SHA[:12]} in the fake SDK",
    )


def test_source_fails_without_a_build_sha() -> None:
    sdk = FakeSdk({})
    evidence = SourceDetector(sdk, ROUTE_FILE).check(facts(build_sha=None))
    assert evidence == Evidence("source", "fail", NO_BUILD_SHA)
    assert sdk.calls == 0


def test_source_fails_on_a_build_sha_that_is_not_a_commit_sha() -> None:
    evidence = SourceDetector(FakeSdk({}), ROUTE_FILE).check(facts(build_sha="--upload-pack=x"))
    assert evidence.result == "fail"
    assert "not a 40-hex commit sha" in evidence.detail


def test_source_reports_infrastructure_failures_as_error() -> None:
    evidence = SourceDetector(FakeSdk({}, broken=True), ROUTE_FILE).check(facts())
    assert evidence == Evidence("source", "error", "GitHub API answered 502")


def test_source_asks_the_sdk_once_per_build_sha() -> None:
    sdk = FakeSdk({SHA: {ROUTE_FILE}})
    detector = SourceDetector(sdk, ROUTE_FILE)
    other_digest = ImageFacts("sha256:" + "e" * 64, BOTH, build_sha=SHA)
    assert detector.check(facts()).result == detector.check(other_digest).result == "pass"
    assert sdk.calls == 1


# -- choosing the SDK backend ---------------------------------------------------------------

CACHE = Path("pinbot-cache")  # pinbot's cache directory, as the run's Context carries it


@pytest.mark.parametrize("spec", [None, ""])
def test_open_sdk_without_a_spec_asks_github(spec: str | None) -> None:
    tree = open_sdk(spec, Settings(), CACHE)
    assert isinstance(tree, GithubContents)
    assert tree.repo == "OpenHands/software-agent-sdk"


@pytest.mark.parametrize(
    "spec", ["file:///srv/sdk.git", "https://github.com/x/y.git", "git@github.com:x/y.git"]
)
def test_open_sdk_treats_urls_as_mirrors(spec: str) -> None:
    tree = open_sdk(spec, Settings(), CACHE)
    assert isinstance(tree, GitMirror)
    assert tree.path.parent == CACHE / "sdk"


def test_open_sdk_rejects_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such directory"):
        open_sdk(str(tmp_path / "nope"), Settings(), CACHE)


def test_open_sdk_rejects_a_directory_that_is_not_a_clone(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a git repository"):
        open_sdk(str(tmp_path), Settings(), CACHE)


def test_make_detectors_keeps_the_order_given() -> None:
    detectors = make_detectors(Settings(), ["openapi", "source"], None, "ghcr.io/x/y", CACHE)
    assert [d.name for d in detectors] == ["openapi", "source"]


def test_make_detectors_rejects_an_unknown_name() -> None:
    with pytest.raises(UsageError, match="'sauce' is unknown"):
        make_detectors(Settings(), ["sauce"], None, "ghcr.io/x/y", CACHE)


def test_open_sdk_with_a_path_opens_that_clone(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert isinstance(open_sdk(str(tmp_path), Settings(), CACHE), GitClone)


# -- the GitHub contents backend ------------------------------------------------------------


def listing(*names: str) -> list[dict[str, str]]:
    return [{"name": n, "type": "file", "path": f"{ROUTE_DIR}/{n}"} for n in names]


def contents_url() -> str:
    return f"{API}/contents/{ROUTE_DIR}"


@responses.activate
def test_github_finds_the_file_in_the_directory_listing() -> None:
    responses.get(contents_url(), json=listing("server.py", ROUTE_NAME))
    assert GithubContents("OpenHands/software-agent-sdk").has_file(SHA, ROUTE_FILE)
    assert responses.calls[0].request.params == {"ref": SHA}


@responses.activate
def test_github_answers_false_when_the_listing_lacks_the_file() -> None:
    responses.get(contents_url(), json=listing("server.py"))
    assert not GithubContents("OpenHands/software-agent-sdk").has_file(SHA, ROUTE_FILE)


@responses.activate
def test_github_sends_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "t0ken")
    responses.get(contents_url(), json=listing(ROUTE_NAME))
    GithubContents("OpenHands/software-agent-sdk").has_file(SHA, ROUTE_FILE)
    assert responses.calls[0].request.headers["Authorization"] == "Bearer t0ken"


@responses.activate
def test_github_api_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example/api/v3/")
    url = f"https://ghe.example/api/v3/repos/o/sdk/contents/{ROUTE_DIR}"
    responses.get(url, json=listing(ROUTE_NAME))
    assert GithubContents("o/sdk").has_file(SHA, ROUTE_FILE)


@responses.activate
def test_github_404_for_a_directory_of_a_known_commit_means_absent() -> None:
    responses.get(contents_url(), status=404, json={"message": "Not Found"})
    responses.get(f"{API}/commits/{SHA}", json={"sha": SHA})
    assert not GithubContents("OpenHands/software-agent-sdk").has_file(SHA, ROUTE_FILE)


@responses.activate
def test_github_404_for_an_unknown_commit_is_an_error() -> None:
    body = {"message": f"No commit found for the ref {SHA}"}
    responses.get(contents_url(), status=404, json=body)
    with pytest.raises(ExternalError, match=f"commit {SHA} is not in github.com/OpenHands"):
        GithubContents("OpenHands/software-agent-sdk").has_file(SHA, ROUTE_FILE)


@responses.activate
def test_github_404_that_cannot_find_the_commit_either_is_an_error() -> None:
    responses.get(contents_url(), status=404, json={"message": "Not Found"})
    responses.get(f"{API}/commits/{SHA}", status=422, json={"message": "No commit found for SHA"})
    with pytest.raises(ExternalError, match="check config 'sdk_repo', or set GITHUB_TOKEN"):
        GithubContents("OpenHands/software-agent-sdk").has_file(SHA, ROUTE_FILE)


@responses.activate
def test_github_rate_limit_403_is_an_error_with_advice() -> None:
    responses.get(
        contents_url(),
        status=403,
        headers={"Retry-After": "60", "X-RateLimit-Remaining": "0"},
        json={"message": "API rate limit exceeded"},
    )
    with pytest.raises(ExternalError) as caught:
        GithubContents("OpenHands/software-agent-sdk").has_file(SHA, ROUTE_FILE)
    message = str(caught.value)
    assert "answered 403 (API rate limit exceeded)" in message
    assert "set GITHUB_TOKEN" in message
    assert "retry after 60s" in message
    assert len(responses.calls) == 1


# `responses` applies the adapter's Retry policy but does not sleep; the waiting itself
# (backoff, Retry-After) is tested against a loopback server in tests/integration.


@responses.activate
def test_github_retries_5xx_then_succeeds() -> None:
    responses.get(contents_url(), status=500, json={"message": "boom"})
    responses.get(contents_url(), status=502, json={"message": "bad gateway"})
    responses.get(contents_url(), json=listing(ROUTE_NAME))
    assert GithubContents("OpenHands/software-agent-sdk").has_file(SHA, ROUTE_FILE)
    assert len(responses.calls) == 3


@responses.activate
def test_github_retries_429() -> None:
    responses.get(contents_url(), status=429, headers={"Retry-After": "0"}, json={})
    responses.get(contents_url(), json=listing(ROUTE_NAME))
    assert GithubContents("OpenHands/software-agent-sdk").has_file(SHA, ROUTE_FILE)
    assert len(responses.calls) == 2


@responses.activate
def test_github_persistent_5xx_is_an_error() -> None:
    responses.get(contents_url(), status=503, body="unavailable")
    with pytest.raises(ExternalError, match="answered 503"):
        GithubContents("OpenHands/software-agent-sdk").has_file(SHA, ROUTE_FILE)
    assert len(responses.calls) == 5


@responses.activate
def test_source_detector_over_github_records_its_evidence(cache: VerdictCache) -> None:
    responses.get(contents_url(), json=listing(ROUTE_NAME))
    detector = SourceDetector(GithubContents("OpenHands/software-agent-sdk"), ROUTE_FILE)
    verdict = judge(facts(), [detector], cache, "k", BOTH)
    assert verdict.evidence[-1].detail == (
        f"route file acp_session_blob_router.py present at {SHA[:12]} in "
        "github.com/OpenHands/software-agent-sdk"
    )
    assert cache.evidence(DIGEST, "k", "source") == verdict.evidence[-1]
    assert judge(facts(), [detector], cache, "k", BOTH) == verdict
    assert len(responses.calls) == 1
