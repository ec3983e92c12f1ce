"""A PEP 503 simple package index on 127.0.0.1, serving tiny wheels built on the spot.

Stands for PyPI in the demo and the tests, offline: `openhands-sdk`, `openhands-tools` and
`openhands-agent-server` at whatever versions a world asks for, each agent-server and tools wheel
requiring the sdk of its own version as the real ones do. Real enough for the real `poetry lock`
(hashes, metadata, dependency resolution) and for pinbot's "is this version published?" check.
"""

from __future__ import annotations

import base64
import hashlib
import html
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pinbot.net import serving

PACKAGES = ("openhands-sdk", "openhands-tools", "openhands-agent-server")
# What each package requires, at its own version (the real wheels pin the sdk exactly).
REQUIRES = {
    "openhands-sdk": (),
    "openhands-tools": ("openhands-sdk",),
    "openhands-agent-server": ("openhands-sdk", "openhands-tools"),
}


def wheel_name(package: str, version: str) -> str:
    return f"{package.replace('-', '_')}-{version}-py3-none-any.whl"


def build_wheel(directory: Path, package: str, version: str) -> Path:
    """A minimal, valid wheel: one module, METADATA, WHEEL and RECORD."""
    dist = package.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    requires = "".join(f"Requires-Dist: {dep}=={version}\n" for dep in REQUIRES.get(package, ()))
    files = {
        f"{dist}/__init__.py": f'__version__ = "{version}"\n',
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n{requires}"
        ),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: pinbot-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = [
        f"{name},sha256={_b64_digest(body.encode())},{len(body.encode())}"
        for name, body in files.items()
    ]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = directory / wheel_name(package, version)
    with zipfile.ZipFile(path, "w") as archive:
        for name, body in files.items():
            archive.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), body)
    return path


def _b64_digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@dataclass
class PackageIndex:
    """Wheels in `directory`; `url` is the simple index root (`http://127.0.0.1:PORT/simple/`)."""

    directory: Path
    url: str = ""
    requests: list[str] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)  # every Authorization header sent

    def publish(self, versions: Iterable[str], packages: Iterable[str] = PACKAGES) -> None:
        for version in versions:
            for package in packages:
                build_wheel(self.directory, package, version)

    def wheels(self, package: str) -> list[Path]:
        prefix = package.replace("-", "_") + "-"
        return sorted(p for p in self.directory.glob("*.whl") if p.name.startswith(prefix))


def openhands_pyproject(version: str, index_url: str | None = None) -> str:
    """OpenHands' pyproject.toml, reduced to the package pins the image must agree with (PR
    #14612 bumped the constant "to align with the existing package pins"), written in
    `[project]` and `[tool.poetry]` as OpenHands writes them; `index_url`: poetry's only
    source, as a lock against a local index needs (else PyPI)."""
    pins = "".join(f'  "{package}=={version}",\n' for package in sorted(PACKAGES))
    poetry = "".join(f'{package} = "=={version}"\n' for package in sorted(PACKAGES))
    source = (
        ""
        if index_url is None
        else (
            "\n# A local stand-in for PyPI.\n[[tool.poetry.source]]\n"
            f'name = "local"\nurl = "{index_url}"\npriority = "primary"\n'
        )
    )
    return (
        '[project]\nname = "openhands-ai"\nversion = "1.11.0"\n'
        'description = "OpenHands: code less, make more"\nrequires-python = ">=3.11"\n'
        f"dependencies = [\n{pins}]\n\n[tool.poetry]\npackage-mode = false\n\n"
        f'[tool.poetry.dependencies]\npython = ">=3.11"\n{poetry}{source}'
    )


def _handler(index: PackageIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        head = False

        def do_HEAD(self) -> None:
            """uv asks HEAD of a wheel (can it read just the metadata?) before it GETs it."""
            self.head = True
            self._route()

        def do_GET(self) -> None:
            index.requests.append(self.path)
            self._route()

        def _route(self) -> None:
            if self.headers.get("Authorization"):
                index.authorizations.append(self.headers["Authorization"])
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if parts == ["simple"]:
                return self._page(self._links((f"{p}/", p) for p in PACKAGES))
            if len(parts) == 2 and parts[0] == "simple":
                wheels = index.wheels(parts[1])
                if not wheels:
                    return self._send(404, b"not found", "text/plain")
                links = (
                    (
                        f"../../files/{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}",
                        w.name,
                    )
                    for w in wheels
                )
                return self._page(self._links(links))
            if len(parts) == 2 and parts[0] == "files":
                path = index.directory / parts[1]
                if path.is_file() and path.parent == index.directory:
                    return self._send(200, path.read_bytes(), "application/octet-stream")
            return self._send(404, b"not found", "text/plain")

        def _links(self, links: Iterable[tuple[str, str]]) -> str:
            return "".join(
                f'<a href="{html.escape(href)}">{html.escape(text)}</a>\n' for href, text in links
            )

        def _page(self, body: str) -> None:
            page = f"<!DOCTYPE html><html><body>\n{body}</body></html>\n"
            self._send(200, page.encode(), "text/html")

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not self.head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve(directory: Path) -> Iterator[PackageIndex]:
    """Serve the wheels in `directory` until the block ends."""
    directory.mkdir(parents=True, exist_ok=True)
    index = PackageIndex(directory)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(index))
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    with serving(server):
        yield index
