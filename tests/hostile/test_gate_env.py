"""The gate reads OPENHANDS_SHA as the deploying job sees it: a job's or a step's own `env:`
wins over the top-level one, so a deploy workflow that overrides it (with another sha, or with
something only the run knows) must block, naming each place and value."""

from __future__ import annotations

import json

import pytest

from pinbot.demo import repos
from testing.gateworld import CutWorld, run

AREA = "the gate"
ATTACK = (
    "a job or step `env:` that overrides `OPENHANDS_SHA`, an expression, an `env:` "
    "expression, a step writing `$GITHUB_ENV`"
)
ANSWER = "blocks, naming each place and value; the same sha everywhere passes"
EXIT = "1 (0)"

JOB = "    runs-on: ubuntu-latest\n"
DEPLOY_STEP = "      - name: Deploy\n"


def with_workflow(world: CutWorld, branch: str, anchor: str, added: str) -> str:
    """A deploy branch whose workflow pins the cut's commit at the top, with `added` put after
    `anchor` (before it, when `added` is a step of its own)."""
    text = repos.deploy_workflow(world.pin)
    assert anchor in text
    new = added + anchor if added.startswith("      - ") else anchor + added
    text = text.replace(anchor, new, 1)
    repos.add_commit(world.repos.deploy.remote, branch, {repos.WORKFLOW: text}, "Override",
                     start=world.repos.deploy.main)  # fmt: skip
    return branch


def gate(world: CutWorld, branch: str) -> tuple[int, dict[str, object], str]:
    code, out, err = run([
        "--json", "gate", "--deploy", f"{world.repos.deploy.url}@{branch}",
        "--openhands", world.repos.openhands.url, "--image", world.image,
        "--registry-url", world.images.registry, "--sdk", str(world.images.world.sdk),
    ])  # fmt: skip
    return code, json.loads(out) if out else {}, err


def sha_check(report: dict[str, object]) -> dict[str, object]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return next(c for c in checks if c["name"] == "openhands_sha")


def other_sha(world: CutWorld) -> str:
    return world.repos.openhands.main  # a real commit, without the new pin


@pytest.mark.parametrize(
    ("name", "anchor", "added", "says"),
    [
        ("job", JOB, "    env:\n      OPENHANDS_SHA: {other}\n", "job 'deploy' env"),
        (
            "step",
            DEPLOY_STEP,
            "        env:\n          OPENHANDS_SHA: {other}\n",
            "job 'deploy' step 3 (Deploy) env",
        ),
        (
            "expression",
            JOB,
            "    env:\n      OPENHANDS_SHA: ${{{{ inputs.sha }}}}\n",
            "'${{ inputs.sha }}'",
        ),
        ("env-expression", JOB, "    env: ${{{{ fromJSON(inputs.env) }}}}\n", "<env is"),
        (
            "github-env",
            DEPLOY_STEP,
            '      - run: echo "OPENHANDS_SHA={other}" >> "$GITHUB_ENV"\n',
            "job 'deploy' step 3 run",
        ),
    ],
)
def test_an_override_the_deploying_job_sees_blocks_the_gate(
    clean: CutWorld, name: str, anchor: str, added: str, says: str
) -> None:
    branch = with_workflow(clean, f"override-{name}", anchor, added.format(other=other_sha(clean)))

    code, report, err = gate(clean, branch)

    assert code == 1, err
    check = sha_check(report)
    assert check["ok"] is False
    detail = str(check["detail"])
    assert f"is '{clean.pin}' in the top-level env" in detail
    assert says in detail


def test_an_override_with_the_same_sha_passes(clean: CutWorld) -> None:
    added = f"    env:\n      OPENHANDS_SHA: {clean.pin}\n"
    branch = with_workflow(clean, "same-sha", JOB, added)

    code, report, err = gate(clean, branch)

    assert code == 0, err
    assert sha_check(report)["ok"] is True
