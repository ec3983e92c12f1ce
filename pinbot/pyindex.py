"""Is a version of a package published? Asked of a simple package index (PEP 503), e.g. PyPI.

A package-era pin names package versions, and the lock tool resolves them from the index: a
version that is not there yet (the image is pushed before the packages, or never published, as
for a build) would leave the lock unresolvable. pinbot asks first, before anything is written.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterable
from html.parser import HTMLParser

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
    """Every version an HTML project page offers a wheel or an sdist of."""
    parser = _Links()
    parser.feed(page)
    return versions_of(parser.files)


def versions_of(names: Iterable[str]) -> set[Version]:
    """The versions of these wheel and sdist file names (other names are left out)."""
    found: set[Version] = set()
    for name in names:
        try:
            if name.endswith(".whl"):
                found.add(parse_wheel_filename(name)[1])
            else:
                found.add(parse_sdist_filename(name)[1])
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
    return found


# What an index may cost. A project page lists every file of every release: PyPI's biggest are
# a few MiB of HTML; the cap is on the decoded body (a gzip bomb stops at it).
MAX_PAGE = 16 << 20
MAX_REDIRECTS = 3
REQUEST_BUDGET = 4.0  # a request (retries included) ends within this many http_timeouts
TOTAL_BUDGET = 10.0  # and every request of one check within this many
JSON_TYPE = "application/vnd.pypi.simple.v1+json"  # PEP 691
ACCEPT = f"{JSON_TYPE}, text/html;q=0.5"


def unpublished(index_url: str, packages: Iterable[str], version: str, timeout: float) -> list[str]:
    """The packages that have no file of `version` on the index (none: all published)."""
    wanted = Version(version)
    index = _Index(index_url.rstrip("/") + "/", timeout)
    try:
        return [package for package in packages if wanted not in index.versions(package)]
    finally:
        index.http.close()


class _Index:
    """One index, asked within a total deadline (TOTAL_BUDGET http_timeouts for every page)."""

    def __init__(self, base: str, timeout: float) -> None:
        self.base = base
        self.timeout = timeout
        self.http = httpclient.session(base)
        self.end = time.monotonic() + timeout * TOTAL_BUDGET

    def versions(self, package: str) -> set[Version]:
        reply = self._get(f"{self.base}{canonicalize_name(package)}/", package)
        if reply.status_code == 404:
            return set()
        if reply.status_code != 200:
            raise ExternalError(
                f"the package index at {self.base} answered {reply.status_code} for the project "
                f"page of {package}; check pin.index_url (--index-url), or try again later"
            )
        return _page_versions(self.base, package, reply)

    def _get(self, url: str, package: str) -> httpclient.Reply:
        """The project page, following redirects (a few) only within the index's origin."""
        for _ in range(MAX_REDIRECTS + 1):
            reply = self._fetch(url, package)
            if not reply.is_redirect:
                return reply
            url = urllib.parse.urljoin(url, reply.headers["Location"])
            if _origin(url) != _origin(self.base):
                break
        raise ExternalError(
            f"the package index at {self.base} redirected the project page of {package} "
            f"elsewhere or more than {MAX_REDIRECTS} times; set pin.index_url (--index-url) to "
            "where the index is"
        )

    def _fetch(self, url: str, package: str) -> httpclient.Reply:
        what = f"the project page of {package}"
        budget = min(self.timeout * REQUEST_BUDGET, self.end - time.monotonic())
        try:
            if budget <= 0:
                raise httpclient.DeadlineExceeded
            return httpclient.fetch(
                self.http, "GET", url, what=what, budget=budget, timeout=self.timeout,
                limit=MAX_PAGE, headers={"Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
            )  # fmt: skip
        except httpclient.BodyTooLarge as exc:
            raise ExternalError(exc.told(f"the package index at {self.base}")) from None
        except httpclient.DeadlineExceeded:
            raise ExternalError(
                f"the package index at {self.base} did not deliver {what} in time (a request "
                f"may take {self.timeout * REQUEST_BUDGET:.0f} s, the whole check "
                f"{self.timeout * TOTAL_BUDGET:.0f} s; it answers too slowly or not at all); "
                "check pin.index_url (--index-url) and the network, try again later, or raise "
                "http_timeout"
            ) from None
        except httpclient.NETWORK_ERRORS as exc:
            raise ExternalError(
                f"the package index {self.base} could not be reached ({type(exc).__name__}): "
                "check pin.index_url and the network, then re-run"
            ) from None


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


def _page_versions(base: str, package: str, reply: httpclient.Reply) -> set[Version]:
    """The versions a project page offers, read as what it says it is (PEP 691 JSON or PEP 503
    HTML); anything else is the index's fault."""
    kind = reply.headers.get("Content-Type", "").split(";")[0].strip().lower()
    where = f"the package index at {base}: the project page of {package}"
    if kind in (JSON_TYPE, "application/json"):
        return versions_of(_files(reply.content, where))
    if kind not in ("text/html", "application/vnd.pypi.simple.v1+html", ""):
        raise ExternalError(f"{where} is {kind[:60]!r}, not HTML or JSON")
    try:
        return versions_in(reply.content.decode("utf-8"))
    except UnicodeDecodeError:
        raise ExternalError(f"{where} is not UTF-8 HTML (a compressed or binary answer?)") from None


def _files(body: bytes, where: str) -> list[str]:
    """The file names of a PEP 691 project page, yanked files left out."""
    page = httpclient.json_answer(body, where, "a project page")
    files = page.get("files") if isinstance(page, dict) else None
    if not isinstance(files, list) or not all(
        isinstance(f, dict) and isinstance(f.get("filename"), str) for f in files
    ):
        raise ExternalError(f"{where} is not a PEP 691 project page ('files' is no list of files)")
    return [f["filename"] for f in files if not f.get("yanked")]
