"""Tag lists the size of ghcr's, paged the way ghcr pages them (testing's GhcrLike)."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request

import pytest

from pinbot.demo.registry import ImageSpec, RegistryWriter
from pinbot.model import ImageName
from pinbot.registry.transport import PAGE_SIZE, RegistrySource
from testing.ghcr import PAGE, GhcrLike
from testing.services import missing_service

REPO = "pages/agent-server"
REAL = ["1.0.0-python", "1.0.0-python-amd64", "1.0.0-python-arm64"]


@pytest.fixture(scope="module")
def published(registry: str) -> str:
    RegistryWriter(registry, REPO).publish(ImageSpec(["1.0.0-python"], "a" * 40, "2026-01-01"))
    return registry


def branch_tags(count: int) -> dict[str, str]:
    return {f"pr-{n:05d}-python": "1.0.0-python" for n in range(count)}


def test_ghcr_like_pages_a_hundred_with_a_relative_link_unless_asked_for_more(published) -> None:
    with GhcrLike(published, extra={REPO: branch_tags(247)}) as ghcr:
        first = urllib.request.urlopen(f"http://{ghcr.address}/v2/{REPO}/tags/list")
        link = first.headers["Link"]
        second = urllib.request.urlopen(f"http://{ghcr.address}{link[1 : link.index('>')]}")
        whole = urllib.request.urlopen(f"http://{ghcr.address}/v2/{REPO}/tags/list?n=1000")

    page = json.loads(first.read())["tags"]
    assert len(page) == PAGE
    assert link == f'</v2/{REPO}/tags/list?last={page[-1]}&n={PAGE}>; rel="next"'
    assert json.loads(second.read())["tags"][0] > page[-1]
    assert len(json.loads(whole.read())["tags"]) == 250
    assert whole.headers["Link"] is None


def test_pinbot_lists_ten_thousand_tags_in_one_request(published) -> None:
    with GhcrLike(published, extra={REPO: branch_tags(10_000 - len(REAL))}) as ghcr:
        source = RegistrySource(ImageName.parse(f"{ghcr.address}/{REPO}"))
        tags = source.tags()
        digest = source.resolve("pr-09000-python")  # a listed tag resolves like any other

    assert len(tags) == len(set(tags)) == 10_000
    assert set(REAL) <= set(tags)
    assert dict(ghcr.requests) == {"GET tags": 1, "HEAD manifests": 1}
    assert digest == RegistrySource(ImageName.parse(f"{published}/{REPO}")).resolve(REAL[0])


def test_pinbot_follows_relative_links_past_its_page_size(published) -> None:
    count = PAGE_SIZE + 1
    with GhcrLike(published, extra={REPO: branch_tags(count - len(REAL))}) as ghcr:
        tags = RegistrySource(ImageName.parse(f"{ghcr.address}/{REPO}")).tags()

    assert len(tags) == len(set(tags)) == count
    assert ghcr.requests["GET tags"] == 2


def test_skopeo_lists_through_ghcr_like_pages_of_a_hundred(published) -> None:
    if shutil.which("skopeo") is None:
        missing_service("skopeo (Debian package skopeo)")
    with GhcrLike(published, extra={REPO: branch_tags(1_000 - len(REAL))}) as ghcr:
        done = subprocess.run(
            ["skopeo", "list-tags", "--tls-verify=false", f"docker://{ghcr.address}/{REPO}"],
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["Tags"]) == 1_000
    assert ghcr.requests["GET tags"] == 1_000 // PAGE
