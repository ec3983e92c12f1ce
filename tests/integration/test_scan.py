"""`pinbot scan` and `pinbot check` against a real Distribution registry with ghcr-like worlds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pinbot.config import Settings
from pinbot.demo.repos import PIN
from testing.cli import pinbot
from testing.proxy import LatencyProxy
from testing.worlds import Images, ghcr_like_builds, publish_to, today_builds


@pytest.fixture(scope="session")
def ghcr_like(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    return publish_to(
        registry, "openhands/agent-server", ghcr_like_builds(), tmp_path_factory.mktemp("w")
    )


@pytest.fixture(scope="session")
def today(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    return publish_to(registry, "today/agent-server", today_builds(), tmp_path_factory.mktemp("w"))


def scan(capsys: pytest.CaptureFixture[str], world: Images, *extra: str) -> tuple[int, dict]:
    code, out, _ = pinbot(
        *["--json", "scan", "--image", world.image, "--sdk", str(world.world.sdk), *extra]
    )
    return code, json.loads(out)


def verdicts(report: dict) -> dict[str, tuple[str, str]]:
    """tag -> (verdict, the detail of the evidence that decided)."""
    out = {}
    for c in report["candidates"]:
        deciding = [e for e in c["evidence"] if e["result"] not in ("pass", "skip")] or c[
            "evidence"
        ]
        out[c["tag"]] = (c["verdict"], f"{deciding[0]['detector']}: {deciding[0]['detail']}")
    return out


def test_world_has_hundreds_of_tags_of_every_kind(ghcr_like: Images) -> None:
    tags = ghcr_like.world.tags
    assert len(tags) > 900
    assert any(t.endswith("-amd64") for t in tags)
    assert {"latest-python", "main-python", "1.44-python", "1-python"} <= set(tags)
    assert any(len(t) == len("abcdef1-python") for t in tags)


def test_scan_selects_newest_capable_release_and_says_why_for_newer(capsys, ghcr_like) -> None:
    code, report = scan(capsys, ghcr_like, "--current", PIN)

    assert code == 0
    assert report["selected"]["tag"] == "1.41.0-python"
    assert report["selected"]["digest"] == ghcr_like.world.digests["1.41.0-python"]
    assert report["selected"]["ref"].endswith(f"1.41.0-python@{report['selected']['digest']}")
    why = verdicts(report)
    assert [c["tag"] for c in report["candidates"]][:4] == [
        "1.44.0-python",
        "1.43.0-python",
        "1.42.0-python",
        "1.41.0-python",
    ]
    assert why["1.44.0-python"][0] == "fail" and why["1.44.0-python"][1].startswith("source:")
    assert (
        why["1.43.0-python"][0] == "fail" and "OPENHANDS_BUILD_GIT_SHA" in why["1.43.0-python"][1]
    )
    assert why["1.42.0-python"] == ("fail", "platforms: missing linux/arm64 (has linux/amd64)")
    assert report["candidates"][3]["build_sha"] == ghcr_like.world.shas["1.41.0-python"]


def test_scan_never_selects_a_tag_older_than_the_current_pin(capsys, ghcr_like) -> None:
    code, report = scan(capsys, ghcr_like, "--current", "1.42.0-python")

    assert code == 1
    assert report["selected"] is None
    assert [c["tag"] for c in report["candidates"]] == [
        "1.44.0-python",
        "1.43.0-python",
        "1.42.0-python",
    ]


def test_floating_per_arch_and_other_variant_tags_are_never_candidates(capsys, ghcr_like) -> None:
    code, report = scan(capsys, ghcr_like, "--current", PIN, "--all")

    tags = [c["tag"] for c in report["candidates"]]
    assert code == 0 and len(tags) == 3 * 15 + 4 - 2  # 1.27.x..1.40.x, 1.41-1.44 and the pin
    assert all(t.endswith("-python") and t[0].isdigit() and t.count(".") == 2 for t in tags)


def test_nothing_qualifies_is_exit_1_with_a_readable_table(capsys, today) -> None:
    code, out, _ = pinbot(
        *["scan", "--image", today.image, "--sdk", str(today.world.sdk), "--current", PIN]
    )

    assert code == 1
    assert "nothing qualifies: 28 tag(s) newer than the pin 1.26.0-python examined" in out
    assert "1.35.2-python" in out and "route file acp_session_blob_router.py absent" in out
    assert out.count(" fail ") == 28


def test_sha_builds_only_when_asked_and_never_older_than_the_pin(capsys, today) -> None:
    _, plain = scan(capsys, today, "--current", PIN)
    code, with_shas = scan(capsys, today, "--current", PIN, "--include-sha-tags", "--all")

    assert plain["selected"] is None
    assert code == 0
    # Images oldest first: the stale build (before the pin) comes first.
    stale, fresh = [
        t for t, s in today.world.shas.items() if len(t) == 47 and _has_routes(today, s)
    ]
    assert with_shas["selected"]["tag"] == fresh
    examined = {c["tag"] for c in with_shas["candidates"]}
    assert stale not in examined
    assert not any(len(t) == len("abcdef1-python") for t in examined)  # one tag per digest


def _has_routes(world: Images, sha: str) -> bool:
    import subprocess

    from pinbot.config import ROUTE_FILE

    probe = subprocess.run(["git", "cat-file", "-e", f"{sha}:{ROUTE_FILE}"], cwd=world.world.sdk)
    return probe.returncode == 0


def proxied_scan(proxy: LatencyProxy, world: Images, current: str) -> list[str]:
    """`pinbot scan` of `world` through `proxy`, which counts the requests."""
    image = f"{proxy.address}/{world.repository}"
    return ["scan", "--image", image, "--sdk", str(world.world.sdk), "--current", current]


def test_warm_scan_costs_one_head_per_examined_tag(capsys, ghcr_like) -> None:
    with LatencyProxy(ghcr_like.registry) as proxy:
        args = ["--json", *proxied_scan(proxy, ghcr_like, PIN)]
        code, out, _ = pinbot(*args)
        assert code == 0
        cold = json.loads(out)
        cold_requests = dict(proxy.requests)
        proxy.reset()
        code, out, _ = pinbot(*args)
        assert code == 0
        warm = json.loads(out)

    assert warm["selected"] == cold["selected"]
    # Cold, candidates are examined in a window of `concurrency`; those already in flight when
    # the answer arrives may finish, so up to window - 1 extra are read. Warm, the cache predicts
    # the answer and the window never reaches past it: exactly one HEAD per examined tag.
    examined, window = len(cold["candidates"]), Settings().concurrency
    assert set(cold_requests) == {"GET tags", "GET manifests", "GET blobs"}
    assert cold_requests["GET tags"] == 1
    floor = 1 + 3 * examined  # tag list; index, platform manifest and config per candidate
    assert floor <= sum(cold_requests.values()) <= floor + 3 * (window - 1)
    assert set(proxy.requests) == {"GET tags", "HEAD manifests"}
    assert proxy.requests["GET tags"] == 1
    assert proxy.requests["HEAD manifests"] == examined


def test_no_cache_flag_ignores_the_cache(capsys, ghcr_like) -> None:
    with LatencyProxy(ghcr_like.registry) as proxy:
        args = proxied_scan(proxy, ghcr_like, "1.42.0-python")
        pinbot("--json", *args)
        proxy.reset()
        pinbot("--json", "--no-cache", *args)
    assert "HEAD manifests" not in proxy.requests
    assert proxy.requests["GET blobs"] == 3


def test_check_tag_and_digest(capsys, ghcr_like) -> None:
    base = ["--json", "check", "--image", ghcr_like.image, "--sdk", str(ghcr_like.world.sdk)]
    code, out, _ = pinbot(*base, "1.41.0-python")
    assert code == 0
    by_tag = json.loads(out)
    code, out, _ = pinbot(*base, ghcr_like.world.digests["1.44.0-python"])
    assert code == 1
    by_digest = json.loads(out)

    assert (
        by_tag["verdict"] == "pass" and by_tag["digest"] == ghcr_like.world.digests["1.41.0-python"]
    )
    assert by_digest["verdict"] == "fail"
    assert by_digest["build_sha"] == ghcr_like.world.shas["1.44.0-python"]


def test_a_bad_sdk_path_is_bad_input_though_detectors_start_in_the_background(
    capsys, ghcr_like, tmp_path: Path
) -> None:
    # The detectors start beside the tag-list request and swallow their error there; the
    # first judge must still report it, as exit 2 naming the path.
    nowhere = tmp_path / "no-sdk"
    code, _, err = pinbot(
        *["scan", "--image", ghcr_like.image, "--sdk", str(nowhere), "--current", PIN]
    )
    assert code == 2
    assert f"argument --sdk: {str(nowhere)!r}: no such directory" in err


def test_check_of_a_tag_the_registry_lacks_is_bad_input(capsys, ghcr_like) -> None:
    code, _, err = pinbot(
        "check", "--image", ghcr_like.image, "--sdk", str(ghcr_like.world.sdk), "9.9.9-python"
    )
    assert code == 2
    assert "9.9.9-python not found (404)" in err


def test_scan_reads_an_oci_image_layout(capsys, tmp_path: Path) -> None:
    from pinbot.demo.builds import Build, publish
    from pinbot.demo.registry import LayoutWriter

    builds = [Build(version="1.30.0", routes=True), Build(version="1.31.0")]
    world = publish(LayoutWriter(tmp_path / "layout"), tmp_path / "sdk", builds)
    code, out, _ = pinbot(
        "--json", "scan", "--image", f"oci:{tmp_path / 'layout'}", "--sdk", str(world.sdk)
    )
    report = json.loads(out)

    assert code == 0
    assert report["selected"]["tag"] == "1.30.0-python"
    assert report["selected"]["digest"] == world.digests["1.30.0-python"]


def test_a_tag_matching_config_ignore_is_shown_ignored_and_never_selected(
    capsys, ghcr_like, tmp_path: Path
) -> None:
    (tmp_path / "pinbot.toml").write_text('ignore = ["1.41.*", "0.9.*"]\n')

    code, report = scan(capsys, ghcr_like, "--current", PIN)

    assert code == 1 and report["selected"] is None
    assert verdicts(report)["1.41.0-python"] == (
        "ignored", "ignore: 1.41.0-python matches ignore pattern '1.41.*' (config)"
    )  # fmt: skip
    assert verdicts(report)["1.44.0-python"][0] == "fail", "a pattern holds back only its tags"
