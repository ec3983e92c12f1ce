"""`pinbot gate` over worlds made by a real `pinbot cut --push`: a real registry, real git.

Every gate run goes through `gate()`, which also proves the gate read-only: the remotes' refs
and the registry's tags are the same before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pinbot.commands.probe import Plan, report_json
from pinbot.demo import repos
from pinbot.demo.builds import Build, publish
from pinbot.demo.registry import OCI_INDEX, RegistryWriter
from pinbot.probe.run import AgentReport
from testing.cutworld import CAPABLE, INCAPABLE
from testing.gateworld import CutWorld, cut_world, deploy_at, registry_state, run
from testing.probe_reports import rollback_report
from testing.worlds import Images

CHECKS = ["openhands_sha", "backend_commits", "pin_sites_agree", "digest_unchanged", "capability"]


@pytest.fixture(scope="module")
def forced(images: Images, tmp_path_factory: pytest.TempPathFactory) -> CutWorld:
    """1.28.0 (routes removed) pinned with --force-capability."""
    return cut_world(
        tmp_path_factory.mktemp("gate-forced"), images, INCAPABLE, "--force-capability"
    )


def gate(
    world: CutWorld,
    *extra: str,
    ref: str | None = None,
    deploy: str | None = None,
    openhands: str | None = None,
    text: bool = False,
    registry: tuple[str, str] | None = None,
) -> tuple[int, Any, str]:
    """`pinbot gate` on the world's deploy branch (or `ref`), checked to have written nothing."""
    address, repository = registry or (world.images.registry, "cutworld/agent-server")
    before = (world.repos.refs(), registry_state(address, repository))
    argv = [] if text else ["--json"]
    argv += ["gate", "--deploy", deploy or f"{world.repos.deploy.url}@{ref or world.deploy_branch}"]
    argv += ["--openhands", openhands or world.repos.openhands.url, "--image", world.image]
    argv += ["--registry-url", address, "--sdk", str(world.images.world.sdk)]
    argv += ["--require-commit", world.repos.openhands.backend_commit, *extra]
    code, out, err = run(argv)
    assert (world.repos.refs(), registry_state(address, repository)) == before
    return code, out if text else (json.loads(out) if out.strip() else None), err


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


def detail(report: dict[str, Any], name: str) -> str:
    return str(next(c["detail"] for c in report["checks"] if c["name"] == name))


# --- pass ---------------------------------------------------------------------------------------


def test_a_clean_cut_passes_every_check(clean: CutWorld) -> None:
    code, report, err = gate(clean)

    assert code == 0, err
    digest = clean.images.world.digests[CAPABLE]
    assert report["verdict"] == "pass"
    assert report["openhands_sha"] == clean.pin
    assert (report["image"], report["tag"], report["digest"]) == (clean.image, CAPABLE, digest)
    assert statuses(report) == dict.fromkeys(CHECKS, "pass")
    assert all(c["ok"] for c in report["checks"])
    assert clean.repos.openhands.backend_commit[:12] in detail(report, "backend_commits")
    assert f"still resolves to {digest} (recorded by {clean.pin[:12]})" in detail(
        report, "digest_unchanged"
    )
    assert "checked now" in detail(report, "capability")


def test_a_second_gate_answers_the_capability_from_the_verdict_cache(clean: CutWorld) -> None:
    gate(clean)
    code, report, err = gate(clean)

    assert code == 0, err
    assert "(cached verdict)" in detail(report, "capability")


def test_the_text_verdict_cannot_be_misread(clean: CutWorld, forced: CutWorld) -> None:
    code, out, _ = gate(clean, text=True)
    assert code == 0
    assert out.splitlines()[-1].startswith("GATE PASS: deploy may run OpenHands " + clean.pin)
    assert "CHECK" in out and "digest_unchanged  PASS" in out

    code, out, _ = gate(forced, text=True)
    assert code == 1
    assert out.splitlines()[-1] == ("GATE BLOCK: do not deploy; 1 check(s) not passed: capability")


