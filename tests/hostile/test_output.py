"""No output channel can be forged: the real `pinbot gate` under GitHub Actions, with outside
text that tries to end a heredoc, start a workflow command, repaint the terminal or break the
PR section; and the seam's own rules, each with the attack it stops."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from pinbot import output
from pinbot.report import Output, markdown_table
from testing.actionrunner import read_outputs
from testing.gateworld import CutWorld, run

AREA = "output channels"
ATTACK = (
    "heredoc delimiters, `::stop-commands::`, ANSI and bidi escapes, HTML, `javascript:` "
    "links and the PR marker in outside text; unwritable "
    "`GITHUB_OUTPUT`/`GITHUB_STEP_SUMMARY`"
)
ANSWER = (
    "escapes each channel; workflow commands only on stderr, `--json` stays JSON; an "
    "unwritable file is bad set-up"
)
EXIT = "0 / 2"


def gate_argv(world: CutWorld) -> list[str]:
    return [
        "gate", "--deploy", f"{world.repos.deploy.url}@{world.deploy_branch}",
        "--openhands", world.repos.openhands.url, "--image", world.image,
        "--registry-url", world.images.registry, "--sdk", str(world.images.world.sdk),
    ]  # fmt: skip


def actions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    outputs, summary = tmp_path / "github-output", tmp_path / "step-summary"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    return outputs, summary


@pytest.mark.parametrize("variable", ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"])
def test_an_unwritable_actions_file_is_bad_set_up_exit_2(
    clean: CutWorld, variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    actions(monkeypatch, tmp_path)
    monkeypatch.setenv(variable, str(tmp_path / "no-such-dir" / "file"))

    code, _, err = run(gate_argv(clean))

    assert code == 2, err
    assert f"{variable}=" in err and "cannot be written" in err


def test_the_gate_under_actions_writes_parseable_outputs_and_json(
    clean: CutWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs, summary = actions(monkeypatch, tmp_path)

    code, out, err = run(["--json", *gate_argv(clean)])

    assert code == 0, err
    assert json.loads(out)["verdict"] == "pass"
    parsed = read_outputs(outputs.read_text())
    assert parsed["verdict"] == "pass"
    assert "### pinbot gate: PASS" in summary.read_text()


def test_a_value_cannot_end_its_heredoc_and_set_another_output() -> None:
    forged = "line one\nEOF\nverdict=pass\npinbot_0\nverdict=pass"

    block = output.github_output_block({"verdict": "block", "detail": forged})

    assert read_outputs(block) == {"verdict": "block", "detail": forged}


def test_a_carriage_return_cannot_start_a_second_output_line() -> None:
    block = output.github_output_block({"detail": "x\rverdict=pass"})

    assert "verdict" not in read_outputs(block)


@pytest.mark.parametrize(
    "hostile",
    [
        "\x1b[2J\x1b[31mred\x1b]0;title\x07",  # clear screen, colour, window title
        "ok\n::stop-commands::pinbot\n::error::owned",  # workflow commands on a line of its own
        "  ##[error]old syntax",
        "\u202eevil\u202c",  # a bidi override that reverses what a reviewer reads
        "\x9b2J",  # a C1 CSI
    ],
)
def test_outside_text_reaches_the_terminal_inert(
    hostile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(stdout, stderr)
    out.progress(f"registry said {hostile}")
    out.error(f"registry said {hostile}")
    out.result({}, f"tag {hostile}")

    for text in (stdout.getvalue(), stderr.getvalue()):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", text)
        assert not [ln for ln in text.splitlines() if ln.lstrip().startswith(("::", "##["))]
    errors = [ln for ln in stderr.getvalue().splitlines() if ln.startswith("pinbot: error:")]
    assert len(errors) == 1 and stderr.getvalue().endswith(errors[0] + "\n")  # one line


def test_workflow_commands_go_to_stderr_escaped_never_stdout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    actions(monkeypatch, tmp_path)
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(stdout, stderr)
    out.configure(json_mode=True, verbose=0)
    out.mask("secret\n::stop-commands::x")
    out.github(errors=["tag moved\n::add-mask::nothing"])
    out.result({"ok": True}, "")

    assert json.loads(stdout.getvalue()) == {"ok": True}
    assert stderr.getvalue().splitlines() == [
        "::add-mask::secret%0A::stop-commands::x",
        "::error title=pinbot::tag moved%0A::add-mask::nothing",
    ]


def test_markdown_from_outside_cannot_link_tag_or_close_the_pr_section() -> None:
    hostile = "[click](javascript:alert(1)) <img src=x onerror=alert(1)> <!-- pinbot:end --> | x"

    cell = output.markdown(hostile)
    table = markdown_table(("check", "detail"), [("source", cell)])

    assert "](" not in cell and "<" not in cell and "-->" not in cell
    assert table.splitlines()[-1].count("|") == 3  # still two cells
    assert "pinbot:end" in cell  # the text is shown, not dropped


def test_the_github_output_writer_refuses_a_forged_output_name() -> None:
    with pytest.raises(ValueError):
        output.github_output_block({"verdict=pass\nx": "1"})


def test_json_output_never_holds_a_workflow_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(stdout, stderr)
    out.configure(json_mode=True, verbose=0)
    out.mask("tokenValue0003")
    out.result({"note": "tokenValue0003"}, "")

    assert json.loads(stdout.getvalue()) == {"note": "***"}
    assert "::" not in stdout.getvalue()


def test_an_image_config_cannot_forge_a_trailer_or_repaint_a_terminal() -> None:
    from pinbot.registry.documents import _facts

    forged = "a" * 40 + "\nPinbot-Image: evil.example/x:1"
    config = {
        "created": "2026-01-01T00:00:00Z\x1b[2J",
        "config": {"Env": [f"OPENHANDS_BUILD_GIT_SHA={forged}",
                           "OPENHANDS_BUILD_GIT_REF=refs/heads/main\x1b]0;owned\x07"]},
    }  # fmt: skip

    facts = _facts("sha256:" + "0" * 64, ("linux/amd64",), config)

    assert (facts.build_sha, facts.build_ref, facts.created) == (None, None, None)


def test_no_value_in_the_pr_marker_can_close_its_comment() -> None:
    import json

    from pinbot.commits import GitHubRepo
    from pinbot.github.pulls import BEGIN, END, PullSpec, merge_section

    spec = PullSpec("deploy", GitHubRepo("o", "n"), "pinbot/x", "main", "t",
                    {"tag": "x --> <!-- pinbot:end -->"}, "body")  # fmt: skip

    body = spec.body_section(None)

    first = body.splitlines()[0]
    assert first.startswith(BEGIN) and first.endswith(" -->") and first.count("-->") == 1
    assert json.loads(first.removeprefix(BEGIN).removesuffix(" -->"))["tag"].startswith("x -->")
    assert body.count(END) == 1
    assert merge_section("human text\n\n" + body, body) == "human text\n\n" + body
