"""`pinbot cut` end to end: a real registry, real git repositories behind bare file:// remotes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo import repos
from pinbot.demo.repos import Remotes
from pinbot.git.clone import Clone
from testing.cli import pinbot
from testing.cutworld import (
    CAPABLE,
    COMPOSE_FILES,
    IMAGE,
    INCAPABLE,
    cut_remotes,
    deploy_branch,
    head_branch,
)
from testing.worlds import Images


def cut_argv(
    images: Images,
    world: Remotes,
    *,
    tag: str | None = CAPABLE,
    require: bool = True,
    openhands: str | None = None,
    branch: str | None = None,
) -> list[str]:
    """`pinbot cut ...` against this world's registry and remotes."""
    argv = ["cut", *(["--tag", tag] if tag else ["--latest"])]
    argv += ["--openhands", openhands or world.openhands.url]
    argv += ["--openhands-branch", branch or world.openhands.branch]
    argv += ["--deploy", world.deploy.url, "--image", IMAGE]
    argv += ["--registry-url", images.registry, "--sdk", str(images.world.sdk)]
    return argv + (["--require-commit", world.openhands.backend_commit] if require else [])


def cut(
    capsys: pytest.CaptureFixture[str],
    images: Images,
    world: Remotes,
    *extra: str,
    tag: str | None = CAPABLE,
    require: bool = True,
    openhands: str | None = None,
    branch: str | None = None,
) -> tuple[int, dict[str, Any] | None, str]:
    argv = cut_argv(images, world, tag=tag, require=require, openhands=openhands, branch=branch)
    code, out, err = pinbot(*["--json", *argv, *extra])
    return code, json.loads(out) if out.strip() else None, err


def show(remote: Path, revision: str, path: str) -> str:
    return repos.show(remote, revision, path)


def log(remote: Path, revision: str) -> list[str]:
    return repos.git(remote, "log", "--format=%H", revision).split()


# --- the pin lands where it must --------------------------------------------------------------


def test_cut_pins_every_site_on_the_backend_branch_and_deploys_exactly_that_commit(
    capsys, images, world
) -> None:
    oh, dp = world.openhands, world.deploy
    tip = repos.git(oh.remote, "rev-parse", oh.branch)

    code, report, err = cut(capsys, images, world, "--push")

    assert code == 0, err
    assert report is not None
    sha = report["openhands"]["commit"]
    head = head_branch(oh.branch)
    assert report["openhands"]["head"] == head
    assert repos.git(oh.remote, "rev-parse", head) == sha
    assert repos.git(oh.remote, "rev-parse", f"{head}~1") == tip  # on the backend branch
    assert repos.git(oh.remote, "rev-parse", oh.branch) == tip  # which only its PR moves
    assert f"AGENT_SERVER_IMAGE = '{IMAGE}:{CAPABLE}'" in show(oh.remote, sha, repos.SPEC_FILE)
    for path in COMPOSE_FILES:
        text = show(oh.remote, sha, path)
        assert f"AGENT_SERVER_IMAGE_TAG:-{CAPABLE}}}" in text
        assert "1.26.0-python" not in text
    repos.git(oh.remote, "merge-base", "--is-ancestor", oh.backend_commit, sha)
    assert log(oh.remote, head)[1] == oh.backend_commit  # one commit on top, no more

    workflow = show(dp.remote, deploy_branch(), repos.WORKFLOW)
    assert f"OPENHANDS_SHA: {sha}  # OpenHands commit to deploy" in workflow
    numstat = repos.git(dp.remote, "diff", "--numstat", "main", deploy_branch())
    assert numstat == f"1\t1\t{repos.WORKFLOW}"
    assert repos.git(dp.remote, "rev-parse", "main") == dp.main

    digest = images.world.digests[CAPABLE]
    assert report["tag"] == CAPABLE and report["digest"] == digest
    assert report["deploy"]["branch"] == deploy_branch()
    assert report["deploy"]["commit"] == repos.git(dp.remote, "rev-parse", deploy_branch())
    assert report["openhands"]["pr"] is None and report["deploy"]["pr"] is None
    assert [(c["repo"], c["file"], c["old"], c["new"]) for c in report["changes"]] == [
        ("openhands", repos.SPEC_FILE, f"{IMAGE}:1.26.0-python", f"{IMAGE}:{CAPABLE}"),
        ("openhands", COMPOSE_FILES[0], "1.26.0-python", CAPABLE),
        ("openhands", COMPOSE_FILES[1], "1.26.0-python", CAPABLE),
        ("deploy", repos.WORKFLOW, oh.main, sha),
    ]