def test_working_clones_are_read_in_place_at_head_and_left_as_they_were(
    clean: CutWorld, tmp_path: Path
) -> None:
    deploy, openhands = tmp_path / "deploy", tmp_path / "openhands"
    subprocess.run(["git", "clone", "-q", "-b", clean.deploy_branch, clean.repos.deploy.url,
                    str(deploy)], check=True)  # fmt: skip
    subprocess.run(["git", "clone", "-q", clean.repos.openhands.url, str(openhands)], check=True)
    before = [(repos.git(p, "for-each-ref"), repos.git(p, "status", "--porcelain")) for p in
              (deploy, openhands)]  # fmt: skip
    index_times = [(p / ".git" / "index").stat().st_mtime_ns for p in (deploy, openhands)]

    code, report, err = gate(clean, deploy=str(deploy), openhands=str(openhands))

    assert code == 0, err
    assert report["openhands_sha"] == clean.pin
    # Before anything else runs git there: `git status` itself may refresh the index.
    assert [(p / ".git" / "index").stat().st_mtime_ns for p in (deploy, openhands)] == index_times
    after = [(repos.git(p, "for-each-ref"), repos.git(p, "status", "--porcelain")) for p in
             (deploy, openhands)]  # fmt: skip
    assert after == before


# --- each way to block ----------------------------------------------------------------------------


def test_a_sha_the_openhands_repo_lacks_blocks_and_the_rest_is_not_checked(
    clean: CutWorld,
) -> None:
    branch = deploy_at(clean, "deploy-unknown-sha", "0123456789" * 4)

    code, report, _ = gate(clean, ref=branch)

    assert code == 1
    assert report["verdict"] == "block" and report["openhands_sha"] is None
    assert statuses(report) == {
        "openhands_sha": "fail",
        **dict.fromkeys(CHECKS[1:], "skip"),
    }
    assert "0123456789012345678901234567890123456789" in detail(report, "openhands_sha")
    assert "is not a commit in" in detail(report, "openhands_sha")


def test_an_openhands_sha_that_is_not_40_hex_blocks(clean: CutWorld) -> None:
    branch = deploy_at(clean, "deploy-branch-name", "main")

    code, report, _ = gate(clean, ref=branch)

    assert code == 1
    assert "'main'" in detail(report, "openhands_sha") and "40-hex" in detail(
        report, "openhands_sha"
    )


def test_a_pin_cut_on_a_branch_without_the_backend_commit_blocks(
    images: Images, tmp_path: Path
) -> None:
    world = cut_world(tmp_path, images, CAPABLE, branch="main")  # the wrong branch

    code, report, _ = gate(world)

    assert code == 1
    assert statuses(report) == {**dict.fromkeys(CHECKS, "pass"), "backend_commits": "fail"}
    backend = world.repos.openhands.backend_commit
    assert f"does not contain {backend[:12]}" in detail(report, "backend_commits")


def test_a_compose_default_changed_after_the_cut_blocks(clean: CutWorld) -> None:
    oh = clean.repos.openhands
    compose = repos.show(oh.remote, clean.pin, "docker-compose.yml")
    human = repos.add_commit(
        oh.remote,
        "human-compose-edit",
        {"docker-compose.yml": compose.replace(f":-{CAPABLE}}}", ":-1.26.0-python}")},
        "Go back to the old image locally",
        start=clean.pin,
    )
    branch = deploy_at(clean, "deploy-human-edit", human)

    code, report, _ = gate(clean, ref=branch)

    assert code == 1
    assert report["openhands_sha"] == human
    assert statuses(report) == {**dict.fromkeys(CHECKS, "pass"), "pin_sites_agree": "fail"}
    assert (
        "AGENT_SERVER_IMAGE_TAG:-1.26.0-python at docker-compose.yml:10 beside AGENT_SERVER_IMAGE="
        in detail(report, "pin_sites_agree")
    )
    # The cut is found on the first-parent line below the human's commit.
    assert f"recorded by {clean.pin[:12]}" in detail(report, "digest_unchanged")


def test_a_pin_made_by_hand_blocks_for_want_of_a_recorded_digest(clean: CutWorld) -> None:
    oh = clean.repos.openhands
    files = {
        path: repos.show(oh.remote, oh.backend_commit, path).replace("1.26.0-python", CAPABLE)
        for path in (repos.SPEC_FILE, "docker-compose.yml", "containers/dev/compose.yml")
    }
    by_hand = repos.add_commit(oh.remote, "by-hand", files, "Bump", start=oh.backend_commit)
    branch = deploy_at(clean, "deploy-by-hand", by_hand)

    code, report, _ = gate(clean, ref=branch)

    assert code == 1
    assert statuses(report) == {**dict.fromkeys(CHECKS, "pass"), "digest_unchanged": "fail"}
    assert "Pinbot-Digest" in detail(report, "digest_unchanged")
    assert "pinbot cut" in detail(report, "digest_unchanged")


