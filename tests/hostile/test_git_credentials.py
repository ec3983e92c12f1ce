"""A token for a git remote is used, never kept: the real `pinbot cut`, `gate` and `check --sdk`
against git servers on loopback that ask for a password (`git http-backend` behind Basic auth,
testing.githttp). While pinbot works, at every request the server receives, the test reads
every file under the test's directories (pinbot's cache, its scratch and work directories) and
every process's command line: the token is in none of them. A server that hands the
authenticated client to another origin gets nothing sent there."""

from __future__ import annotations

import base64
import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pinbot.demo.repos import Remotes
from testing.cli import pinbot
from testing.cutworld import CAPABLE, IMAGE, cut_remotes, deploy_branch
from testing.gateworld import run
from testing.githttp import GitHttp
from testing.hostile import Seen
from testing.worlds import Images

AREA = "git credentials"
ATTACK = (
    "git remotes behind a password, the token in the repository URL (or GITHUB_TOKEN for a "
    "GitHub server); a server that redirects the authenticated client to another origin"
)
ANSWER = (
    "git gets the token from its environment, for that origin only: no file under the cache "
    "or scratch directories and no command line holds it; the other origin receives nothing"
)
EXIT = "0 (3 after a redirect, 2 for a token over plain http)"

TOKEN = "hostile-git-token-7Qx9"
USER = "pinbot"
PLAIN_OPENHANDS = f"http://{USER}:{TOKEN}@git.example/oh.git"


@dataclass
class Watch:
    """Looks for the token on disk and on command lines whenever the server is asked."""

    root: Path
    secrets: tuple[bytes, ...]
    found: list[str] = field(default_factory=list)
    files_read: int = 0
    looks: int = 0

    def __call__(self, seen: Seen) -> None:
        self.looks += 1
        for path in self.root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                self.files_read += 1
                self._check(path.read_bytes(), str(path))
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):  # the process is gone
                self._check(cmdline.read_bytes(), f"the command line of {cmdline.parent.name}")

    def _check(self, data: bytes, where: str) -> None:
        if any(secret in data for secret in self.secrets):
            self.found.append(where)


def secrets(user: str) -> tuple[bytes, ...]:
    """The token as it could be written: as is, or inside a Basic header."""
    return TOKEN.encode(), base64.b64encode(f"{user}:{TOKEN}".encode())


pytestmark = pytest.mark.usefixtures("own_temp")


@pytest.fixture
def world(tmp_path: Path, images: Images) -> Remotes:
    remotes = tmp_path / "remotes"
    made = cut_remotes(remotes)
    sdk = remotes / "sdk.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(images.world.sdk), str(sdk)], check=True)
    return made


@pytest.fixture
def server(tmp_path: Path, world: Remotes) -> Iterator[GitHttp]:
    with GitHttp(tmp_path / "remotes", USER, TOKEN) as served:
        served.during = Watch(tmp_path, secrets(USER))
        yield served


def watch(server: GitHttp) -> Watch:
    assert isinstance(server.during, Watch)
    return server.during


def authenticated(server: GitHttp) -> list[Seen]:
    return [seen for seen in server.seen if seen.authorization == server.expected]


def test_a_cut_and_a_gate_use_a_url_token_and_keep_it_nowhere(
    server: GitHttp, world: Remotes, images: Images, tmp_path: Path
) -> None:
    userinfo = f"{USER}:{TOKEN}"
    openhands = server.repo_url("openhands.git", userinfo)
    deploy = server.repo_url("deploy.git", userinfo)
    sdk = server.repo_url("sdk.git", userinfo)

    cut = run([
        "cut", "--tag", CAPABLE, "--push", "--openhands", openhands,
        "--openhands-branch", world.openhands.branch, "--deploy", deploy, "--image", IMAGE,
        "--registry-url", images.registry, "--sdk", sdk,
    ])  # fmt: skip
    gate = run([
        "gate", "--deploy", f"{deploy}@{deploy_branch()}", "--openhands", openhands,
        "--image", IMAGE, "--registry-url", images.registry, "--sdk", sdk,
    ])  # fmt: skip

    assert cut[0] == 0, cut[2]
    assert gate[0] == 0, gate[1] + gate[2]
    pushed = [s for s in authenticated(server) if "git-receive-pack" in s.path]
    assert pushed, "the cut pushed through the password-protected server"
    assert watch(server).looks >= 10 and watch(server).files_read > 100
    watch(server)(Seen("GET", "/after", {}))  # and once more when pinbot is done
    assert watch(server).found == []
    assert TOKEN not in "".join(cut[1:] + gate[1:])
    mirrors = list((tmp_path / "pinbot-cache").rglob("config"))
    assert mirrors  # the --sdk mirror stays in the cache, its remote without the token
    assert all(f"http://{server.address}/sdk.git" in m.read_text() for m in mirrors)


def test_github_token_goes_to_the_github_server_through_the_environment_only(
    tmp_path: Path, world: Remotes, images: Images, monkeypatch: pytest.MonkeyPatch
) -> None:
    with GitHttp(tmp_path / "remotes", "x-access-token", TOKEN) as github:
        github.during = Watch(tmp_path, secrets("x-access-token"))
        monkeypatch.setenv("GITHUB_SERVER_URL", github.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)

        code, _, _ = pinbot("check", CAPABLE, "--image", IMAGE, "--registry-url", images.registry,
                            "--sdk", github.repo_url("sdk.git"))  # fmt: skip

    assert code == 0
    assert authenticated(github), "the token was sent to the GitHub server"
    assert watch(github).looks >= 2
    watch(github)(Seen("GET", "/after", {}))
    assert watch(github).found == []


def test_a_redirect_to_another_origin_gets_no_credential(
    server: GitHttp, tmp_path: Path, images: Images
) -> None:
    with GitHttp(tmp_path / "remotes", USER, TOKEN, host="127.0.0.2") as elsewhere:
        server.redirect_to = elsewhere.url

        sdk = server.repo_url("sdk.git", f"{USER}:{TOKEN}")
        code, _, err = pinbot("check", CAPABLE, "--image", IMAGE, "--registry-url",
                              images.registry, "--sdk", sdk)  # fmt: skip

    assert code == 3, err
    assert authenticated(server), "the origin itself got the token"
    assert elsewhere.seen, "the client did follow the redirect"
    assert elsewhere.refused == len(elsewhere.seen)  # asked for credentials, given none
    assert all(TOKEN not in str(seen.headers) for seen in elsewhere.seen)
    assert all(seen.authorization is None for seen in elsewhere.seen)
    assert TOKEN not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["check", CAPABLE, "--sdk", f"http://{USER}:{TOKEN}@git.example/sdk.git"],
        ["cut", "--tag", CAPABLE, "--openhands-branch", "main", "--openhands", PLAIN_OPENHANDS],
    ],
)
def test_a_token_over_plain_http_to_another_host_is_refused(
    argv: list[str], images: Images
) -> None:
    code, _, err = pinbot(*argv, "--image", IMAGE, "--registry-url", images.registry)

    assert code == 2, err
    assert "carries a credential over plain http to a non-loopback host" in err
    assert "use https://" in err and TOKEN not in err