def test_commits_carry_the_bot_identity_and_the_trailers(capsys, images, world) -> None:
    code, report, _ = cut(capsys, images, world, "--push")

    assert code == 0 and report is not None
    digest = images.world.digests[CAPABLE]
    for remote, sha in (
        (world.openhands.remote, report["openhands"]["commit"]),
        (world.deploy.remote, report["deploy"]["commit"]),
    ):
        who = repos.git(remote, "log", "-1", "--format=%an <%ae>|%cn <%ce>", sha)
        assert (
            who
            == "pinbot <pinbot@users.noreply.github.com>|pinbot <pinbot@users.noreply.github.com>"
        )
        message = repos.git(remote, "log", "-1", "--format=%B", sha)
        assert f"Pinbot-Image: {IMAGE}:{CAPABLE}\nPinbot-Digest: {digest}" in message
    deploy_message = repos.git(world.deploy.remote, "log", "-1", "--format=%B", deploy_branch())
    assert f"Pinbot-OpenHands-Sha: {report['openhands']['commit']}" in deploy_message


def test_rerun_makes_no_new_commit(capsys, images, world) -> None:
    code, first, _ = cut(capsys, images, world, "--push")
    refs = world.refs()

    code, again, err = cut(capsys, images, world, "--push")

    assert code == 0, err
    assert again is not None and first is not None
    assert world.refs() == refs
    assert again["openhands"]["commit"] == first["openhands"]["commit"]
    assert again["deploy"]["commit"] == first["deploy"]["commit"]
    assert not again["openhands"]["changed"] and not again["deploy"]["changed"]
    assert again["changes"] == []


def test_a_run_killed_between_the_pushes_completes_without_a_second_openhands_commit(
    capsys, images, world, monkeypatch
) -> None:
    real_push = Clone.push

    def killed_before_deploy(self: Clone, commit: str, branch: str) -> bool:
        if self.flag == "--deploy":
            raise KeyboardInterrupt
        return real_push(self, commit, branch)

    monkeypatch.setattr(Clone, "push", killed_before_deploy)
    code, _, err = cut(capsys, images, world, "--push")
    assert code == 130, err
    head = head_branch(world.openhands.branch)
    pinned = repos.git(world.openhands.remote, "rev-parse", head)
    assert log(world.openhands.remote, pinned)[1] == world.openhands.backend_commit
    assert deploy_branch() not in repos.git(world.deploy.remote, "branch")

    monkeypatch.setattr(Clone, "push", real_push)
    code, report, err = cut(capsys, images, world, "--push")

    assert code == 0, err
    assert report is not None
    assert repos.git(world.openhands.remote, "rev-parse", head) == pinned
    assert report["openhands"]["commit"] == pinned and not report["openhands"]["changed"]
    assert f"OPENHANDS_SHA: {pinned} " in show(world.deploy.remote, deploy_branch(), repos.WORKFLOW)


def test_a_head_branch_another_run_pushed_meanwhile_is_taken_not_pushed_over(
    capsys, images, world, monkeypatch
) -> None:
    real_push = Clone.push
    pushes: list[str] = []
    rival: list[str] = []
    head = head_branch(world.openhands.branch)

    def racing(self: Clone, commit: str, branch: str) -> bool:
        pushes.append(branch)
        if branch == head and not rival:  # another run's commit of the same pin gets there first
            made = self.repo.commit(commit)
            files = {p: self.read(commit, p) or b"" for p in made.stats.files}
            other = self.commit(made.parents[0].hexsha, files, f"Rival\n\n{made.message}")
            rival.append(other)
            assert real_push(self, other, branch)
        return real_push(self, commit, branch)

    monkeypatch.setattr(Clone, "push", racing)
    code, report, err = cut(capsys, images, world, "--push")

    assert code == 0, err
    assert report is not None
    assert pushes == [head, deploy_branch()]  # rebuilt on the rival: nothing left to push
    assert "moved" in err and "rebuilding" in err
    assert report["openhands"]["commit"] == rival[0] != report["openhands"]["parent"]
    assert repos.git(world.openhands.remote, "rev-parse", head) == rival[0]
    workflow = show(world.deploy.remote, deploy_branch(), repos.WORKFLOW)
    assert f"OPENHANDS_SHA: {rival[0]} " in workflow


