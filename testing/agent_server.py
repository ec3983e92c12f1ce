"""The demo's stand-in agent server, running the test agent (`testing.acp_agent`, whose faults
`HARNESS_AGENT_MODE` picks) and paging events-search by `HARNESS_PAGE_SIZE`.

Run as `python -m testing.agent_server --port N --workdir DIR`, with the checkout on PYTHONPATH.
"""

from __future__ import annotations

import os
from pathlib import Path

from pinbot.demo.agent_server import AgentServer, main


class HarnessAgentServer(AgentServer):
    agent_module = "testing.acp_agent"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.page_size = int(os.environ.get("HARNESS_PAGE_SIZE") or self.page_size)


if __name__ == "__main__":
    main(HarnessAgentServer)
