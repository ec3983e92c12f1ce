"""Read every pin site of a tree at once: what cut starts from and what the gate checks.

`read` gives a file's bytes at some commit (None when the file is not there), so the same code
serves a clone, a checkout or a test's dictionary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pinbot.config import DeploySettings, PinSettings
from pinbot.edits import Site, workflow
from pinbot.errors import UsageError
from pinbot.pins import compose, python_constant

Reader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Pins:
    """The constant (`repo:tag`) and every compose default (`tag`) of one tree."""

    constant: Site
    defaults: tuple[Site, ...]

    @property
    def repository(self) -> str:
        return self.constant.value.rpartition(":")[0]

    @property
    def tag(self) -> str:
        return self.constant.value.rpartition(":")[2]

    def disagreeing(self) -> list[Site]:
        """Compose defaults whose tag is not the constant's (OpenHands CI rejects these)."""
        return [site for site in self.defaults if site.value != self.tag]


def read_pins(pin: PinSettings, read: Reader, where: str = "") -> Pins:
    """`where` (" at SHA in URL") completes the message when a file is missing."""
    path = pin.python_file
    data = need(read, path, f"{where}: check config pin.python_file")
    text, _ = python_constant.decode(data, path)
    constant = python_constant.read(text, path, pin.python_constant)
    defaults: list[Site] = []
    for path in pin.compose_files:
        data = need(read, path, f"{where}: check config pin.compose_files")
        defaults += compose.read(utf8(data, path), path, pin.compose_variable)
    return Pins(constant, tuple(defaults))


def read_deployed_sha(deploy: DeploySettings, read: Reader, where: str = "") -> Site:
    """The deploy workflow's top-level env.<sha_key>, as written (validate before use)."""
    path = deploy.workflow
    text = utf8(need(read, path, f"{where}: check config deploy.workflow"), path)
    return workflow.read(text, path, deploy.sha_key)


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