def test_the_latest_capable_tag_is_found_by_scanning(capsys, images, world) -> None:
    code, report, err = cut(capsys, images, world, "--push", tag=None)

    assert code == 0, err
    assert report is not None and report["tag"] == CAPABLE


# --- dry run and local builds -----------------------------------------------------------------


def test_dry_run_prints_the_plan_and_changes_nothing(capsys, images, world) -> None:
    refs = world.refs()
    code, out, err = pinbot(*[*cut_argv(images, world, require=False), "--dry-run", "--push"])

    assert code == 0, err
    assert world.refs() == refs
    assert f"-AGENT_SERVER_IMAGE = '{IMAGE}:1.26.0-python'" in out
    assert f"+AGENT_SERVER_IMAGE = '{IMAGE}:{CAPABLE}'" in out
    assert f"+      - AGENT_SERVER_IMAGE_TAG=${{AGENT_SERVER_IMAGE_TAG:-{CAPABLE}}}" in out
    assert f"-  OPENHANDS_SHA: {world.openhands.main}  # OpenHands commit to deploy" in out
    assert f"| Pin agent-server {CAPABLE}" in out
    assert f"| Deploy the OpenHands commit this cut makes on {world.openhands.branch} with" in out
    assert "000000000000" not in out
    assert "dry run: nothing was pushed" in out


