"""Run a lock tool (`poetry`, `uv`) as the untrusted code it is.

Locking runs the target repository's build backends (a direct-URL or path dependency is built to
read its metadata), so the tool gets what Renovate's `exposeAllEnv: false` gives it: an allow-list
of the caller's environment (locale, PATH, TLS trust, a proxy without credentials) and nothing
else: no token, no index credential, no user or repository tool configuration (`uv.toml`,
`poetry.toml`, `pip.conf`, keyrings, `~/.netrc`). Each run gets a throwaway HOME, XDG and
temporary directories, the index pinbot was given, a deadline after which its whole process group
is killed, and an address-space bound. The one thing kept between runs is the tools' download
cache, under pinbot's own cache directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pinbot.errors import ExternalError, UsageError

# The caller's variables a lock tool may see: none of them carries a secret (the TLS ones name
# the trusted CA bundle, which a machine behind an intercepting proxy needs).
ALLOWED: tuple[str, ...] = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYENV_ROOT")
ALLOWED += ("PINBOT_RUN",)  # the run's id (pinbot.cleanup finds what the run started by it)
ALLOWED += ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT")
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
OUTPUT_TAIL = 64 * 1024  # bytes of the tool's output read back for an error message
INSTALL = {
    "poetry": "install it (pipx install poetry, or pip install poetry) and put it on PATH",
    "uv": "install it (pipx install uv, or pip install uv) and put it on PATH",
}
# Runs the tool after setting the memory bound: no preexec_fn (unsafe beside threads).
_BOUNDED = (
    "import os, resource, sys; n = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_AS, (n, n)); os.execv(sys.argv[2], sys.argv[2:])"
)


@dataclass(frozen=True)
class Bounds:
    """What every lock-tool run gets: the index, a deadline, an address-space bound, and where
    pinbot keeps the tools' download caches and the tool venvs."""

    index_url: str
    timeout: float
    memory_mib: int
    cache: Path


def environment(
    work: Path, bounds: Bounds, caller: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The allow-listed environment of one run, with its private HOME under `work`."""
    caller = os.environ if caller is None else caller
    env = {k: caller[k] for k in ALLOWED if k in caller}
    env |= {k: caller[k] for k in PROXIES if k in caller and not _has_userinfo(caller[k])}
    home = work / "home"
    for sub in ("config", "data", "state", "cache", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "TMPDIR": str(home / "tmp"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": bounds.index_url,
        "POETRY_NO_INTERACTION": "1",
        "POETRY_KEYRING_ENABLED": "false",
        "POETRY_CACHE_DIR": str(bounds.cache / "poetry"),
        "POETRY_VIRTUALENVS_PATH": str(home / "venvs"),
        "UV_NO_CONFIG": "1",
        "UV_DEFAULT_INDEX": bounds.index_url,
        "UV_KEYRING_PROVIDER": "disabled",
        "UV_CACHE_DIR": str(bounds.cache / "uv"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    return env


def _has_userinfo(url: str) -> bool:
    try:
        return "@" in urlsplit(url if "://" in url else f"//{url}").netloc
    except ValueError:
        return True


def run(argv: Sequence[str], cwd: Path, work: Path, bounds: Bounds, what: str) -> str:
    """Run `argv` in `cwd`, bounded; its output (tail) when it succeeds, else exit 3."""
    work.mkdir(parents=True, exist_ok=True)
    env = environment(work, bounds)
    log = work / "output.log"
    limit = bounds.memory_mib * 1024 * 1024
    full = [sys.executable, "-I", "-c", _BOUNDED, str(limit), *argv]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            full, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True,
        )  # fmt: skip
        try:
            code = proc.wait(timeout=bounds.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise ExternalError(
                f"`{shlex.join(argv_names(argv))}` for {what} took over {bounds.timeout:g} s: "
                "pinbot stopped it and every process it started (config pin.lock_timeout)"
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
        _kill_group(proc)  # whatever it left running in the background goes with it
    text = _tail(log)
    if code != 0:
        lines = " | ".join(text.strip().splitlines()[-4:])
        raise ExternalError(
            f"`{shlex.join(argv_names(argv))}` failed for {what} (exit {code}): {lines}"
        )
    return text


def adapted(argv: Sequence[str], version: str | None) -> list[str]:
    """Poetry 1.x updates every package on `poetry lock` unless told `--no-update`; 2.x keeps
    them by default and has no such flag."""
    if Path(argv[0]).name != "poetry" or list(argv[1:]) != ["lock"] or version is None:
        return list(argv)
    return [*argv, "--no-update"] if int(version.split(".")[0]) < 2 else list(argv)


def argv_names(argv: Sequence[str]) -> list[str]:
    """The argv as a message shows it: the tool's name, not the path it was found at."""
    return [Path(argv[0]).name, *argv[1:]] if argv else []


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _tail(log: Path) -> str:
    with log.open("rb") as handle:
        handle.seek(max(0, log.stat().st_size - OUTPUT_TAIL))
        return handle.read().decode("utf-8", "replace")


# --- which tool, at which version ----------------------------------------------------------------

POETRY_HEADER = re.compile(rb"@generated by Poetry (\d+\.\d+(?:\.\d+)?)\b")
_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+)?)")


