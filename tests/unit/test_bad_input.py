"""Bad input is exit 2 with a message that names the value and the fix, and writes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testing.cli import pinbot


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code, _, err = pinbot(*argv)
    return code, err


@pytest.fixture(autouse=True)
def _nothing_written(tmp_path: Path):
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    yield
    configs = {Path("pinbot.toml"), Path("pyproject.toml")}  # written by the tests themselves
    after = sorted(
        p.relative_to(tmp_path)
        for p in tmp_path.rglob("*")
        if p.relative_to(tmp_path) not in configs
    )
    cache = Path(os.environ["PINBOT_CACHE_DIR"])
    # A run keeps its record (pinbot.cleanup) in the cache's runs/ while it lasts; no more.
    after = [p for p in after if not (tmp_path / p).is_relative_to(cache)]
    assert after == before, "a refused command wrote files"
    assert [p for p in cache.rglob("*") if p.is_file()] == [], "nor anything in the cache"


@pytest.mark.parametrize("tag", ["1.43.1-python'", "1.43 1-python", ".leading-dot", "a" * 129])
def test_a_malformed_tag_is_refused_before_any_request(capsys, tag: str) -> None:
    code, err = run(capsys, "check", "--image", "ghcr.io/openhands/agent-server", tag)
    assert code == 2
    assert repr(tag) in err and "not a valid image tag" in err


def test_a_malformed_current_pin_is_refused(capsys) -> None:
    code, err = run(capsys, "scan", "--current", '1.26.0-python"')
    assert code == 2 and "--current" in err and "not a valid image tag" in err


def test_an_uppercase_repository_is_refused(capsys) -> None:
    code, err = run(capsys, "scan", "--image", "ghcr.io/OpenHands/agent-server")
    assert code == 2
    assert "'OpenHands/agent-server' must be lowercase" in err


def test_an_image_without_a_registry_host_says_how_to_write_it(capsys) -> None:
    code, err = run(capsys, "scan", "--image", "openhands/agent-server")
    assert code == 2 and "write it as HOST/NAME" in err


def test_a_non_hex_sha_in_config_is_refused(capsys, tmp_path: Path) -> None:
    (tmp_path / "pinbot.toml").write_text('require_commits = ["deadbeefxyz"]\n')
    code, err = run(capsys, "scan")
    assert code == 2
    assert "'deadbeefxyz' is not a full commit sha: give all 40 lowercase hex digits" in err


def test_an_unknown_config_key_names_file_and_key(capsys, tmp_path: Path) -> None:
    (tmp_path / "pinbot.toml").write_text('imagee = "ghcr.io/x/y"\n')
    code, err = run(capsys, "scan")
    assert code == 2
    assert f"{tmp_path / 'pinbot.toml'}: unknown key 'imagee'" in err


def test_an_unknown_nested_config_key_is_named_with_its_table(capsys, tmp_path: Path) -> None:
    (tmp_path / "pinbot.toml").write_text('[pin]\npython_fil = "x.py"\n')
    code, err = run(capsys, "scan")
    assert code == 2 and "unknown key 'pin.python_fil'" in err


def test_a_wrong_config_type_is_named(capsys, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pinbot]\nplatforms = "linux/amd64"\n')
    code, err = run(capsys, "scan")
    assert code == 2 and "platforms must be a list of str" in err


def test_a_missing_config_file_is_named(capsys, tmp_path: Path) -> None:
    code, err = run(capsys, "--config", str(tmp_path / "nope.toml"), "scan")
    assert code == 2 and "nope.toml' does not exist" in err


def test_an_unknown_detector_is_refused(capsys) -> None:
    code, err = run(capsys, "scan", "--detectors", "source,magic")
    assert code == 2 and "choose from source, openapi" in err


def test_flags_read_pinbot_environment_variables(capsys, monkeypatch) -> None:
    monkeypatch.setenv("PINBOT_IMAGE", "ghcr.io/Bad/Name")
    code, err = run(capsys, "scan")
    assert code == 2 and "'Bad/Name' must be lowercase" in err


def test_a_bad_boolean_environment_value_is_named(capsys, monkeypatch) -> None:
    monkeypatch.setenv("PINBOT_JSON", "maybe")
    code, err = run(capsys, "scan")
    assert code == 2 and "PINBOT_JSON='maybe'" in err


def test_unknown_flags_are_usage_errors_not_crashes(capsys) -> None:
    code, err = run(capsys, "scan", "--frobnicate")
    assert code == 2 and "unrecognized arguments: --frobnicate" in err


def test_an_internal_error_is_one_line_and_a_traceback_file(capsys, monkeypatch) -> None:
    import pinbot.commands.scan as scan_command

    def boom(*args: object, **kwargs: object) -> int:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(scan_command, "run", boom)
    code, err = run(capsys, "scan")
    assert code == 4
    assert err.startswith("pinbot: error: internal error: RuntimeError: kaboom (traceback: ")
    log = Path(err.split("traceback: ")[1].rstrip(")\n"))
    assert "kaboom" in log.read_text()
    log.unlink()
    for parent in (log.parent, log.parent.parent):
        parent.rmdir()


# --- every kind of value, at the edge (argparse types and config bounds) -----------------------


@pytest.mark.parametrize(
    ("argv", "named", "fix"),
    [
        (["probe", "--app-url", "not a url"], "'not a url'", "http://127.0.0.1:3000"),
        (["probe", "--app-url", "http://127.0.0.1:notaport"], "notaport'", "no valid port"),
        (["probe", "--app-url", "ftp://app.example"], "'ftp://app.example'", "http(s) URL"),
        (
            ["probe", "--target", "agent-server", "--agent-server-url", "http://127.0.0.1:notaport",
             "--recycle-command", "true"],
            "notaport'", "no valid port",
        ),
        (["probe", "--target", "agent-server", "--server-command", '"x'], "'\"x'", "quote it"),
        (["probe", "--target", "agent-server", "--server-command", "  "], "'  '", "empty command"),
        (["probe", "--acp-command", '"x', "--app-url", "http://127.0.0.1:1"], "'\"x'", "quote it"),
        (["probe", "--recycle-command", "'x", "--app-url", "http://127.0.0.1:1"], "\"'x\"",
         "quote"),
        (["probe", "--timeout", "0"], "'0'", "positive number"),
        (["probe", "--timeout", "-5"], "'-5'", "positive number"),
        (["probe", "--timeout", "nan"], "'nan'", "positive number"),
        (["probe", "--timeout", "soon"], "'soon'", "positive number"),
        (["probe", "--agents", "Claude Code"], "'Claude Code'", "claude-code,codex"),
        (["probe", "--agents", "codex,codex"], "'codex,codex'", "twice"),
        (["probe", "--target", "agent-server", "--image", "Not An Image"], "Not An Image",
         "REPO:TAG"),
        (["probe", "--report", "/nonexistent-dir/report.json"], "/nonexistent-dir", "create it"),
        (["probe", "--target", "nowhere"], "'nowhere'", "choose from"),
        (["scan", "--variant", "pyhton"], "'pyhton'", "did you mean python"),
        (["scan", "--registry-url", "not a url"], "'not a url'", "HOST[:PORT]"),
        (["scan", "--registry-url", "http://127.0.0.1:notaport"], "notaport'", "HOST[:PORT]"),
        (["scan", "--registry-url", "oci:"], "'oci:'", "oci:DIR"),
        (["scan", "--sdk", "/nonexistent-sdk"], "'/nonexistent-sdk'", "clone or git URL"),
        (["scan", "--detectors", ","], "','", "choose from"),
        (["check", "--variant", "Python", "1.0.0-python"], "'Python'", "did you mean python"),
        (["cut", "--tag", "bad tag", "--openhands", ".", "--openhands-branch", "main",
          "--deploy", "."], "'bad tag'", "not a valid image tag"),
        (["cut", "--latest", "--openhands", ".", "--openhands-branch", "a..b", "--deploy", "."],
         "'a..b'", "branch name"),
        (["cut", "--latest", "--openhands", ".", "--openhands-branch", "main", "--deploy", ".",
          "--deploy-branch=-x"], "'-x'", "branch name"),
        (["cut", "--latest", "--openhands", "/nonexistent-repo", "--openhands-branch", "main",
          "--deploy", "."], "'/nonexistent-repo'", "github.com/OWNER/NAME"),
        (["cut", "--latest", "--openhands", ".", "--openhands-branch", "main", "--deploy", ".",
          "--require-commit", "xyz"], "'xyz'", "40 hex digits"),
        (["gate", "--deploy", ".@a..b", "--openhands", "."], "'.@a..b'", "REPO@REF"),
        (["gate", "--deploy", "", "--openhands", "."], "''", "github.com/OWNER/NAME"),
        (["gate", "--deploy", ".", "--openhands", ".", "--require-probe", "/nonexistent.json"],
         "'/nonexistent.json'", "does not exist"),
        (["gate", "--deploy", ".", "--openhands", ".", "--require-probe", "."], "'.'",
         "is a directory"),
        (["--config", ".", "scan"], "'.'", "is a directory"),
        (["--config", "/nonexistent.toml", "scan"], "'/nonexistent.toml'", "does not exist"),
        # flags that came later: the same classes, the same edge
        (["cut", "--latest", "--openhands", ".", "--openhands-branch", "main", "--deploy", ".",
          "--index-url", "not a url"], "'not a url'", "https://pypi.org/simple/"),
        (["cut", "--latest", "--openhands", ".", "--openhands-branch", "main", "--deploy", ".",
          "--index-url", "ftp://index.example/simple/"], "'ftp://index.example/simple/'",
         "https://pypi.org/simple/"),
        (["cut", "--latest", "--openhands", ".", "--openhands-branch", "main", "--profile",
          "openhands-chart"], "'openhands-chart'", "choose from"),
        (["gate", "--deploy", ".", "--openhands", ".", "--profile", "nope"], "'nope'",
         "choose from"),
        (["probe", "--app-url", "http://127.0.0.1:1", "--app-auth", "basic"], "'basic'",
         "choose from"),
        (["probe", "--app-url", "http://127.0.0.1:1", "--recycle", "command",
          "--recycle-command", "  "], "'  '", "empty command"),
        (["probe", "--target", "agent-server", "--agent-server-url", "http://127.0.0.1:1",
          "--recycle-command", '"x'], "'\"x'", "quote"),
    ],
)  # fmt: skip
def test_every_kind_of_flag_value_is_checked_at_the_edge(
    capsys, argv: list[str], named: str, fix: str
) -> None:
    code, err = run(capsys, *argv)
    assert code == 2, err
    assert named in err and fix in err


def test_demo_workdir_naming_a_file_is_refused(capsys, tmp_path_factory) -> None:
    afile = tmp_path_factory.mktemp("elsewhere") / "a-file"
    afile.write_text("")
    code, err = run(capsys, "demo", "--workdir", str(afile))
    assert code == 2 and f"{str(afile)!r} is a file: name a directory" in err


@pytest.mark.parametrize(
    ("name", "value", "fix"),
    [
        ("PINBOT_VARIANT", "pyhton", "did you mean python"),
        ("PINBOT_APP_URL", "not a url", "http(s) URL"),
        ("PINBOT_TIMEOUT", "soon", "positive number"),
        ("PINBOT_REGISTRY_URL", "not a url", "HOST[:PORT]"),
        ("PINBOT_VERBOSE", "lots", "a count"),
        ("PINBOT_REQUIRE_COMMIT", "xyz", "40 hex digits"),
        ("PINBOT_RECYCLE", "reboot", "choose from"),
        ("PINBOT_APP_AUTH", "basic", "choose from"),
        ("PINBOT_RECYCLE_COMMAND", '"x', "quote"),
        ("PINBOT_INDEX_URL", "not a url", "https://pypi.org/simple/"),
        ("PINBOT_PROFILE", "nope", "choose from"),
        ("PINBOT_ALLOW_HELD", "maybe", "1/true or 0/false"),
        ("PINBOT_REGISTRY_TOKEN_HOST", "ghcr.io/openhands", "HOST:PORT"),
        ("PINBOT_REGISTRY_TOKEN_HOST", "https://ghcr.io", "HOST:PORT"),
        ("PINBOT_GIT_AUTHOR", "nobody", "Name <email@example.com>"),
    ],
)
def test_pinbot_environment_values_are_checked_like_their_flags(
    capsys, monkeypatch, name: str, value: str, fix: str
) -> None:
    monkeypatch.setenv(name, value)
    cut = ["cut", "--latest", "--openhands", ".", "--openhands-branch", "main", "--deploy", "."]
    command = {
        "PINBOT_REQUIRE_COMMIT": ["gate", "--deploy", ".", "--openhands", "."],
        **dict.fromkeys(("PINBOT_INDEX_URL", "PINBOT_PROFILE", "PINBOT_ALLOW_HELD"), cut),
    }
    probing = name in ("PINBOT_APP_URL", "PINBOT_TIMEOUT", "PINBOT_RECYCLE", "PINBOT_APP_AUTH")
    probing |= name == "PINBOT_RECYCLE_COMMAND"
    code, err = run(capsys, *command.get(name, ["probe"] if probing else ["scan"]))
    assert code == 2, err
    assert f"{name}={value!r}" in err and fix in err


@pytest.mark.parametrize(
    ("toml", "named", "fix"),
    [
        ("http_timeout = 0", "http_timeout 0", "between"),
        ("http_timeout = -3", "http_timeout -3", "between"),
        ("variant = 'pyhton'", "variant 'pyhton'", "did you mean python"),
        ("concurrency = 0", "concurrency 0", "between 1 and 64"),
        ("sdk_repo = 'not a repo'", "sdk_repo 'not a repo'", "OWNER/NAME"),
        ("platforms = ['linux']", "platform 'linux'", "OS/ARCH"),
        ("require_prs = [0]", "require_prs entry 0", "pull request number"),
        ("git_author = 'nobody'", "git_author 'nobody'", "Name <email@example.com>"),
        ("route_file = '../x.py'", "route_file '../x.py'", "path inside the SDK"),
        ("[probe]\ntimeout = 0", "probe.timeout 0", "between"),
        ("[probe]\nrecycle = 'reboot'", "probe.recycle 'reboot'", "choose from"),
        ("[probe]\nagents = ['Claude Code']", "probe.agents", "claude-code"),
        ("[openapi]\nstartup_timeout = 0", "openapi.startup_timeout 0", "between"),
        ("[openapi]\nmemory = 'lots'", "openapi.memory 'lots'", "like 1g"),
        ("[openapi]\nhealth_path = 'health'", "openapi.health_path 'health'", "start with /"),
        ("[deploy]\nbranch = 'a..b'", "deploy.branch 'a..b'", "branch name"),
        ("[deploy]\nbranch = 'main.lock'", "deploy.branch 'main.lock'", "branch name"),
        ("[deploy]\nworkflow = '../deploy.yml'", "deploy.workflow '../deploy.yml'", "path inside"),
        ("[deploy]\nsha_key = 'OPENHANDS SHA'", "deploy.sha_key 'OPENHANDS SHA'", "OPENHANDS_SHA"),
        ("[pin]\nprofile = 'openhands-chart'", "pin.profile 'openhands-chart'", "choose from"),
        ("[pin]\nindex_url = 'ftp://x/simple/'", "pin.index_url 'ftp://x/simple/'", "https://"),
        ("[pin]\npython_file = '/etc/x.py'", "pin.python_file '/etc/x.py'", "path inside"),
        ("[pin]\ncompose_files = ['../c.yml']", "pin.compose_files entry '../c.yml'",
         "path inside"),
        ("[pin]\npython_constant = 'AGENT IMAGE'", "pin.python_constant 'AGENT IMAGE'",
         "AGENT_SERVER_IMAGE"),
        ("[pin]\ncompose_variable = 'TAG-1'", "pin.compose_variable 'TAG-1'",
         "AGENT_SERVER_IMAGE_TAG"),
        ("[pin]\npackages = ['openhands sdk']", "pin.packages entry 'openhands sdk'",
         "openhands-sdk"),
        ("[[pin.sites]]\nkind = 'dockerfile'", "pin.sites[0]", "choose from"),
    ],
)  # fmt: skip
def test_config_values_are_bounded_at_load(
    capsys, tmp_path: Path, toml: str, named: str, fix: str
) -> None:
    (tmp_path / "pinbot.toml").write_text(toml + "\n")
    code, err = run(capsys, "scan")
    assert code == 2, err
    assert str(tmp_path / "pinbot.toml") in err and named in err and fix in err


def test_cut_from_a_directory_that_is_no_repository_is_bad_input(capsys, tmp_path_factory) -> None:
    plain = str(tmp_path_factory.mktemp("plain"))
    code, err = run(capsys, "cut", "--latest", "--openhands", plain, "--openhands-branch", "main",
                    "--deploy", plain, "--dry-run")  # fmt: skip
    assert code == 2, err
    assert f"--openhands {plain!r} is not a git repository: give a clone's path" in err


def test_an_environment_value_is_checked_by_the_command_whose_flag_it_is(
    capsys, monkeypatch
) -> None:
    # PINBOT_IMAGE is a repository for scan and an image reference for probe: each checks its own.
    monkeypatch.setenv("PINBOT_IMAGE", "ghcr.io/openhands/agent-server")
    code, err = run(capsys, "probe", "--target", "agent-server")
    assert code == 2
    assert "PINBOT_IMAGE='ghcr.io/openhands/agent-server'" in err and "REPO:TAG" in err
    code, err = run(capsys, "scan", "--registry-url", "oci:/nonexistent-layout")
    assert code == 2 and "PINBOT_IMAGE" not in err and "not an OCI image layout" in err


def test_a_cache_directory_that_is_a_file_is_refused(capsys, monkeypatch, tmp_path_factory) -> None:
    afile = tmp_path_factory.mktemp("elsewhere") / "cache"
    afile.write_text("")
    monkeypatch.setenv("PINBOT_CACHE_DIR", str(afile))
    code, err = run(capsys, "scan")
    assert code == 2 and f"PINBOT_CACHE_DIR={str(afile)!r} is a file" in err
