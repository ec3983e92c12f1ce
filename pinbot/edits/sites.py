"""Read the deploy workflow's OPENHANDS_SHA (the pin sites are read by `pinbot.pins.state`).

`read` gives a file's bytes at some commit (None when the file is not there), so the same code
serves a clone, a checkout or a test's dictionary.
"""

from __future__ import annotations

from collections.abc import Callable

from pinbot.config import DeploySettings
from pinbot.edits import Site, workflow
from pinbot.errors import UsageError

Reader = Callable[[str], bytes | None]


def read_deployed_sha(deploy: DeploySettings, read: Reader, where: str = "") -> Site:
    """The deploy workflow's top-level env.<sha_key>, as written (validate before use)."""
    path = deploy.workflow
    text = utf8(need(read, path, f"{where}: check config deploy.workflow"), path)
    return workflow.read(text, path, deploy.sha_key)


def read_deployed_overrides(
    deploy: DeploySettings, read: Reader, where: str = ""
) -> list[tuple[str, Site]]:
    """Job- and step-level settings of <sha_key> in the deploy workflow (see workflow.overrides)."""
    path = deploy.workflow
    text = utf8(need(read, path, f"{where}: check config deploy.workflow"), path)
    return workflow.overrides(text, path, deploy.sha_key)


def need(read: Reader, path: str, hint: str) -> bytes:
    data = read(path)
    if data is None:
        raise UsageError(f"{path} is missing{hint}")
    return data


def utf8(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
