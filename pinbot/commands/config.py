"""`pinbot config check [FILE]` and `pinbot config sample`: the configuration, shown.

`check` loads a config exactly as every command does (so it fails, exit 2, where they would) and
lists each effective setting with where it came from: the file, a `PINBOT_*` variable that
overrides it for the commands whose flag falls back to it, or the built-in default. `sample` is a
`pinbot.toml` with every key at its default and a comment on each; tests load it and compare it
with the defaults, so it cannot drift.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pinbot import config, inputs, options
from pinbot.commands import Context
from pinbot.options import ConfigOptions

SAMPLE = """\
# pinbot.toml: pinbot's settings for this repository (or put them under [tool.pinbot] in
# pyproject.toml). Every key is optional; each is shown here at its built-in default, so delete
# what you do not change. `pinbot config check` validates a file and shows where each value
# comes from. Docs: docs/guides/configuration.md.

# The image to pin, its tag variant, and the platforms every candidate's index must have.
image = "ghcr.io/openhands/agent-server"
variant = "python"                           # python, java or golang
platforms = ["linux/amd64", "linux/arm64"]

# The capability a candidate must carry: these routes, from this file of the SDK.
capability = "acp-session-blob"
routes = [
    "GET /api/acp_session_blob/{conversation_id}/{provider}",
    "PUT /api/acp_session_blob/{conversation_id}/{provider}",
]
sdk_repo = "OpenHands/software-agent-sdk"
route_file = "openhands-agent-server/openhands/agent_server/acp_session_blob_router.py"
detectors = ["source"]                       # add "openapi" (runs the image), "provenance"

require_commits = []                         # backend commits the OpenHands branch must contain
require_prs = []                             # or PR numbers (needs GITHUB_TOKEN), e.g. [14709]
ignore = []                                  # tags never selected, e.g. ["1.45.*"]
git_author = "pinbot <pinbot@users.noreply.github.com>"   # who makes the pin commits
concurrency = 7                              # 1 to 64: candidates examined at once, at most
http_timeout = 30.0                          # seconds per request, 0.1 to 600
max_candidates = 1000                        # 1 to 100000: past them a scan stops (exit 3)

[pin]
profile = "openhands"                        # or "openhands-cloud-chart"; [[pin.sites]] replaces it
python_file = "openhands/app_server/sandbox/sandbox_spec_service.py"
python_constant = "AGENT_SERVER_IMAGE"
compose_files = ["docker-compose.yml", "containers/dev/compose.yml"]
compose_variable = "AGENT_SERVER_IMAGE_TAG"
packages = ["openhands-agent-server", "openhands-sdk", "openhands-tools"]
index_url = "https://pypi.org/simple/"       # where a pinned version must be published
lock_timeout = 900.0                         # seconds for one lock-tool run, 1 to 7200
lock_memory_mib = 4096                       # its memory bound, 64 to 65536

# An explicit list of sites instead of the profile, one table each:
# [[pin.sites]]
# kind = "python-constant"                   # python-constant, compose-default, requirement,
# file = "openhands/app_server/sandbox/sandbox_spec_service.py"   # yaml or lock
# name = "AGENT_SERVER_IMAGE"

[deploy]
workflow = ".github/workflows/deploy.yaml"   # the workflow whose top-level env names the sha
sha_key = "OPENHANDS_SHA"
branch = "main"

[pr]                                         # what each PR pinbot opens gets, once
labels = []                                  # e.g. ["dependencies"]
reviewers = []                               # logins, or ORG/TEAM for a team
assignees = []
draft = false

[cut]
own_head_branches = false                    # true: pinbot owns the pinbot/... heads and replaces
                                             # one it would not make (force-with-lease)

[openapi]                                    # the openapi detector runs the image
startup_timeout = 60.0                       # seconds, 1 to 3600
memory = "1g"
health_path = "/health"
openapi_path = "/openapi.json"

[probe]
agents = ["claude-code", "codex"]
timeout = 300.0                              # seconds per turn, 1 to 7200
recycle = "pause"                            # pause, restart or command (see docs/guides/probe.md)
"""


def run(ctx: Context, opts: ConfigOptions) -> int:
    if opts.action == "sample":
        ctx.out.result({"sample": SAMPLE}, SAMPLE.rstrip("\n"))
        return 0
    settings = ctx.settings
    if opts.file:  # what a run with --config FILE here would use
        settings = inputs.with_environment(config.load(opts.file), os.environ)
    rows = origins(settings, os.environ)
    data = {"file": _file(settings), "valid": True, "settings": rows}
    ctx.out.result(data, _text(data))
    return 0


def origins(settings: config.Settings, environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each effective setting: key, value, and where it came from."""
    file = _file(settings)
    given = config.given(Path(file)) if file else set()
    overrides = _overrides(environ)
    return [
        {"key": key, "value": value, "from": _origin(key, file, given, overrides)}
        for key, value in config.effective(settings)
    ]


def _overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """Config key -> the PINBOT_* variable set now that overrides it (where a flag falls back)."""
    found = {}
    for option in options.OPTIONS:
        if option.config and option.env and environ.get(option.env):
            found[option.config] = f"{option.env} (for {', '.join(option.commands)})"
    found.update({key: env for env, key in inputs.ENV_KEYS.items() if environ.get(env)})
    return found


def _origin(key: str, file: str | None, given: set[str], overrides: dict[str, str]) -> str:
    where = file if file and key in given else "default"
    return f"{overrides[key]}, over {where}" if key in overrides else where


def _file(settings: config.Settings) -> str | None:
    return None if settings.source == config.DEFAULT_SOURCE else settings.source


def _text(data: dict[str, Any]) -> str:
    head = f"{data['file']}: valid" if data["file"] else "no config file: the built-in defaults"
    lines = [f"{row['key']} = {json.dumps(row['value'])}" for row in data["settings"]]
    width = min(max(map(len, lines)), 60)
    return "\n".join(
        [head]
        + [
            f"{line:<{width}}  # {row['from']}"
            for line, row in zip(lines, data["settings"], strict=True)
        ]
    )
