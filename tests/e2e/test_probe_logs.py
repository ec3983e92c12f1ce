"""When the agent server or one of its ACP agents fails, the probe keeps the server's log and
shows how it ends: that is where the failing agent's own stderr is."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from pathlib import Path

from testing import world
from testing.cli import pinbot

DYING_AGENT = "import sys; sys.stderr.write('acp agent: no API key configured\\n'); sys.exit(1)"


def test_a_dying_agent_leaves_the_server_log_and_its_stderr_is_shown(capsys) -> None:
    acp = f"{shlex.quote(sys.executable)} -c {shlex.quote(DYING_AGENT)}"
    code, out, err = pinbot(*[
        "--json", "probe", "--target", "agent-server", "--server-command", world.server_command(),
        "--acp-command", acp, "--agents", "codex", "--timeout", "20",
    ])  # fmt: skip

    assert code == 3, err
    error = json.loads(out)["agents"][0]["error"]
    assert "acp agent: no API key configured" in error
    kept = re.search(r"the server's log (\S+) ends", error)
    assert kept is not None, error
    log = Path(kept.group(1))
    assert "no API key configured" in log.read_text()
    assert f"kept the server's log for a look: {log}" in err
    shutil.rmtree(log.parent)


def test_a_server_command_that_exits_shows_the_end_of_its_log(capsys) -> None:
    crash = f"{shlex.quote(sys.executable)} -c \"import sys; sys.exit('bind: address in use')\""
    code, out, err = pinbot(*[
        "--json", "probe", "--target", "agent-server", "--server-command", crash,
        "--agents", "codex", "--timeout", "20",
    ])  # fmt: skip

    assert code == 3, err
    error = json.loads(out)["agents"][0]["error"]
    assert "the server command exited with 1" in error
    assert "| bind: address in use" in error
    kept = re.search(r"the server's log (\S+) ends", error)
    assert kept is not None and Path(kept.group(1)).is_file()
    shutil.rmtree(Path(kept.group(1)).parent)
