"""Faults during `pinbot gate`: a world made by a real `pinbot cut --push`, a FaultProxy in front
of the registry. A gate must never pass on a bad day, must write nothing anywhere, and must say
what to do; the state check is that every ref and every tag is as it was.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from testing.cutworld import CAPABLE, INCAPABLE
from testing.gateworld import CutWorld, deploy_at, registry_state, run
from testing.matrix import Fault, Row, Run, check
from testing.proxy import FaultProxy, Rule

AREA = "gate"
TAG = "/manifests/" + re.escape(CAPABLE) + "$"


def fault(name: str, code: int, says: str, outcome: str, **options: Any) -> Fault:
    return Fault(AREA, name, code, says, outcome, options)


FAULTS = [
    fault(
        "the registry refuses the credentials (401)",
        3, "PINBOT_REGISTRY_TOKEN",
        "blocks (exit 3, not a pass): the digest check could not be made",
        rules=[{"method": "*", "path": r"/v2/", "status": 401}],
    ),
    fault(
        "the registry drops every connection",
        3, "check the URL and the network",
        "blocks (exit 3, not a pass): cannot reach the registry",
        rules=[{"method": "*", "path": r"/v2/", "drop": True}],
    ),
    fault(
        "the tag now names another digest than at the cut",
        1, "cut again with `pinbot cut`, or pass --allow-retag",
        "blocks: the deploy would pull an image nobody checked",
        rules=[{"method": "HEAD", "path": TAG, "moved": True}],
    ),
    fault(
        "OPENHANDS_SHA names a commit the OpenHands remote lacks",
        1, "is not a commit in",
        "blocks at the first check and checks nothing that depends on it",
        missing_sha=True,
    ),
    fault(
        "the OpenHands repository is gone",
        2, "no such directory",
        "bad input: says the path does not exist",
        gone=True,
    ),
]  # fmt: skip


def rule(spec: dict[str, Any], world: CutWorld) -> Rule:
    if spec.get("moved"):  # the registry now says the tag names the incapable image
        moved = world.images.world.digests[INCAPABLE]
        return Rule(spec["method"], spec["path"], headers={"Docker-Content-Digest": moved})
    return Rule(**spec)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_gate_fault(
    fault: Fault, row: Row, clean: CutWorld, tag: str, temp: Path, tmp_path: Path
) -> None:
    options = fault.options
    deploy = f"{clean.repos.deploy.url}@{clean.deploy_branch}"
    if options.get("missing_sha"):
        deploy = f"{clean.repos.deploy.url}@{deploy_at(clean, 'faults-gate-lost', '7' * 40)}"
    openhands = (tmp_path / "gone.git").as_uri() if options.get("gone") else None
    before = (clean.repos.refs(), registry_state(clean.images.registry, "cutworld/agent-server"))
    with FaultProxy(clean.images.registry) as proxy:
        rules = [proxy.add(rule(spec, clean)) for spec in options.get("rules", [])]
        code, out, err = run(
            ["--json", "gate", "--deploy", deploy,
             "--openhands", openhands or clean.repos.openhands.url, "--image", clean.image,
             "--registry-url", proxy.address, "--sdk", str(clean.images.world.sdk),
             "--require-commit", clean.repos.openhands.backend_commit]
        )  # fmt: skip
    after = (clean.repos.refs(), registry_state(clean.images.registry, "cutworld/agent-server"))
    row.state = "blocked; nothing written" if after == before else "refs or tags changed"
    row.data_lost = after != before
    check(fault, row, Run(code, out, err), tag, temp)
    assert all(r.hits for r in rules)
    assert '"verdict": "pass"' not in out
    assert not row.data_lost
