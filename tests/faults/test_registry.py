"""Registry faults: a FaultProxy in front of the real Distribution registry.

Each scenario runs `pinbot scan` or `pinbot check` through the proxy while a rule makes the
registry misbehave, then runs it again with the registry healthy: the second answer must be the
right one (nothing wrong was cached from the first), and that is the scenario's state check.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.cli import pinbot
from testing.cutworld import CAPABLE, IMAGE
from testing.matrix import Fault, Row, Run, check
from testing.proxy import FaultProxy, Rule
from testing.worlds import Images

TAGS = r"/tags/list"
INDEX = r"/manifests/1\.27\.0-python$"
BLOB = r"/blobs/sha256:"
AREA = "registry"
LOOP = '</v2/cutworld/agent-server/tags/list?n=1000>; rel="next"'  # the first page, again


def fault(name: str, code: int, says: str, outcome: str, command: str, **options: Any) -> Fault:
    return Fault(AREA, name, code, says, outcome, {"command": command, **options})


FAULTS = [
    fault(
        "every tag-list request answers 503",
        3, "try again later",
        "retries with back-off, then stops: 'answered 503 after retries; try again later'",
        "scan", rules=[{"method": "GET", "path": TAGS, "status": 503}],
    ),
    fault(
        "503 twice, then the registry recovers",
        0, "selected",
        "retries with back-off and selects the right tag",
        "scan", rules=[{"method": "GET", "path": TAGS, "status": 503, "times": 2}],
    ),
    fault(
        "429 with Retry-After: 1",
        0, "pass",
        "waits the second the registry asks for, then answers",
        "check", rules=[{"method": "GET", "path": INDEX, "status": 429,
                         "headers": {"Retry-After": "1"}, "times": 1}],
        waits=1.0,
    ),
    fault(
        "401 without a token challenge",
        3, "PINBOT_REGISTRY_TOKEN",
        "stops: the registry refused the credentials, set PINBOT_REGISTRY_TOKEN",
        "check", rules=[{"method": "GET", "path": INDEX, "status": 401}],
    ),
    fault(
        "403 on the manifest",
        3, "PINBOT_REGISTRY_TOKEN",
        "stops: access denied, set PINBOT_REGISTRY_TOKEN to a token that may pull",
        "check", rules=[{"method": "GET", "path": INDEX, "status": 403}],
    ),
    fault(
        "404 on the tag",
        2, "check the image name and tag",
        "bad input: the tag is not there, check the image name and tag",
        "check", rules=[{"method": "GET", "path": INDEX, "status": 404}],
    ),
    fault(
        "manifest altered in transit (digest mismatch)",
        3, "refusing to trust it",
        "refuses the manifest: its digest is not the one the registry names",
        "check", rules=[{"method": "GET", "path": INDEX, "body": lambda body: body + b"\n"}],
    ),
    fault(
        "config blob altered in transit (bad digest)",
        3, "refusing to trust it",
        "refuses the blob: it does not hash to its digest; nothing is cached",
        "check", rules=[{"method": "GET", "path": BLOB, "body": lambda body: body + b" "}],
    ),
    fault(
        "tag-list pagination loops",
        3, "--registry-url",
        "stops at the repeated page instead of looping forever",
        "scan", rules=[{"method": "GET", "path": TAGS,
                        "headers": {"Link": LOOP}}],
    ),
    fault(
        "no answer within the timeout",
        3, "check the URL and the network",
        "gives up after the timeout and its retries (bounded, no hang)",
        "scan", rules=[{"method": "GET", "path": TAGS, "delay": 2.0}], http_timeout=0.5,
    ),
    fault(
        "slow body: half a manifest, then silence",
        3, "check the URL and the network",
        "gives up when the body stalls past the timeout",
        "check", rules=[{"method": "GET", "path": INDEX, "stall": 2.0}], http_timeout=0.5,
    ),
    fault(
        "connection dropped once",
        0, "pass",
        "retries on a new connection and answers",
        "check", rules=[{"method": "GET", "path": INDEX, "drop": True, "times": 1}],
    ),
    fault(
        "connection dropped every time",
        3, "check the URL and the network",
        "stops after its retries: cannot reach the registry",
        "check", rules=[{"method": "GET", "path": INDEX, "drop": True}],
    ),
]  # fmt: skip


@pytest.fixture
def proxy(images: Images) -> Iterator[FaultProxy]:
    with FaultProxy(images.registry) as running:
        yield running


def drive(
    capsys: pytest.CaptureFixture[str], images: Images, proxy: FaultProxy, command: str
) -> Run:
    common = ["--image", IMAGE, "--registry-url", proxy.address, "--sdk", str(images.world.sdk)]
    if command == "scan":
        argv = ["--json", "scan", *common, "--current", "1.26.0-python"]
    else:
        argv = ["--json", "check", CAPABLE, *common]
    return pinbot(*argv)


def right_answer(run: Run, command: str) -> bool:
    data = json.loads(run.out) if run.out.startswith("{") else {}
    if command == "scan":
        return run.code == 0 and (data.get("selected") or {}).get("tag") == CAPABLE
    return run.code == 0 and data.get("verdict") == "pass"


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_registry_fault(
    fault: Fault, row: Row, capsys, images, proxy, tag: str, temp: Path, tmp_path: Path
) -> None:
    options = fault.options
    if "http_timeout" in options:
        (tmp_path / "pinbot.toml").write_text(f"http_timeout = {options['http_timeout']}\n")
    rules = [proxy.add(Rule(**spec)) for spec in options["rules"]]

    started = time.monotonic()
    run = drive(capsys, images, proxy, options["command"])
    took = time.monotonic() - started

    assert all(rule.hits for rule in rules)  # the fault did happen
    proxy.clear()
    again = drive(capsys, images, proxy, options["command"])
    row.state = (
        "a healthy re-run gives the right answer"
        if right_answer(again, options["command"])
        else "wrong answer after the fault"
    )
    row.data_lost = not right_answer(again, options["command"])
    check(fault, row, run, tag, temp)
    assert took >= options.get("waits", 0.0)
    assert took < 30  # every fault is bounded: no hang
    assert not row.data_lost, again.text
