"""Git over HTTP on loopback, behind a password: `git http-backend` (git's own smart-HTTP CGI)
behind a small Python server that asks for Basic credentials and remembers every request.

`GitHttp(root, user, password)` serves the bare repositories under `root` at
`http://127.0.0.1:PORT/<name>`; a request without the right `Authorization` gets 401 and a
Basic challenge, as a forge answers a private repository. `redirect_to` sends every request that
carried the right credentials elsewhere instead (a server handing the client to another origin).
`during` runs on every request, while the client is in the middle of its work (a test looks at
the client's files and processes then).
"""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testing.hostile import Answer, Seen, Server


class GitHttp(Server):
    def __init__(self, root: Path, user: str, password: str, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.root = root
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.redirect_to: str | None = None
        self.during: Callable[[Seen], None] = lambda seen: None
        self.refused = 0
        self._count = threading.Lock()

    def repo_url(self, name: str, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}{self.address}/{name}"

    def answer(self, request: Seen, body: bytes | None) -> Answer:
        self.during(request)
        if request.authorization != self.expected:
            with self._count:
                self.refused += 1
            return Answer(401, {"WWW-Authenticate": 'Basic realm="private"'}, b"who are you?\n")
        if self.redirect_to is not None:
            return Answer(302, {"Location": self.redirect_to + request.path}, b"")
        return backend(self.root, request, body or b"")

    def __enter__(self) -> GitHttp:
        super().__enter__()
        return self


def backend(root: Path, request: Seen, body: bytes) -> Answer:
    """One request through `git http-backend` (CGI): environment in, headers and body out."""
    path, _, query = request.path.partition("?")
    env = {
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_METHOD": request.method,
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": "pinbot",  # an authenticated user may push (receive-pack)
        "REMOTE_ADDR": "127.0.0.1",
        "PATH": "/usr/bin:/bin",
    }
    for header in ("content-encoding", "git-protocol"):
        if header in request.headers:
            env["HTTP_" + header.upper().replace("-", "_")] = request.headers[header]
    done = subprocess.run(
        ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
    )
    head, _, payload = done.stdout.partition(b"\r\n\r\n")
    headers: dict[str, Any] = {}
    status = 200
    for line in head.decode("latin-1").split("\r\n"):
        key, _, value = line.partition(": ")
        if key.lower() == "status":
            status = int(value.split()[0])
        elif key:
            headers[key] = value
    return Answer(status, headers, payload)