def recorded_version(lock_text: bytes, tool: str) -> str | None:
    """The tool version a lock says wrote it (poetry's header); uv.lock records only its format."""
    if tool != "poetry":
        return None
    match = POETRY_HEADER.search(lock_text[:4096])
    return match.group(1).decode() if match else None


def find(
    tool: str, version: str | None, work: Path, bounds: Bounds, what: str
) -> tuple[str, str | None]:
    """The tool's executable and its version: at `version` when the lock records one (on PATH
    at that version, else a venv of it in pinbot's cache, installed on first use), else the one
    on PATH."""
    on_path = shutil.which(tool)
    if on_path is None and version is None:
        raise _not_installed(tool, what, "")
    found = _version_of(on_path, work, bounds) if on_path else None
    if on_path is not None and (version is None or found == version):
        return on_path, found
    assert version is not None
    try:
        return tool_venv(tool, version, work, bounds, what), version
    except ExternalError as exc:
        if on_path is None:  # nothing to fall back on: the user's set-up is what is missing
            raise _not_installed(tool, what, f" ({exc})") from None
        raise


def _not_installed(tool: str, what: str, why: str) -> UsageError:
    fix = INSTALL.get(Path(tool).name, "install it and put it on PATH")
    return UsageError(
        f"{tool} is not installed, and {what} can only be rewritten by it{why}: {fix}"
    )


def _version_of(path: str, work: Path, bounds: Bounds) -> str | None:
    try:
        out = run([path, "--version"], work, work / "version", _quick(bounds), f"{path} --version")
    except ExternalError:
        return None
    match = _VERSION.search(out)
    return match.group(1) if match else None


def _quick(bounds: Bounds) -> Bounds:
    return Bounds(bounds.index_url, min(bounds.timeout, 60.0), bounds.memory_mib, bounds.cache)


def tool_venv(tool: str, version: str, work: Path, bounds: Bounds, what: str) -> str:
    """`<cache>/tools/<tool>-<version>/bin/<tool>`, installed from the index (wheels only, in the
    same scrubbed environment) when it is not there yet."""
    home = bounds.cache / "tools" / f"{tool}-{version}"
    home.parent.mkdir(parents=True, exist_ok=True)
    with (home.parent / f".{tool}-{version}.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # another pinbot may be installing the same one
        return _installed(tool, version, home, work, bounds, what)


def _installed(tool: str, version: str, home: Path, work: Path, bounds: Bounds, what: str) -> str:
    exe = home / "bin" / tool
    if (home / ".pinbot-complete").exists() and exe.exists():
        return str(exe)
    shutil.rmtree(home, ignore_errors=True)
    where = work / f"install-{tool}"
    where.mkdir(parents=True, exist_ok=True)
    try:
        run([sys.executable, "-m", "venv", str(home)], where, where, bounds, f"a venv for {tool}")
        pip = [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        pip += ["--disable-pip-version-check", "--only-binary=:all:"]
        pip += ["--index-url", bounds.index_url, f"{tool}=={version}"]
        run(pip, where, where, bounds, f"{tool} {version}")
    except ExternalError as exc:
        shutil.rmtree(home, ignore_errors=True)
        raise ExternalError(
            f"{what} was written by {tool} {version}, which pinbot could not install from "
            f"{bounds.index_url} ({exc}); put {tool} {version} on PATH, or make the index serve it"
        ) from None
    (home / ".pinbot-complete").touch()
    return str(exe)