def test_a_forced_pin_without_the_capability_blocks(forced: CutWorld) -> None:
    code, report, _ = gate(forced)

    assert code == 1
    assert report["digest"] == forced.images.world.digests[INCAPABLE]
    assert statuses(report) == {**dict.fromkeys(CHECKS, "pass"), "capability": "fail"}
    assert "route file acp_session_blob_router.py absent" in detail(report, "capability")


def test_a_moved_tag_blocks_unless_retags_are_allowed(registry: str, tmp_path: Path) -> None:
    """A registry repository of its own: this test moves a tag."""
    image, repository = "ghcr.io/gatemove/agent-server", "gatemove/agent-server"
    writer = RegistryWriter(registry, repository)
    builds = [Build("1.26.0"), Build("1.27.0", routes=True), Build("1.27.1", routes=True)]
    published = publish(writer, tmp_path / "sdk", builds)
    world = cut_world(tmp_path, Images(registry, repository, published), CAPABLE, image=image)
    cut, moved = published.digests[CAPABLE], published.digests["1.27.1-python"]
    writer.put_manifest(CAPABLE, writer.indexes[moved], OCI_INDEX)  # a re-push under the tag

    code, report, _ = gate(world, registry=(registry, repository))

    assert code == 1
    assert statuses(report) == {**dict.fromkeys(CHECKS, "pass"), "digest_unchanged": "fail"}
    assert f"moved from {cut}" in detail(report, "digest_unchanged")
    assert report["digest"] == moved  # what the deploy would pull now, and what was checked

    code, report, err = gate(world, "--allow-retag", registry=(registry, repository))

    assert code == 0, err
    assert "allowed by --allow-retag" in detail(report, "digest_unchanged")


# --- the probe report -----------------------------------------------------------------------------


def probe_report(
    path: Path, verdicts: dict[str, str], digest: str | None, build_sha: str | None = None
) -> str:
    """A report as `pinbot probe --report` writes it (the probe's own report_json)."""
    plan = Plan("agent-server", list(verdicts), 60.0)
    plan.image = {"ref": f"img@{digest}", "digest": digest} if digest else None
    agents = [AgentReport(a, verdict=v, build_git_sha=build_sha) for a, v in verdicts.items()]
    data = report_json(plan, agents, "native")
    path.write_text(json.dumps(data))
    return str(path)


NATIVE = {"claude-code": "native", "codex": "native"}


def test_a_native_probe_of_this_digest_passes(clean: CutWorld, tmp_path: Path) -> None:
    digest = clean.images.world.digests[CAPABLE]
    path = probe_report(tmp_path / "probe.json", NATIVE, digest)

    code, report, err = gate(clean, "--require-probe", path)

    assert code == 0, err
    assert statuses(report)["probe"] == "pass"
    assert "matched by digest" in detail(report, "probe")


def test_a_probe_report_without_a_digest_is_matched_by_build_sha(
    clean: CutWorld, tmp_path: Path
) -> None:
    sha = clean.images.world.shas[CAPABLE]
    path = probe_report(tmp_path / "probe.json", NATIVE, None, build_sha=sha)

    code, report, err = gate(clean, "--require-probe", path)

    assert code == 0, err
    assert f"matched by build sha {sha[:12]}" in detail(report, "probe")


def test_a_probe_report_for_another_digest_blocks(clean: CutWorld, tmp_path: Path) -> None:
    other = clean.images.world.digests[INCAPABLE]
    path = probe_report(tmp_path / "probe.json", NATIVE, other)

    code, report, _ = gate(clean, "--require-probe", path)

    assert code == 1
    assert statuses(report) == {**dict.fromkeys(CHECKS, "pass"), "probe": "fail"}
    assert f"the report is for {other}" in detail(report, "probe")


def test_a_probe_report_saying_bootstrap_blocks(clean: CutWorld, tmp_path: Path) -> None:
    digest = clean.images.world.digests[CAPABLE]
    verdicts = {"claude-code": "native", "codex": "bootstrap"}
    path = probe_report(tmp_path / "probe.json", verdicts, digest)

    code, report, _ = gate(clean, "--require-probe", path)

    assert code == 1
    assert statuses(report)["probe"] == "fail"
    assert "codex bootstrap" in detail(report, "probe")


def test_a_rollback_that_loses_conversations_is_a_warning_unless_required_safe(
    clean: CutWorld, tmp_path: Path
) -> None:
    path = rollback_report(tmp_path / "probe.json", clean.images.world.digests[CAPABLE])

    code, report, err = gate(clean, "--require-probe", path)
    assert code == 0, err
    assert statuses(report)["probe"] == "pass"
    warning = "warning: reverting this pin would lose conversations: codex: a conversation born"
    assert warning in detail(report, "probe")
    assert "1.58.2 is lost on 1.43.1" in detail(report, "probe")

    code, report, _ = gate(clean, "--require-probe", path, "--require-rollback-safe")
    assert code == 1
    assert statuses(report)["probe"] == "fail"


