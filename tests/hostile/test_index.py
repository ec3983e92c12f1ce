"""A package index that attacks: the real `pinbot cut` of a package-era pin, its `pin.index_url`
pointing at a server of our own (testing.hostile.Liar) in front of a real local index, which
answers the project page with a gzip or deflate bomb, a "brotli" body, a page trickled a byte a
second, headers trickled, JSON of the wrong shape or 100,000 deep, a binary body, a redirect to
another origin. The cut ends in exit 3 naming the index and what it did, within the request
deadline, memory bounded, and nothing is pushed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo.package_index import PackageIndex, serve
from pinbot.demo.repos import Remotes
from testing import eras
from testing.cutworld import IMAGE, cut_json, cut_remotes
from testing.hostile import Answer, Liar, trickle

AREA = "package index"
ATTACK = (
    "the project page as a gzip bomb (590 KiB sent, 593 MiB decoded), a deflate bomb, a body "
    "claiming brotli, a page or headers trickled a byte a second, PEP 691 JSON of the wrong "
    "shape or 100,000 deep, a binary body, a redirect to another origin"
)
ANSWER = (
    "stops reading at 16 MiB decoded, ends each page within 4x `http_timeout` (the whole check "
    "within 10x), checks the page's shape; says what the index did; nothing is pushed"
)
EXIT = "3"

OLD, NEW = "1.26.0", "1.27.0"
PAGE = "^/simple/openhands-agent-server/"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    with serve(tmp_path_factory.mktemp("index")) as served:
        served.publish([OLD, NEW])
        yield served


@pytest.fixture
def liar(index: PackageIndex) -> Iterator[Liar]:
    with Liar(index.url.split("/")[2]) as server:
        yield server


@pytest.fixture
def world(index: PackageIndex, liar: Liar, tmp_path: Path, monkeypatch: Any) -> Remotes:
    """A package-era OpenHands repository; pinbot asks the liar, http_timeout = 1."""
    monkeypatch.setenv("PATH", eras.path_with_poetry())
    monkeypatch.setenv("POETRY_CACHE_DIR", str(tmp_path / "poetry-cache"))
    (tmp_path / "pinbot.toml").write_text(
        f'http_timeout = 1.0\n[pin]\nindex_url = "{liar.url}/simple/"\n'
    )
    return cut_remotes(tmp_path / "package-era", files=eras.package_era(OLD, index.url))


def bomb(megabytes: int, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = b"\0" * (1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


def json_page(data: object) -> Answer:
    kind = "application/vnd.pypi.simple.v1+json"
    return Answer(200, {"Content-Type": kind}, json.dumps(data).encode())


def test_an_honest_index_in_front_lets_the_cut_through(images: Any, world: Remotes) -> None:
    code, _, err = cut_json(images, world)

    assert code == 0, err


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (json_page(["openhands_agent_server-1.27.0-py3-none-any.whl"]),
         "is not a PEP 691 project page"),
        (json_page({"files": "openhands_agent_server-1.27.0-py3-none-any.whl"}),
         "is not a PEP 691 project page"),
        (json_page({"files": [{"filename": 1}]}), "is not a PEP 691 project page"),
        (Answer(200, {"Content-Type": "application/vnd.pypi.simple.v1+json"},
                b'{"files":' + b"[" * 100_000 + b"]" * 100_000 + b"}"), "nests JSON too deep"),
        (Answer(200, {"Content-Type": "application/json"}, b'{"files": ['), "is not valid JSON"),
        (Answer(200, {"Content-Type": "text/html"}, b"\xff\xfe<a>\x00\x81"), "is not UTF-8 HTML"),
        (Answer(200, {"Content-Type": "application/octet-stream"}, b"x"),
         "is 'application/octet-stream', not HTML or JSON"),
        (Answer(200, {"Content-Type": "text/html", "Content-Encoding": "br"}, bomb(64, 31)),
         "is not UTF-8 HTML"),
        (Answer(302, {"Location": "http://127.0.0.2:9/simple/openhands-agent-server/"}),
         "redirected the project page of openhands-agent-server elsewhere"),
        (Answer(403), "answered 403 for the project page of openhands-agent-server"),
    ],
    ids=["json-list", "json-files-string", "json-filename-int", "json-deep", "json-torn",
         "binary-html", "octet-stream", "brotli-claimed", "redirect-elsewhere", "status-403"],
)  # fmt: skip
def test_a_project_page_of_the_wrong_shape_is_exit_3(
    images: Any, world: Remotes, liar: Liar, answer: Answer, says: str
) -> None:
    liar.on("GET", PAGE, lambda _: answer)
    refs = world.refs()

    code, _, err = cut_json(images, world, "--push")

    assert code == 3, err
    assert f"the package index at {liar.url}/simple/" in err
    assert says in err
    assert world.refs() == refs


def test_a_page_trickled_a_byte_a_second_ends_at_the_deadline(
    images: Any, world: Remotes, liar: Liar
) -> None:
    page = b"<html><body>" + b'<a href="x">x</a>' * 100 + b"</body></html>"
    liar.on("GET", PAGE, lambda _: Answer(200, {"Content-Type": "text/html"}, trickle(page),
                                          pause=0.5))  # fmt: skip
    started = time.monotonic()

    code, _, err = cut_json(images, world, "--push")

    assert code == 3, err
    assert "did not deliver the project page of openhands-agent-server in time" in err
    assert time.monotonic() - started < 15  # the 4 s a request may take, then the rest


def test_headers_trickled_a_byte_a_second_end_at_the_deadline(
    images: Any, world: Remotes, liar: Liar
) -> None:
    raw = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    liar.on("GET", PAGE, lambda _: Answer(raw=raw, pause=0.3))
    started = time.monotonic()

    code, _, err = cut_json(images, world, "--push")

    assert code == 3, err
    assert "in time" in err
    assert time.monotonic() - started < 20


# pinbot in a process of its own, which reports its own peak memory (RUSAGE_SELF, in KiB).
MEASURED = (
    "import resource, sys\n"
    "from pinbot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('peak-kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


@pytest.mark.parametrize(("encoding", "wbits"), [("gzip", 31), ("deflate", 15)])
def test_a_compression_bomb_stops_at_the_cap_in_bounded_memory(
    images: Any, world: Remotes, liar: Liar, tmp_path: Path, encoding: str, wbits: int
) -> None:
    body = bomb(593, wbits)
    assert len(body) < 700 << 10  # about 254 KiB on the wire for gzip
    headers = {"Content-Type": "text/html", "Content-Encoding": encoding}
    liar.on("GET", PAGE, lambda _: Answer(200, headers, body))
    argv = ["cut", "--tag", "1.27.0-python", "--openhands", world.openhands.url,
            "--openhands-branch", world.openhands.branch, "--image", IMAGE,
            "--registry-url", images.registry, "--sdk", str(images.world.sdk)]  # fmt: skip

    done = subprocess.run(
        [sys.executable, "-c", MEASURED, *argv],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip

    assert done.returncode == 3, done.stderr
    assert (
        f"the package index at {liar.url}/simple/ sent more than 16 MiB for the project page of "
        "openhands-agent-server; pinbot stops reading at 16 MiB"
    ) in done.stderr
    peak_mb = int(done.stderr.rsplit("peak-kib ", 1)[1].split()[0]) / 1024
    assert peak_mb < 250, f"peak {peak_mb:.0f} MB for a 593 MB bomb"
