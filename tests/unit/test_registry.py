"""The registry client against a fake ghcr (responses): auth, paging, faults, digests."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import responses

from pinbot.demo.builds import Build, publish
from pinbot.demo.registry import Writer
from pinbot.errors import ExternalError
from pinbot.model import ImageName
from pinbot.registry.transport import PAGE_SIZE, RegistrySource
from testing.cli import Run, pinbot

HOST = "ghcr.example"
REPO = "openhands/agent-server"
BASE = f"https://{HOST}/v2/{REPO}"


class FakeGhcr(Writer):
    """Publishes into `responses`: manifests and blobs as a registry would serve them."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        super().__init__()
        self.rsps = rsps
        self.tags: list[str] = []

    def put_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.rsps.add("GET", f"{BASE}/blobs/{digest}", body=data)
        return digest

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        headers = {"Docker-Content-Digest": digest}
        for method in ("GET", "HEAD"):
            self.rsps.add(
                method,
                f"{BASE}/manifests/{reference}",
                body=data,
                content_type=media_type,
                headers=headers,
            )
        if not reference.startswith("sha256:"):
            self.tags.append(reference)
        return digest

    def serve_tags(self, page: int) -> None:
        """tags/list in pages of `page`, linked like ghcr: relative `Link` with `last=`."""
        chunks = [self.tags[i : i + page] for i in range(0, len(self.tags), page)]
        for number, chunk in enumerate(chunks):
            url = (
                f"{BASE}/tags/list?n={PAGE_SIZE}"
                if number == 0
                else f"{BASE}/tags/list?last={chunks[number - 1][-1]}&n={page}"
            )
            headers = {}
            if number + 1 < len(chunks):
                headers["Link"] = f'</v2/{REPO}/tags/list?last={chunk[-1]}&n={page}>; rel="next"'
            self.rsps.add(
                "GET",
                url,
                json={"name": REPO, "tags": chunk},
                headers=headers,
                match=[responses.matchers.query_string_matcher(url.split("?")[1])],
            )


@pytest.fixture
def ghcr(tmp_path: Path):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeGhcr(rsps)
        builds = [Build(version=f"1.{m}.0") for m in range(27, 35)] + [
            Build(version="1.35.0", routes=True)
        ]
        builds += [Build(version="1.36.0")]
        world = publish(fake, tmp_path / "sdk", builds, arch_tags=False)
        yield fake, world, rsps


def scan(world, *extra: str) -> Run:
    return pinbot("--json", "scan", "--image", f"{HOST}/{REPO}", "--sdk", str(world.sdk), *extra)


def test_tag_list_follows_ghcr_style_link_pagination(ghcr, capsys) -> None:
    fake, world, _ = ghcr
    fake.serve_tags(page=7)

    run = scan(world)

    assert run.code == 0
    report = run.data
    assert report["selected"]["tag"] == "1.35.0-python"
    assert [c["tag"] for c in report["candidates"]] == ["1.36.0-python", "1.35.0-python"]


def test_a_link_loop_is_an_external_error_not_a_hang(ghcr, capsys) -> None:
    _, world, rsps = ghcr
    rsps.add(
        "GET",
        f"{BASE}/tags/list",
        json={"tags": ["1.36.0-python"]},
        headers={"Link": f'</v2/{REPO}/tags/list?n=1000>; rel="next"'},
    )

    run = scan(world)

    assert run.code == 3
    assert "pagination loops" in run.err


