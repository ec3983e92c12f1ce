"""Credentials: a secret in a repository URL (`https://user:token@host/...`), or GITHUB_TOKEN for a
GitHub URL, never reaches git's arguments or any file. The URL git sees has no userinfo (so
mirror configs, FETCH_HEAD and messages hold none), and git gets the secret from its environment
through a credential helper configured there (GIT_CONFIG_COUNT), scoped to the URL's origin and
answering only for it: a redirect to another origin gets nothing, and the caller's own helpers
are cleared for that call, so none of them can store the secret.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field

from pinbot.commits import github_repo, github_token
from pinbot.errors import UsageError
from pinbot.model import is_loopback_host
from pinbot.report import strip_credentials

# Control characters: never in a credential, nor in a repository value (pinbot.git.sources).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Credential:
    """A secret for one origin (`scheme://host[:port]`, as git's credential protocol names
    it), handed to git only through its environment."""

    origin: str
    username: str
    password: str = field(repr=False)


# The helper git runs (through sh) when a server asks for credentials: it answers `get` for the
# one origin pinbot configured, from the environment, and ignores `store` and `erase`. printf is
# a shell builtin, so the secret is on no command line.
_CREDENTIAL_HELPER = (
    "!f() { p= h=; while IFS= read -r line; do case $line in "
    "protocol=*) p=${line#protocol=} ;; host=*) h=${line#host=} ;; esac; done; "
    'test "$1" = get && test "$p://$h" = "$PINBOT_GIT_ORIGIN" || return 0; '
    'printf \'username=%s\\npassword=%s\\n\' "$PINBOT_GIT_USERNAME" "$PINBOT_GIT_PASSWORD"; }; f'
)


def give(env: dict[str, str], credential: Credential) -> None:
    """Configure, in `env` only, a credential helper for `credential.origin` alone; an empty
    `credential.helper` first clears every helper the user's config names (one that stores
    what it is given must not see the secret). The caller's own GIT_CONFIG_* entries stay."""
    given = env.get("GIT_CONFIG_COUNT", "")
    count = int(given) if given.isdigit() else 0
    entries = [
        ("credential.helper", ""),
        (f"credential.{credential.origin}.helper", _CREDENTIAL_HELPER),
    ]
    for index, (key, value) in enumerate(entries, start=count):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    env["GIT_CONFIG_COUNT"] = str(count + len(entries))
    env["PINBOT_GIT_ORIGIN"] = credential.origin
    env["PINBOT_GIT_USERNAME"] = credential.username
    env["PINBOT_GIT_PASSWORD"] = credential.password


def split_credential(url: str, flag: str) -> tuple[str, Credential | None]:
    """`url` without a secret, and the credential git gets for its origin: the URL's own
    `user:secret`, else GITHUB_TOKEN (or GH_TOKEN) for an https GitHub URL. Only over TLS or
    to a loopback host; a secret in an `http://` URL to another host is refused."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme.lower() not in ("http", "https"):
        return url, None
    host = parsed.netloc.rpartition("@")[2]
    origin = f"{parsed.scheme.lower()}://{host}"
    clean = urllib.parse.urlunsplit(parsed._replace(netloc=host))
    credential = None
    if parsed.password:
        username = urllib.parse.unquote(parsed.username or "")
        credential = Credential(origin, username, urllib.parse.unquote(parsed.password))
    elif parsed.username is None:
        credential = _github_credential(origin, parsed.hostname or "")
    if credential is None:
        return url, None
    if parsed.scheme.lower() != "https" and not is_loopback_host(host):
        raise UsageError(
            f"{flag} {strip_credentials(url)!r} carries a credential over plain http to a "
            "non-loopback host, where anyone on the way could read it: use https://"
        )
    if CONTROL.search(credential.username + credential.password):
        raise UsageError(
            f"{flag} {strip_credentials(url)!r}: its credential holds control characters"
        )
    return clean, credential


def _github_credential(origin: str, hostname: str) -> Credential | None:
    token = github_token()
    if token is None or github_repo(f"{origin}/x/y") is None:
        return None
    if not origin.startswith("https://") and not is_loopback_host(hostname):
        return None  # never a token in clear to a GitHub server named over http
    return Credential(origin, "x-access-token", token)
