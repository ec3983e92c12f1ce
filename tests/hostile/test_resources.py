"""Time and memory stay bounded against a registry that trickles, bombs, never ends its tag
list or sends documents of the wrong shape: the real `pinbot scan` ends in exit 3 naming the
registry and what it did, never 4, never a hang."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pinbot.registry.documents import OCI_MANIFEST
from testing.cli import pinbot
from testing.cutworld import IMAGE
from testing.hostile import Answer, Liar, Seen, trickle

AREA = "time and memory"
ATTACK = (
    "bodies and headers at a byte a second, a 512 MB gzip bomb, over-cap manifests, blobs and "
    "token answers, malformed or 100000-deep JSON, wrong types, platform names carrying "
    "escapes, a tag list that never ends, 20000 candidate tags"
)
ANSWER = (
    "ends within the request deadline (4x `http_timeout`), memory stays bounded, examines at "
    "most `max_candidates`; says plainly what the registry did"
)
EXIT = "3 (2: a bad --max-candidates)"

TAGS = "/tags/list"
MANIFEST = r"/manifests/1\.27\.0-python$"
BOMB_MB = 512


@pytest.fixture(autouse=True)
def quick_timeouts(tmp_path: Path) -> None:
    """http_timeout = 1: a request (retries included) may take 4 s, a command's traffic 40 s."""
    (tmp_path / "pinbot.toml").write_text("http_timeout = 1.0\n")


def scan(images: Any, liar: Liar) -> tuple[int, str, float]:
    started = time.monotonic()
    code, _, err = pinbot(*argv(images, liar))
    return code, err, time.monotonic() - started


def argv(images: Any, liar: Liar) -> list[str]:
    return [
        "scan", "--image", IMAGE, "--registry-url", liar.address,
        "--sdk", str(images.world.sdk), "--current", "1.26.0-python",
    ]  # fmt: skip


def page(data: object) -> Answer:
    return Answer(200, {"Content-Type": "application/json"}, json.dumps(data).encode())


def test_a_body_sent_a_byte_a_second_ends_within_the_request_deadline(
    images: Any, liar: Liar
) -> None:
    body = json.dumps({"name": "x", "tags": ["1.27.0-python"] * 50}).encode()
    liar.on("GET", TAGS, lambda _: Answer(200, {}, trickle(body), pause=0.5))

    code, err, seconds = scan(images, liar)

    assert code == 3, err
    assert f"ghcr.io/cutworld/agent-server: the registry at http://{liar.address}" in err
    assert "did not deliver the tag list within the 4 s a request may take" in err
    assert seconds < 12


def test_headers_sent_a_byte_a_second_end_within_the_request_deadline(
    images: Any, liar: Liar
) -> None:
    raw = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    liar.on("GET", MANIFEST, lambda _: Answer(raw=raw, pause=0.3))  # under the read timeout

    code, err, seconds = scan(images, liar)

    assert code == 3, err
    assert "did not deliver the manifest 1.27.0-python within" in err
    assert seconds < 20  # the request's 4 s, then retries that fail at once