def test_anonymous_bearer_token_flow_answers_a_401_challenge(ghcr, capsys) -> None:
    fake, world, rsps = ghcr
    challenge = {
        "WWW-Authenticate": f'Bearer realm="https://{HOST}/token",service="{HOST}",scope="repository:{REPO}:pull"'
    }
    rsps.add(
        "GET",
        f"{BASE}/tags/list",
        status=401,
        headers=challenge,
        match=[responses.matchers.header_matcher({"Accept": "*/*"}, strict_match=False)],
    )
    token = rsps.add(
        "GET",
        f"https://{HOST}/token",
        json={"token": "anon-token"},
        match=[
            responses.matchers.query_param_matcher(
                {"service": HOST, "scope": f"repository:{REPO}:pull"}
            )
        ],
    )
    fake.serve_tags(page=100)

    run = scan(world)

    assert run.code == 0
    assert token.call_count == 1
    later = [c.request for c in rsps.calls if "/manifests/" in c.request.url]
    assert later and all(r.headers["Authorization"] == "Bearer anon-token" for r in later)


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (403, 3, "access denied (403)"),
        (404, 2, "not found (404); check the image name"),
        (401, 3, "set PINBOT_REGISTRY_TOKEN"),
        (503, 3, "answered 503 after retries"),
    ],
)
def test_tag_list_failures_name_the_cause_and_exit_right(
    ghcr, capsys, status, code, message
) -> None:
    _, world, rsps = ghcr
    rsps.add("GET", f"{BASE}/tags/list", status=status)

    run = scan(world)

    assert run.code == code
    assert message in run.err


def test_429_with_retry_after_and_a_500_are_retried(ghcr, capsys) -> None:
    fake, world, rsps = ghcr
    rsps.add("GET", f"{BASE}/tags/list", status=429, headers={"Retry-After": "0"})
    rsps.add("GET", f"{BASE}/tags/list", status=500)
    fake.serve_tags(page=100)

    run = scan(world)

    assert run.code == 0
    assert sum("/tags/list" in c.request.url for c in rsps.calls) == 3


def test_truncated_manifest_json_is_an_external_error(ghcr, capsys) -> None:
    fake, world, rsps = ghcr
    fake.serve_tags(page=100)
    rsps.replace("GET", f"{BASE}/manifests/1.36.0-python", body=b'{"schemaVersion": 2, "manif')

    run = scan(world)

    assert run.code == 3
    assert "is not valid JSON (truncated answer?)" in run.err


def test_truncated_json_message_says_so() -> None:
    with responses.RequestsMock() as rsps:
        body = b'{"schemaVersion": 2, "manif'
        rsps.add("GET", f"{BASE}/manifests/sha256:" + hashlib.sha256(body).hexdigest(), body=body)
        source = RegistrySource(ImageName.parse(f"{HOST}/{REPO}"))
        with pytest.raises(ExternalError, match="not valid JSON"):
            source.manifest("sha256:" + hashlib.sha256(body).hexdigest())


def test_a_blob_whose_digest_does_not_match_is_refused(ghcr, capsys) -> None:
    fake, world, rsps = ghcr
    fake.serve_tags(page=100)
    for call in list(rsps.registered()):
        if "/blobs/" in call.url:
            rsps.replace(
                "GET",
                call.url,
                body=b'{"config": {"Env": ["OPENHANDS_BUILD_GIT_SHA=' + b"f" * 40 + b'"]}}',
            )

    run = scan(world)

    assert run.code == 3
    assert re.search(
        r"blob sha256:\w+ arrived with digest sha256:\w+; refusing to trust it",
        run.err,
    )


def test_a_manifest_that_does_not_match_its_claimed_digest_is_refused(ghcr, capsys) -> None:
    fake, world, rsps = ghcr
    fake.serve_tags(page=100)
    rsps.replace(
        "GET",
        f"{BASE}/manifests/1.36.0-python",
        body=b"{}",
        headers={"Docker-Content-Digest": "sha256:" + "0" * 64},
    )

    run = scan(world)

    assert run.code == 3
    assert "refusing to trust it" in run.err


def test_plain_http_is_refused_for_a_non_loopback_registry_url(ghcr, capsys) -> None:
    _, world, _ = ghcr
    run = scan(world, "--registry-url", "http://mirror.example:5000")
    assert run.code == 2
    assert "plain HTTP to a non-loopback host" in run.err
