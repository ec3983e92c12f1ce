"""Start the released OpenHands app server (`openhands-ai`) locally, with process sandboxes.

Run with the Python of the venv that holds `openhands-ai` (Python 3.12):
    python testing/openhands_app_launch.py --port 3000
Configuration comes from the environment (see `testing/openhands_app.py` for what the tests set:
`RUNTIME=process`, `OH_PERSISTENCE_DIR`, `TMPDIR`, `SESSION_API_KEY`, ...).

Two workarounds every local user of the released server (1.11.0) needs, applied here before the
server starts, and nothing else changed:

1. The `/.dockerenv` host rewrite. When the server believes it runs in Docker (`/.dockerenv`
   exists, as on many CI runners and dev containers) it rewrites `localhost` to
   `host.docker.internal` in the URLs it uses to reach its own process sandboxes: their health
   check then fails and every sandbox start ends in "Agent Server Failed to start properly".
   Process sandboxes always run next to the server, so the rewrite is switched off.
2. Idle sandboxes reported as STARTING (upstream #14267). A process sandbox's status is
   `psutil.Process.status()`: only a process on a CPU at that instant is RUNNING; an agent
   server idling in `sleeping` is reported STARTING, without its URL, and send-message answers
   409. Here an idle process counts as RUNNING, and a dead one (a zombie the server has not
   reaped, also reported STARTING) as MISSING.

And one for slow machines: the server gives a new process sandbox 30 s (hard-coded) to answer
`/alive`; an agent server takes 10-40 s to import on a busy 2-core runner. The wait here is
`OPENHANDS_SANDBOX_READY_SECONDS` (default 180).
"""

from __future__ import annotations

import argparse
import os

import psutil
import uvicorn
from openhands.app_server.sandbox import process_sandbox_service
from openhands.app_server.sandbox.sandbox_models import SandboxStatus
from openhands.app_server.utils import docker_utils, environment

IDLE = (psutil.STATUS_SLEEPING, psutil.STATUS_DISK_SLEEP, psutil.STATUS_IDLE)


def not_in_docker() -> bool:
    return False


def process_status(
    self: process_sandbox_service.ProcessSandboxService,
    process_info: process_sandbox_service.ProcessInfo,
) -> SandboxStatus:
    status = ORIGINAL_STATUS(self, process_info)
    if status != SandboxStatus.STARTING:
        return status
    try:
        now = psutil.Process(process_info.pid).status()
    except psutil.Error:
        return SandboxStatus.MISSING
    if now == psutil.STATUS_ZOMBIE:  # dead, not yet reaped by the server: gone
        return SandboxStatus.MISSING
    return SandboxStatus.RUNNING if now in IDLE else status


ORIGINAL_STATUS = process_sandbox_service.ProcessSandboxService._get_process_status
ORIGINAL_READY = process_sandbox_service.ProcessSandboxService._wait_for_server_ready
READY_SECONDS = int(os.environ.get("OPENHANDS_SANDBOX_READY_SECONDS") or 180)


async def wait_for_server_ready(
    self: process_sandbox_service.ProcessSandboxService, port: int, timeout: int = 30
) -> bool:
    return bool(await ORIGINAL_READY(self, port, max(timeout, READY_SECONDS)))


def apply_workarounds() -> None:
    docker_utils.is_running_in_docker = not_in_docker  # type: ignore[assignment]
    environment.is_running_in_docker = not_in_docker  # type: ignore[assignment]
    service = process_sandbox_service.ProcessSandboxService
    service._get_process_status = process_status  # type: ignore[method-assign]
    service._wait_for_server_ready = wait_for_server_ready  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    apply_workarounds()
    uvicorn.run("openhands.app_server.app:app", host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
