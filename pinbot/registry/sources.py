"""Where the reads for an image go: its OCI layout on disk or a registry over HTTP(S)."""

from __future__ import annotations

from collections.abc import Callable

from pinbot.model import ImageName
from pinbot.registry.documents import Source
from pinbot.registry.layouts import LayoutSource
from pinbot.registry.transport import RegistrySource


def open_source(
    name: ImageName,
    endpoint: str | None,
    timeout: float,
    pool: int,
    mask: Callable[[str], None] = lambda secret: None,
) -> Source:
    """Where reads for `name` go: its layout, a layout given as `--registry-url oci:DIR` (a
    mirror on disk), or a registry endpoint. `mask` hears of every credential it reads."""
    if name.layout is not None:
        return LayoutSource(name)
    if endpoint and endpoint.startswith("oci:"):
        return LayoutSource(ImageName.parse(endpoint))
    return RegistrySource(name, endpoint, timeout=timeout, pool=pool, mask=mask)
