"""No secret leaves pinbot: a token planted in every input channel, then all output grepped.

Channels: GITHUB_TOKEN, GH_TOKEN, PINBOT_REGISTRY_TOKEN and PINBOT_APP_API_KEY in the
environment; a password in docker's config.json; a bearer token a registry's token service
hands out; credentials written into a git URL. Servers that echo a secret back in an error
(as real ones do) make sure the secrets reach pinbot's messages. Output: stdout, stderr (debug
logging on), --report files, crash logs, $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY. A secret may
appear only in the `::add-mask::` lines that ask the Actions runner to hide it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
import responses

from pinbot.cli import main
from testing import world as harness
from testing.cutworld import CAPABLE, IMAGE, cut_remotes
from testing.github import API, FakeGitHub
from testing.proxy import FaultProxy, Rule

SECRETS = {
    "GITHUB_TOKEN": "ghp_plantedGithubToken0001",
    "GH_TOKEN": "gho_plantedGhToken0002",
    "PINBOT_REGISTRY_TOKEN": "plantedRegistryToken0003",
    "PINBOT_APP_API_KEY": "plantedAppKey0004",
}
DOCKER_PASSWORD = "plantedDockerPassword0005"
DERIVED = "plantedDerivedBearer0006"
URL_PASSWORD = "plantedUrlPassword0007"
EVERY = [*SECRETS.values(), DOCKER_PASSWORD, DERIVED, URL_PASSWORD]
OPENHANDS_PLAIN = "https://github.com/acme/OpenHands"
OPENHANDS_URL = f"https://x-access-token:{URL_PASSWORD}@github.com/acme/OpenHands"


class Outputs:
    """Everything pinbot wrote, from every run of this test."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self.capsys = capsys
        self.texts: list[tuple[str, str]] = []
        self.secrets = list(EVERY)

    def run(self, what: str, *argv: str) -> int:
        # The CLI on the test's own stdout/stderr (not testing.cli's redirection): the logging
        # it sets up must still write to stderr after the run, where log_a_record_with_a_token
        # logs through it.
        code = main(["-vv", *argv])
        out, err = self.capsys.readouterr()
        self.texts += [(f"{what} stdout", out), (f"{what} stderr", err)]
        return code

    def files(self) -> list[tuple[str, str]]:
        found = [p for p in self.root.rglob("*") if p.is_file()]
        return [(str(p), p.read_text(errors="replace")) for p in found]

    def leaks(self) -> list[str]:
        found = []
        for where, text in [*self.texts, *self.files()]:
            for line in text.splitlines():
                if line.startswith("::add-mask::"):
                    continue  # the runner's instruction to hide it: the one place it belongs
                found += [f"{where}: {line}" for secret in self.secrets if secret in line]
        return found

    def masked(self) -> set[str]:
        return {
            line.removeprefix("::add-mask::")
            for _, text in self.texts
            for line in text.splitlines()
            if line.startswith("::add-mask::")
        }


