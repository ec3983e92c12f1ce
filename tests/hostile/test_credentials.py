"""Credentials stay with their origin: a lying registry in front of the real one, and another
origin (127.0.0.2) listening for anything that leaks. Each drives the real `pinbot scan`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from testing.cli import pinbot
from testing.cutworld import IMAGE
from testing.hostile import Answer, Liar, Listener, Seen

AREA = "credentials"
ATTACK = (
    "a tag-list `Link`, a redirect or a token realm on another origin or on plain HTTP; "
    "loopback look-alikes (`127.0.0.1.evil.example`, `127.0.0.1@evil.example`); a realm token"
    " carrying workflow commands"
)
ANSWER = (
    "refuses, naming the registry; the other origin receives nothing; the token goes only to "
    "`PINBOT_REGISTRY_TOKEN_HOST`"
)
EXIT = "3 (2 for a bad URL)"

TOKEN = "hostileRegistryToken0001"


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener("127.0.0.2") as server:
        yield server


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch, liar: Liar) -> str:
    """PINBOT_REGISTRY_TOKEN, configured for the liar: it may have it, nobody else may."""
    monkeypatch.setenv("PINBOT_REGISTRY_TOKEN", TOKEN)
    monkeypatch.setenv("PINBOT_REGISTRY_TOKEN_HOST", liar.address)
    return TOKEN


def scan(images: Any, liar: Liar, *extra: str) -> tuple[int, str, str]:
    argv = [
        *extra, "scan", "--image", IMAGE, "--registry-url", liar.address,
        "--sdk", str(images.world.sdk), "--current", "1.26.0-python",
    ]  # fmt: skip
    return pinbot(*argv)


def credentials(seen: list[Seen]) -> list[str]:
    return [s.authorization for s in seen if s.authorization]


def test_a_tag_list_link_to_another_origin_is_refused_and_gets_nothing(
    images: Any, liar: Liar, listener: Listener, token: str
) -> None:
    link = f'<{listener.url}/v2/cutworld/agent-server/tags/list?n=1000>; rel="next"'
    page = json.dumps({"name": "cutworld/agent-server", "tags": ["1.27.0-python"]}).encode()
    liar.on("GET", "/tags/list", lambda _: Answer(200, {"Link": link}, page))

    code, _, err = scan(images, liar)

    assert code == 3, err
    assert f"ghcr.io/cutworld/agent-server: the registry at http://{liar.address}" in err
    assert "another origin (http://127.0.0.2" in err
    assert listener.seen == []
    assert TOKEN not in err


def test_a_manifest_redirect_to_another_origin_is_refused(
    images: Any, liar: Liar, listener: Listener, token: str
) -> None:
    where = f"{listener.url}/v2/cutworld/agent-server/manifests/x"
    liar.on("*", "/manifests/", lambda _: Answer(307, {"Location": where}))

    code, _, err = scan(images, liar)

    assert code == 3, err
    assert "redirected the" in err and "to another origin (http://127.0.0.2" in err
    assert listener.seen == []


def test_a_blob_redirect_to_plain_http_elsewhere_is_refused(
    images: Any, liar: Liar, listener: Listener, token: str
) -> None:
    liar.on("GET", "/blobs/", lambda s: Answer(307, {"Location": listener.url + s.path}))

    code, _, err = scan(images, liar)

    assert code == 3, err
    assert "redirected the blob" in err
    assert listener.seen == []


def test_the_registry_token_goes_only_to_the_registry_it_is_configured_for(
    images: Any, liar: Liar, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINBOT_REGISTRY_TOKEN", TOKEN)  # for ghcr.io, the default

    code, out, err = scan(images, liar, "--json")

    assert code == 0, err
    assert credentials(liar.seen) == []
    assert json.loads(out)["selected"]["tag"] == "1.27.0-python"


def test_the_configured_registry_gets_the_token(images: Any, liar: Liar, token: str) -> None:
    code, _, err = scan(images, liar)

    assert code == 0, err
    assert set(credentials(liar.seen)) == {f"Bearer {TOKEN}"}


def test_a_token_realm_on_another_host_is_asked_without_credentials(
    images: Any, liar: Liar, listener: Listener, token: str
) -> None:
    listener.reply = Answer(200, {}, json.dumps({"token": "anonymousToken0002"}).encode())
    realm = f'Bearer realm="{listener.url}/token",service="registry"'
    liar.on("GET", "/tags/list", lambda s: Answer(401, {"WWW-Authenticate": realm}) if
            s.authorization != "Bearer anonymousToken0002" else None)  # fmt: skip

    code, _, err = scan(images, liar)

    assert code == 0, err
    assert [s.path.split("?")[0] for s in listener.seen] == ["/token"]
    assert credentials(listener.seen) == []


@pytest.mark.parametrize(
    "realm",
    [
        "http://evil.example/token",
        "http://127.0.0.1.evil.example/token",
        "http://127.0.0.1@evil.example/token",
        "ftp://127.0.0.1/token",
    ],
)
def test_a_token_realm_on_plain_http_to_a_non_loopback_host_gets_nothing(
    images: Any, liar: Liar, token: str, realm: str
) -> None:
    challenge = f'Bearer realm="{realm}",service="registry"'
    liar.on("GET", "/tags/list", lambda _: Answer(401, {"WWW-Authenticate": challenge}))

    code, _, err = scan(images, liar)

    assert code == 3, err
    assert "which is not https (or loopback); refusing to send anything there" in err
    assert TOKEN not in err


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1@evil.example", "carries credentials"),
        ("http://user:pw@127.0.0.1:5000", "carries credentials"),
        ("http://127.0.0.1.evil.example:5000", "plain HTTP to a non-loopback host"),
        ("http://localhost.evil.example", "plain HTTP to a non-loopback host"),
        ("127.0.0.1.evil.example", ""),  # no scheme, not loopback: https, then unreachable
    ],
)
def test_a_loopback_lookalike_registry_url_gets_no_plain_http(
    images: Any, url: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINBOT_REGISTRY_TOKEN", TOKEN)
    monkeypatch.setenv("PINBOT_REGISTRY_TOKEN_HOST", "127.0.0.1")
    code, _, err = pinbot("check", "1.27.0-python", "--image", IMAGE, "--registry-url", url)

    assert code == (2 if says else 3), err
    assert says in err
    assert TOKEN not in err and "pw@" not in err


def test_a_realm_token_carrying_workflow_commands_is_refused_and_printed_nowhere(
    images: Any,
    liar: Liar,
    listener: Listener,
    token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    forged = "abc\n::stop-commands::pinbot\n::error::owned"
    listener.reply = Answer(200, {}, json.dumps({"token": forged}).encode())
    realm = f'Bearer realm="{listener.url}/token"'
    liar.on("GET", "/tags/list", lambda _: Answer(401, {"WWW-Authenticate": realm}))

    code, out, err = scan(images, liar, "--json")

    assert code == 3, err
    assert "not a bearer token" in err
    lines = (out + err).splitlines()
    assert not [line for line in lines if line.startswith(("::stop-commands", "::error::owned"))]
    assert out == ""


def test_json_output_under_actions_is_json_and_masks_go_to_stderr(
    images: Any, liar: Liar, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")

    code, out, err = scan(images, liar, "--json")

    assert code == 0, err
    assert json.loads(out)["selected"]["tag"] == "1.27.0-python"
    assert TOKEN not in out
    assert f"::add-mask::{TOKEN}" in err.splitlines()