def gzip_bomb(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    zeros = b"\0" * (1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = gzip_bomb(BOMB_MB)
    assert len(data) < 1 << 20  # about half a megabyte on the wire
    return data


# pinbot in a process of its own, which reports its own peak memory (RUSAGE_SELF, in KiB).
MEASURED = (
    "import resource, sys\n"
    "from pinbot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('peak-kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def test_a_gzip_bomb_stays_bounded_in_memory(
    images: Any, liar: Liar, bomb: bytes, tmp_path: Path
) -> None:
    liar.on("GET", TAGS, lambda _: Answer(200, {"Content-Encoding": "gzip"}, bomb))

    done = subprocess.run(
        [sys.executable, "-c", MEASURED, *argv(images, liar)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip

    assert done.returncode == 3, done.stderr
    assert (
        f"the registry at http://{liar.address} sent more than 16 MiB for the tag list; pinbot "
        "stops reading at 16 MiB"
    ) in done.stderr
    peak_mb = int(done.stderr.rsplit("peak-kib ", 1)[1].split()[0]) / 1024
    assert peak_mb < 200, f"peak {peak_mb:.0f} MB for a {BOMB_MB} MB bomb"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests JSON too deep"),
        (b'["1.27.0-python"]', "is not a JSON object"),
        (b'{"tags":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests JSON too deep"),
        (b'{"tags": "1.27.0-python"}', "'tags' is not a list of strings"),
        (b'{"tags": [1, 2, 3]}', "'tags' is not a list of strings"),
        (b'{"tags": [{"name": "1.27.0-python"}]}', "'tags' is not a list of strings"),
        (b'{"tags": ["1.27.0-python"', "is not valid JSON"),
    ],
)
def test_a_malformed_tag_list_is_exit_3_naming_what_was_wrong(
    images: Any, liar: Liar, body: bytes, says: str
) -> None:
    liar.on("GET", TAGS, lambda _: Answer(200, {}, body))

    code, err, _ = scan(images, liar)

    assert code == 3, err
    assert "ghcr.io/cutworld/agent-server: tag list" in err and says in err


def forged_manifest(data: object) -> Answer:
    body = json.dumps(data).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    media = "application/vnd.oci.image.index.v1+json"
    return Answer(200, {"Content-Type": media, "Docker-Content-Digest": digest}, body)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"manifests": {"digest": "x"}}, "'manifests' is not a list of objects"),
        ({"manifests": [{"digest": 7}]}, "has no string 'digest'"),
        ({"manifests": [{"digest": "sha256:" + "0" * 64, "platform": "linux"}]}, "not an object"),
        ({"config": "sha256:abc"}, "'config' is not a descriptor"),
        ({"manifests": [{"digest": "a", "annotations": {"k": ["v"]}}]}, "object of strings"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_exit_3(
    images: Any, liar: Liar, document: object, says: str
) -> None:
    liar.on("GET", MANIFEST, lambda _: forged_manifest(document))

    code, err, _ = scan(images, liar)

    assert code == 3, err
    assert "manifest 1.27.0-python is malformed" in err and says in err


def test_a_tag_list_that_never_ends_is_cut_off(images: Any, liar: Liar) -> None:
    def endless(seen: Seen) -> Answer:
        number = int(seen.path.rsplit("last=", 1)[-1]) if "last=" in seen.path else 0
        link = f'</v2/cutworld/agent-server/tags/list?n=1000&last={number + 1}>; rel="next"'
        return Answer(200, {"Link": link}, json.dumps({"tags": [f"x{number}"]}).encode())

    liar.on("GET", TAGS, endless)

    code, err, _ = scan(images, liar)

    assert code == 3, err
    assert "giving up" in err
    assert len([s for s in liar.seen if TAGS in s.path]) == 1000


def test_a_tag_list_too_long_to_be_true_is_refused(images: Any, liar: Liar) -> None:
    tags = [f"1.{n}.0-python" for n in range(100_001)]
    liar.on("GET", TAGS, lambda _: page({"tags": tags}))

    code, err, _ = scan(images, liar)

    assert code == 3, err
    assert "lists more than 100000 tags" in err


def oversized(size: int, declared: bool) -> Answer:
    """`size` bytes: with a Content-Length the cap refuses at once, without one as it reads."""
    body = b"{" + b" " * (size - 1)
    return Answer(
        200, {}, body if declared else iter([body[i : i + 65536] for i in range(0, size, 65536)])
    )


def token_challenge(liar: Liar) -> None:
    """The registry asks for a bearer token from its own token service, which sends too much."""
    realm = f'Bearer realm="http://{liar.address}/token",service="x"'
    liar.on(
        "GET",
        TAGS,
        lambda seen: None if seen.authorization else Answer(401, {"WWW-Authenticate": realm}),
    )
    liar.on("GET", "^/token", lambda _: oversized((64 << 10) + 1, declared=False))


@pytest.mark.parametrize(
    ("rule", "what", "cap"),
    [
        (
            (MANIFEST, lambda: oversized((4 << 20) + 1, declared=True)),
            "the manifest 1.27.0-python",
            "4 MiB",
        ),
        (
            (MANIFEST, lambda: oversized((4 << 20) + 1, declared=False)),
            "the manifest 1.27.0-python",
            "4 MiB",
        ),
        (
            ("/blobs/", lambda: oversized((16 << 20) + 1, declared=False)),
            "the blob sha256:",
            "16 MiB",
        ),
        ((TAGS, lambda: oversized((16 << 20) + 1, declared=True)), "the tag list", "16 MiB"),
        (None, "the token answer", "64 KiB"),
    ],
)
def test_every_size_cap_says_plainly_what_the_registry_sent(
    images: Any,
    liar: Liar,
    rule: tuple[str, Callable[[], Answer]] | None,
    what: str,
    cap: str,
) -> None:
    if rule is None:
        token_challenge(liar)
    else:
        liar.on("GET", rule[0], lambda _: rule[1]())

    code, err, _ = scan(images, liar)

    assert code == 3, err
    registry = f"ghcr.io/cutworld/agent-server: the registry at http://{liar.address}"
    assert f"{registry} sent more than {cap} for {what}" in err
    assert f"; pinbot stops reading at {cap}" in err


def platform_index(**platform: object) -> Answer:
    entry = {"digest": "sha256:" + "0" * 64, "mediaType": OCI_MANIFEST,
             "platform": {"os": "linux", "architecture": "amd64", **platform}}  # fmt: skip
    return forged_manifest({"schemaVersion": 2, "manifests": [entry]})


@pytest.mark.parametrize(
    ("platform", "shown"),
    [
        ({"os": "linux\x1b[31m"}, "platform os 'linux\\x1b[31m'"),
        ({"architecture": "::error::forged"}, "platform architecture '::error::forged'"),
        ({"variant": "v8\n::stop-commands::x"}, "platform variant 'v8\\n::stop-commands::x'"),
        ({"architecture": "amd64%0A::error::x"}, "platform architecture 'amd64%0A::error::x'"),
        ({"os": 7}, "platform os 7"),
        ({"os": "L" * 33}, "platform os 'LLLL"),
    ],
)
def test_a_platform_name_that_is_no_name_refuses_the_manifest(
    images: Any, liar: Liar, platform: dict[str, object], shown: str
) -> None:
    liar.on("GET", MANIFEST, lambda _: platform_index(**platform))

    code, err, _ = scan(images, liar)

    assert code == 3, err
    assert "manifest 1.27.0-python is malformed" in err
    assert shown in err and "is not a platform name" in err
    assert "\x1b" not in err and "\n::" not in err  # shown escaped, on the error's one line


def many_tags(count: int) -> Answer:
    return page(
        {"name": "cutworld/agent-server", "tags": [f"1.{n}.0-python" for n in range(count)]}
    )


def manifests_asked(liar: Liar) -> list[str]:
    return [s.path for s in liar.seen if "/manifests/" in s.path]


def test_a_huge_tag_list_is_examined_no_further_than_max_candidates(
    images: Any, liar: Liar, tmp_path: Path
) -> None:
    (tmp_path / "pinbot.toml").write_text("http_timeout = 1.0\nmax_candidates = 40\n")
    liar.on("GET", TAGS, lambda _: many_tags(20_000))  # none of them exists: none qualifies

    code, err, seconds = scan(images, liar)

    assert code == 3, err
    assert (
        f"ghcr.io/cutworld/agent-server: the registry at http://{liar.address} lists 19974 "
        "candidate tags, more than max_candidates = 40; the newest 40 were examined and none "
        "qualifies. Raise max_candidates"
    ) in err
    assert len(set(manifests_asked(liar))) == 40
    assert seconds < 30


def test_all_over_the_candidate_cap_examines_nothing(images: Any, liar: Liar) -> None:
    liar.on("GET", TAGS, lambda _: many_tags(20_000))

    code, _, err = pinbot(*argv(images, liar), "--all", "--max-candidates", "100")

    assert code == 3, err
    assert (
        "lists 19974 candidate tags, more than max_candidates = 100; --all would examine them all"
        in err
    )
    assert manifests_asked(liar) == []


@pytest.mark.parametrize("value", ["0", "100001", "-5", "many"])
def test_a_candidate_cap_out_of_bounds_is_bad_input(images: Any, liar: Liar, value: str) -> None:
    code, _, err = pinbot(*argv(images, liar), "--max-candidates", value)

    assert code == 2, err
    assert "is not a candidate count: give a whole number from 1 to 100000" in err
    assert liar.seen == []