@pytest.fixture
def outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Outputs:
    written = tmp_path / "written"  # every file pinbot may write lands under here
    (written / "cache").mkdir(parents=True)
    monkeypatch.setenv("PINBOT_CACHE_DIR", str(written / "cache"))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(written / "github-output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(written / "step-summary"))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    docker = tmp_path / "docker"
    docker.mkdir()
    auth = base64.b64encode(f"robot:{DOCKER_PASSWORD}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {"ghcr.io": {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    return Outputs(written, capsys)


def test_no_channel_leaks_a_secret(
    outputs: Outputs, images: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan_through_a_token_service(outputs, images, monkeypatch)
    cut_with_credentials_in_the_url(outputs, images, tmp_path, monkeypatch)
    probe_a_server_that_echoes_the_key(outputs, tmp_path, monkeypatch)
    crash_with_a_token_in_the_message(outputs, monkeypatch)
    log_a_record_with_a_token(outputs)

    assert outputs.leaks() == []
    # Every secret pinbot read or derived was handed to the runner to mask.
    assert {*SECRETS.values(), DOCKER_PASSWORD, DERIVED} <= outputs.masked()
    text = "\n".join(text for _, text in outputs.texts)
    assert f"{OPENHANDS_PLAIN} " in text  # the URL was shown, without its password
    assert "Bad credentials for ***" in text  # the echoed token was shown, masked
    crash_logs = list((outputs.root / "cache" / "logs").glob("crash-*.log"))
    assert crash_logs and "boom with ***" in crash_logs[0].read_text()
    assert "app key *** is over quota" in (outputs.root / "probe.json").read_text()


def scan_through_a_token_service(
    outputs: Outputs, images: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry challenges; the token service takes docker's password, hands out a token."""
    monkeypatch.delenv("PINBOT_REGISTRY_TOKEN")  # else it is used and docker's is never read
    with FaultProxy(images.registry) as proxy:
        # Credentials are read for the host the traffic goes to (the mirror), never another's.
        config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
        auths = json.loads(config.read_text())["auths"]
        config.write_text(json.dumps({"auths": {**auths, proxy.address: auths["ghcr.io"]}}))
        realm = f'Bearer realm="http://{proxy.address}/token",service="ghcr.io"'
        challenge = proxy.add(
            Rule("GET", r"/tags/list", status=401, headers={"WWW-Authenticate": realm}, times=1)
        )
        token = proxy.add(
            Rule("GET", r"^/token", status=200, body=json.dumps({"token": DERIVED}).encode())
        )
        code = outputs.run(
            "scan", "scan", "--image", IMAGE, "--registry-url", proxy.address,
            "--sdk", str(images.world.sdk), "--current", "1.26.0-python",
        )  # fmt: skip
    monkeypatch.setenv("PINBOT_REGISTRY_TOKEN", SECRETS["PINBOT_REGISTRY_TOKEN"])
    assert code == 0
    assert challenge.hits == 1 and token.hits == 1


def cut_with_credentials_in_the_url(
    outputs: Outputs, images: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GitHub remote written with a token in it; GitHub echoes the token in a 401. git sees
    the URL without the token (it gets that from its environment), which the global config
    sends to the local remote."""
    repos = cut_remotes(tmp_path / "remotes")
    Path(os.environ["GIT_CONFIG_GLOBAL"]).write_text(
        f'[url "{repos.openhands.url}"]\n\tinsteadOf = {OPENHANDS_PLAIN}\n'
    )
    args = [
        "cut", "--tag", CAPABLE, "--openhands", OPENHANDS_URL,
        "--openhands-branch", repos.openhands.branch, "--deploy", repos.deploy.url,
        "--image", IMAGE, "--registry-url", images.registry, "--sdk", str(images.world.sdk),
        "--require-commit", repos.openhands.backend_commit,
    ]  # fmt: skip
    monkeypatch.setenv("GITHUB_API_URL", API)
    assert outputs.run("cut", *args, "--push") == 0
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        github = FakeGitHub(mock)
        echo = {"message": f"Bad credentials for {SECRETS['GITHUB_TOKEN']}"}
        github.faults = [{"method": "GET", "times": 9, "hits": 0, "status": 401, "body": echo}]
        assert outputs.run("cut --open-prs", *args, "--open-prs") == 3
    assert github.calls[0] == ("GET", "/repos/acme/OpenHands/pulls")


def probe_a_server_that_echoes_the_key(
    outputs: Outputs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", harness.harness_env()["PYTHONPATH"])
    with harness.app_server(tmp_path / "app") as app:
        monkeypatch.setenv("PINBOT_APP_API_KEY", app.key)
        key = app.key
        outputs.secrets.append(key)
        with FaultProxy(app.url.removeprefix("http://")) as proxy:
            body = json.dumps({"detail": f"app key {key} is over quota"}).encode()
            proxy.add(Rule("POST", r"^/api/v1/app-conversations$", status=503, body=body))
            report = outputs.root / "probe.json"
            code = outputs.run(
                "probe", "probe", "--app-url", f"http://{proxy.address}", "--agents", "codex",
                "--timeout", "5", "--report", str(report),
            )  # fmt: skip
    assert code == 3


def crash_with_a_token_in_the_message(outputs: Outputs, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: object) -> int:
        raise RuntimeError(f"boom with {SECRETS['GH_TOKEN']} in the message")

    monkeypatch.setattr("pinbot.commands.scan.run_check", crash)
    assert outputs.run("crash", "check", CAPABLE, "--image", IMAGE) == 4


def log_a_record_with_a_token(outputs: Outputs) -> None:
    """Whatever a library logs at debug level passes pinbot's filter on its way out."""
    outputs.run("logging", "scan", "--image", "Not A Valid Image")  # configures -vv logging
    logging.getLogger("urllib3.connectionpool").debug(
        "GET https://robot:%s@ghcr.io/v2/ with Authorization: Bearer %s",
        DOCKER_PASSWORD,
        SECRETS["PINBOT_REGISTRY_TOKEN"],
    )
    _, err = outputs.capsys.readouterr()
    outputs.texts.append(("logging stderr (after the run)", err))
    assert "GET https://***@ghcr.io/v2/ with Authorization: Bearer ***" in err
