"""Is a version of a package published? Asked of a simple package index (PEP 503), e.g. PyPI.

A package-era pin names package versions, and the lock tool resolves them from the index: a
version that is not there yet (the image is pushed before the packages, or never published, as
for a build) would leave the lock unresolvable. pinbot asks first, before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from html.parser import HTMLParser

import requests
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from pinbot import httpclient
from pinbot.errors import ExternalError


class _Links(HTMLParser):
    """File names of the anchors on a project page, yanked files left out."""

    def __init__(self) -> None:
        super().__init__()
        self.files: list[str] = []
        self._open: bool = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open = tag == "a" and not any(name == "data-yanked" for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.files.append(data.strip())

    def handle_endtag(self, tag: str) -> None:
        self._open = False


def versions_in(page: str) -> set[Version]:
    """Every version a project page offers a wheel or an sdist of."""
    parser = _Links()
    parser.feed(page)
    found: set[Version] = set()
    for name in parser.files:
        try:
            if name.endswith(".whl"):
                found.add(parse_wheel_filename(name)[1])
            else:
                found.add(parse_sdist_filename(name)[1])
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
    return found


def unpublished(index_url: str, packages: Iterable[str], version: str, timeout: float) -> list[str]:
    """The packages that have no file of `version` on the index (none: all published)."""
    wanted = Version(version)
    base = index_url.rstrip("/") + "/"
    http = httpclient.session(base)
    missing: list[str] = []
    try:
        for package in packages:
            if wanted not in _versions(http, base, package, timeout):
                missing.append(package)
    finally:
        http.close()
    return missing


def _versions(http: requests.Session, base: str, package: str, timeout: float) -> set[Version]:
    url = f"{base}{canonicalize_name(package)}/"
    try:
        response = http.get(url, timeout=timeout, headers={"Accept": "text/html"})
    except requests.RequestException as exc:
        raise ExternalError(
            f"the package index {base} could not be reached ({type(exc).__name__}): check "
            "pin.index_url and the network, then re-run"
        ) from None
    if response.status_code == 404:
        return set()
    if response.status_code != 200:
        raise ExternalError(f"the package index answered {response.status_code} for {url}")
    return versions_in(response.text)