def test_without_push_the_commits_are_built_and_kept_for_inspection(capsys, images, world) -> None:
    refs = world.refs()
    code, report, err = cut(capsys, images, world)

    assert code == 0, err
    assert report is not None and report["pushed"] is False
    assert world.refs() == refs
    built = repos.git(
        Path(report["workdir"]) / "deploy", "cat-file", "-t", report["deploy"]["commit"]
    )
    assert built == "commit"
    shutil.rmtree(report["workdir"])
    code, out, _ = pinbot(*cut_argv(images, world, require=False))
    kept = Path(out.split("the commits are in ")[1].split(" ")[0])
    try:
        sha = out.split("show ")[1].split(")")[0]
        built = subprocess.run(
            ["git", "-C", str(kept / "openhands"), "show", "--stat", sha],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert repos.SPEC_FILE in built
    finally:
        shutil.rmtree(kept)


def test_the_users_working_tree_is_never_touched(capsys, images, world, tmp_path) -> None:
    user = tmp_path / "my-openhands"
    subprocess.run(["git", "clone", "-q", world.openhands.url, str(user)], check=True)
    (user / "README.md").write_text("my uncommitted notes\n")
    status = subprocess.run(
        ["git", "-C", str(user), "status", "--porcelain", "-b"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    subprocess.run(
        [
            "git",
            "-C",
            str(user),
            "fetch",
            "-q",
            "origin",
            f"{world.openhands.branch}:{world.openhands.branch}",
        ],
        check=True,
    )

    code, report, err = cut(capsys, images, world, "--push", openhands=str(user))

    assert code == 0, err
    assert report is not None
    assert (user / "README.md").read_text() == "my uncommitted notes\n"
    assert (
        subprocess.run(
            ["git", "-C", str(user), "status", "--porcelain", "-b"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        == status
    )
    pinned = subprocess.run(
        ["git", "-C", str(user), "rev-parse", head_branch(world.openhands.branch)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert pinned == report["openhands"]["commit"]


# --- refusals ---------------------------------------------------------------------------------


def test_a_branch_without_the_backend_commit_is_refused_with_exit_1(capsys, images, world) -> None:
    refs = world.refs()
    code, report, err = cut(capsys, images, world, "--push", branch="main")

    assert code == 1
    assert report is None
    assert f"does not contain the backend commit(s) {world.openhands.backend_commit[:12]}" in err
    assert "--openhands-branch" in err
    assert world.refs() == refs


def test_a_tag_without_the_capability_is_refused_unless_forced(capsys, images, world) -> None:
    refs = world.refs()
    code, _, err = cut(capsys, images, world, "--push", tag=INCAPABLE)
    assert code == 1
    assert "does not carry acp-session-blob" in err and "--force-capability" in err
    assert world.refs() == refs

    code, report, err = cut(capsys, images, world, "--push", "--force-capability", tag=INCAPABLE)

    assert code == 0, err
    assert report is not None and report["forced"] is True
    assert "pinning it anyway" in err
    head = head_branch(world.openhands.branch, INCAPABLE)
    message = repos.git(world.openhands.remote, "log", "-1", "--format=%B", head)
    assert "WARNING: the capability check for acp-session-blob said fail" in message


def test_a_tag_the_registry_lacks_is_bad_input(capsys, images, world) -> None:
    refs = world.refs()
    code, _, err = cut(capsys, images, world, "--push", tag="9.9.9-python")
    assert code == 2, err
    assert "9.9.9-python" in err
    assert world.refs() == refs


SPEC = repos.sandbox_spec_service(IMAGE, "1.26.0-python")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {repos.SPEC_FILE: SPEC + f"\nAGENT_SERVER_IMAGE = '{IMAGE}:1.0.0-python'\n"},
            f"{repos.SPEC_FILE}: AGENT_SERVER_IMAGE is assigned 2 times",
        ),
        (
            {repos.SPEC_FILE: SPEC.replace(f"'{IMAGE}:1.26.0-python'", f"f'{IMAGE}:{{TAG}}'")},
            f"{repos.SPEC_FILE}:15: AGENT_SERVER_IMAGE is built with an f-string",
        ),
    ],
    ids=["defined-twice", "f-string"],
)
def test_odd_pin_sites_are_refused_and_nothing_is_pushed(
    capsys, images, tmp_path, files, message
) -> None:
    world = cut_remotes(tmp_path / "odd", files=files)
    refs = world.refs()

    code, _, err = cut(capsys, images, world, "--push")

    assert code == 2
    assert message in err
    assert world.refs() == refs


@pytest.mark.parametrize(
    ("files", "moved"),
    [
        ({"containers/dev/compose.yml": None}, [repos.SPEC_FILE, "docker-compose.yml"]),
        ({"docker-compose.yml": "services: {}\n"}, [repos.SPEC_FILE, COMPOSE_FILES[1]]),
    ],
    ids=["missing-compose", "compose-without-default"],
)
def test_every_site_present_moves_and_an_absent_one_is_not_required(
    capsys, images, tmp_path, files, moved
) -> None:
    world = cut_remotes(tmp_path / "some", files=files)

    code, report, err = cut(capsys, images, world, "--push")

    assert code == 0, err
    assert report is not None
    assert [c["file"] for c in report["changes"] if c["repo"] == "openhands"] == moved


def test_a_tree_without_any_pin_site_is_refused(capsys, images, tmp_path) -> None:
    files = {repos.SPEC_FILE: None, "docker-compose.yml": None, "containers/dev/compose.yml": None}
    world = cut_remotes(tmp_path / "none", files=files)

    code, _, err = cut(capsys, images, world, "--push")

    assert code == 2
    assert "no pin site found at" in err


def test_a_workflow_without_openhands_sha_is_refused(capsys, images, tmp_path) -> None:
    workflow = repos.deploy_workflow("0" * 40).replace("  OPENHANDS_SHA:", "  OTHER_SHA:")
    world = cut_remotes(tmp_path / "odd", workflow=workflow)
    refs = world.refs()

    code, _, err = cut(capsys, images, world, "--push")

    assert code == 2
    assert f"{repos.WORKFLOW}:13: no 'OPENHANDS_SHA' key in the top-level env" in err
    assert world.refs() == refs


def test_crlf_pin_sites_get_a_minimal_edit(capsys, images, tmp_path) -> None:
    spec = SPEC.replace("\n", "\r\n").encode()
    compose = repos.docker_compose(IMAGE, "1.26.0-python").replace("\n", "\r\n").encode()
    world = cut_remotes(
        tmp_path / "crlf", files={repos.SPEC_FILE: spec, "docker-compose.yml": compose}
    )

    code, _, err = cut(capsys, images, world, "--push")

    assert code == 0, err
    sha = head_branch(world.openhands.branch)
    assert show(world.openhands.remote, sha, repos.SPEC_FILE).encode() == spec.replace(
        b"1.26.0-python'", f"{CAPABLE}'".encode()
    )
    assert show(world.openhands.remote, sha, "docker-compose.yml").encode() == compose.replace(
        b"1.26.0-python}", f"{CAPABLE}}}".encode()
    )


def test_a_workflow_with_anchors_and_comments_gets_a_one_line_edit(
    capsys, images, tmp_path
) -> None:
    old = "0" * 40
    workflow = f"""\
name: Deploy  # production
on: {{workflow_dispatch: {{}}}}
env: &pins
  # the commit to deploy; moved by pinbot
  OPENHANDS_SHA: &openhands '{old}'   # keep quoted
  OPENHANDS_RUNTIME_IMAGE_TAG: "0.62-nikolaik"
  RUNTIME_API_SHA: {"5" * 40}
jobs:
  deploy:
    runs-on: ubuntu-latest
    env:
      <<: *pins
      CHECKOUT_REF: *openhands
    steps:
      - run: echo "$OPENHANDS_SHA"
"""
    world = cut_remotes(tmp_path / "anchors", workflow=workflow)

    code, report, err = cut(capsys, images, world, "--push")

    assert code == 0, err
    assert report is not None
    sha = report["openhands"]["commit"]
    after = show(world.deploy.remote, deploy_branch(), repos.WORKFLOW)
    assert after == workflow.replace(f"'{old}'", f"'{sha}'")
    numstat = repos.git(world.deploy.remote, "diff", "--numstat", "main", deploy_branch())
    assert numstat == f"1\t1\t{repos.WORKFLOW}"


def test_a_pinbot_branch_with_a_human_commit_is_not_built_on(capsys, images, world) -> None:
    code, _, _ = cut(capsys, images, world, "--push")
    assert code == 0
    repos.add_commit(
        world.deploy.remote,
        deploy_branch(),
        {"deploy.sh": "#!/bin/sh\nexit 1\n"},
        "Tweak the deploy script",
    )
    # The OpenHands branch moves on, so the deploy branch would need a new commit.
    repos.add_commit(world.openhands.remote, world.openhands.branch, {"NOTES.md": "x\n"}, "Notes")
    refs = world.refs()

    code, _, err = cut(capsys, images, world, "--push")

    assert code == 2
    assert f"{deploy_branch()} in {world.deploy.url}: its commit " in err
    assert "by 'OpenHands dev <dev@example.invalid>' ('Tweak the deploy script')" in err
    assert "is not one pinbot makes: pinbot will not build on it" in err
    assert world.refs() == refs


def test_once_deploy_main_carries_the_sha_a_rerun_does_nothing(capsys, images, world) -> None:
    code, first, _ = cut(capsys, images, world, "--push")
    assert code == 0 and first is not None
    merged = repos.git(world.deploy.remote, "rev-parse", deploy_branch())
    repos.git(world.deploy.remote, "update-ref", "refs/heads/main", merged)
    refs = world.refs()

    code, again, err = cut(capsys, images, world, "--push")

    assert code == 0, err
    assert again is not None
    assert again["deploy"] == {**again["deploy"], "branch": "main", "commit": merged}
    assert not again["deploy"]["changed"]
    assert world.refs() == refs


def test_a_remote_that_rejects_the_deploy_push_fails_with_exit_3_and_a_rerun_finishes(
    capsys, images, world
) -> None:
    hook = world.deploy.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'deploys are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)

    code, _, err = cut(capsys, images, world, "--push")

    assert code == 3
    assert f"git push of {deploy_branch()} to {world.deploy.url} failed" in err
    assert "pre-receive hook declined" in err
    pinned = repos.git(world.openhands.remote, "rev-parse", head_branch(world.openhands.branch))
    assert pinned != world.openhands.backend_commit

    hook.unlink()
    code, report, err = cut(capsys, images, world, "--push")

    assert code == 0, err
    assert report is not None and report["openhands"]["commit"] == pinned
    assert log(world.openhands.remote, pinned)[1] == world.openhands.backend_commit


def test_an_unreachable_remote_is_an_external_failure(capsys, images, world, tmp_path) -> None:
    gone = (tmp_path / "gone.git").as_uri()
    code, _, err = cut(capsys, images, world, "--push", openhands=gone)
    assert code == 3
    assert f"git ls-remote {gone} (--openhands) failed" in err


def test_a_missing_path_or_branch_is_bad_input(capsys, images, world, tmp_path) -> None:
    code, _, err = cut(capsys, images, world, openhands=str(tmp_path / "nowhere"))
    assert code == 2
    assert "--openhands" in err and "no such directory, and not a git URL" in err
    code, _, err = cut(capsys, images, world, branch="no-such-branch")
    assert code == 2
    assert "--openhands-branch 'no-such-branch' does not exist in" in err
    code, _, err = cut(capsys, images, world, "--deploy-branch", "prod")
    assert code == 2
    assert "--deploy-branch 'prod' does not exist in" in err