def test_an_unreadable_probe_report_is_bad_input(clean: CutWorld, tmp_path: Path) -> None:
    (tmp_path / "probe.json").write_text("{not json")

    code, report, err = gate(clean, "--require-probe", str(tmp_path / "probe.json"))
    assert code == 2 and report is None
    assert "--require-probe" in err and "not JSON" in err

    code, _, err = gate(clean, "--require-probe", str(tmp_path / "missing.json"))
    assert code == 2 and "missing.json' does not exist" in err


# --- pipelines ------------------------------------------------------------------------------------


def test_github_actions_get_outputs_a_summary_and_one_error_per_failing_check(
    forced: CutWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    path = probe_report(tmp_path / "probe.json", {"claude-code": "bootstrap", "codex": "lost"},
                        forced.images.world.digests[INCAPABLE])  # fmt: skip

    code, out, err = gate(forced, "--require-probe", path, text=True)

    assert code == 1
    assert "::" not in out  # workflow commands go to stderr (docs/security.md)
    digest = forced.images.world.digests[INCAPABLE]
    report, *lines = output.read_text().splitlines()
    assert json.loads(report.removeprefix("report="))["verdict"] == "block"
    assert lines == [
        "verdict=block",
        f"openhands_sha={forced.pin}",
        f"image={forced.image}",
        f"tag={INCAPABLE}",
        f"digest={digest}",
    ]
    markdown = summary.read_text()
    assert markdown.startswith("### pinbot gate: BLOCK")
    assert "| check | result | detail |" in markdown
    assert "| capability | ❌ fail |" in markdown and "| openhands_sha | ✅ pass |" in markdown
    errors = [line for line in err.splitlines() if line.startswith("::error")]
    assert len(errors) == 2
    assert errors[0].startswith("::error title=pinbot::gate: capability: ")
    assert errors[1].startswith(
        "::error title=pinbot::gate: probe: claude-code bootstrap; codex lost"
    )


# --- bad input and failing systems --------------------------------------------------------------


def test_bad_deploy_values_are_bad_input(clean: CutWorld, tmp_path: Path) -> None:
    url = clean.repos.deploy.url
    for value, message in (
        (f"{url}@", "write REPO or REPO@REF"),
        (f"{url}@no..such", "write REPO or REPO@REF"),
        (f"{url}@no-such-branch", "no-such-branch is not a commit in"),
        (str(tmp_path / "nowhere"), "no such directory"),
        (str(tmp_path), "is not a git repository"),
    ):
        code, report, err = gate(clean, deploy=value)
        assert (code, report) == (2, None), value
        assert message in err, (value, err)


def test_a_missing_workflow_file_is_bad_input(
    clean: CutWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pinbot.toml").write_text('[deploy]\nworkflow = ".github/workflows/prod.yaml"\n')
    monkeypatch.setenv("PINBOT_CONFIG", str(tmp_path / "pinbot.toml"))

    code, _, err = gate(clean)

    assert code == 2
    assert ".github/workflows/prod.yaml is missing at" in err and "deploy.workflow" in err


def test_an_unreachable_registry_is_an_external_failure(clean: CutWorld) -> None:
    from pinbot.net import free_port

    dead = f"127.0.0.1:{free_port()}"
    argv = ["--json", "gate", "--deploy", f"{clean.repos.deploy.url}@{clean.deploy_branch}",
            "--openhands", clean.repos.openhands.url, "--image", clean.image,
            "--registry-url", dead, "--sdk", str(clean.images.world.sdk)]  # fmt: skip
    code, out, _ = run(argv)

    report = json.loads(out)
    assert code == 3
    assert report["verdict"] == "block"
    assert statuses(report)["digest_unchanged"] == "error"
    assert "cannot reach" in detail(report, "digest_unchanged")


def test_a_remote_url_without_a_token_is_read_from_a_temporary_mirror(
    clean: CutWorld, tmp_path: Path
) -> None:
    url = "https://github.com/acme/OpenHands"
    Path(os.environ["GIT_CONFIG_GLOBAL"]).write_text(
        f'[url "{clean.repos.openhands.url}"]\n\tinsteadOf = {url}\n'
    )

    code, report, err = gate(clean, openhands=url)

    assert code == 0, err
    assert "temporary blobless mirror" in err
    assert report["openhands_sha"] == clean.pin
