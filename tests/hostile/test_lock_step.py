"""The lock step runs the target repository's code: the real `pinbot cut` with the real poetry and
uv, on a repository whose pyproject adds a direct-URL dependency with its own build backend.
Locking builds that dependency's metadata, so the backend runs; it reads every secret a release
engineer's machine holds and writes what it found to a file. Nothing secret may be in it; an
index the repository names gets no credentials; a backend that hangs is stopped with everything
it started at `pin.lock_timeout`; one that eats memory hits `pin.lock_memory_mib`.

Not covered, because pinbot does not do it: a backend runs as the user, so it can still open a
file by its absolute path (the real `/home/me/.netrc`) and reach the network; keep credentials
out of files on a machine that cuts (the README says so)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo.package_index import PackageIndex, serve
from pinbot.demo.repos import Remotes
from testing import eras
from testing.cutworld import cut_json, cut_remotes
from testing.services import missing_service
from testing.worlds import Images

AREA = "lock step"
ATTACK = (
    "a repository uv.toml naming an index with credentials; a path dependency leaving the "
    "repository; a direct-URL dependency whose build backend (run by the lock tool) reads "
    "GITHUB_TOKEN, PINBOT_* tokens, UV_INDEX_*/POETRY_HTTP_BASIC_* credentials, ~/.netrc, "
    "poetry's auth.toml, git credentials; a repository-named index; a backend that "
    "hangs and spawns children; one that eats memory"
)
ANSWER = (
    "the tool runs with an allow-listed environment, a throwaway HOME, no keyring, the given "
    "index; nothing secret reaches it, no index gets credentials; killed with its process "
    "group at pin.lock_timeout; bounded by pin.lock_memory_mib"
)
EXIT = "0 (the secrets stay); 3 (hang, memory)"

OLD, NEW = "1.26.0", "1.27.0"
SECRET = "s3cr3t-lock-step"
MARKER = "pinbot-hostile-lock-marker"
SECRET_ENV = {
    "GITHUB_TOKEN": f"ghp_{SECRET}1",
    "GH_TOKEN": f"gho_{SECRET}2",
    "PINBOT_REGISTRY_TOKEN": f"{SECRET}3",
    "PINBOT_APP_API_KEY": f"{SECRET}4",
    "UV_INDEX_LOCAL_USERNAME": "user",
    "UV_INDEX_LOCAL_PASSWORD": f"{SECRET}5",
    "POETRY_HTTP_BASIC_LOCAL_USERNAME": "user",
    "POETRY_HTTP_BASIC_LOCAL_PASSWORD": f"{SECRET}6",
    "AWS_SECRET_ACCESS_KEY": f"{SECRET}7",
    "ACME_DEPLOY_TOKEN": f"{SECRET}8",
    "UV_INDEX_URL": f"http://user:{SECRET}9@127.0.0.1:9/simple/",
    "PIP_INDEX_URL": f"http://user:{SECRET}10@127.0.0.1:9/simple/",
    "HTTPS_PROXY": f"http://user:{SECRET}11@127.0.0.1:9",
}
SECRET_FILES = {
    ".netrc": f"machine 127.0.0.1 login user password {SECRET}12\n",
    ".config/pypoetry/auth.toml": f'[http-basic.local]\nusername = "u"\npassword = "{SECRET}13"\n',
    ".config/uv/uv.toml": f'[[index]]\nname = "leak"\nurl = "http://u:{SECRET}14@127.0.0.1:9/"\n',
    ".git-credentials": f"https://user:{SECRET}15@github.com\n",
    ".pypirc": f"[pypi]\npassword = {SECRET}16\n",
    ".docker/config.json": json.dumps({"auths": {"ghcr.io": {"auth": f"{SECRET}17"}}}),
}

BACKEND = """\
import json, os, subprocess, sys, time
from pathlib import Path

REPORT = {report!r}
MODE = {mode!r}
LOOK = {look!r}


def _act():
    if MODE == "spy":
        home = Path(os.path.expanduser("~"))
        seen = {{"env": dict(os.environ), "files": {{}}}}
        for name in LOOK:
            try:
                seen["files"][name] = (home / name).read_text()
            except OSError:
                pass
        with open(REPORT, "a") as out:
            out.write(json.dumps(seen) + "\\n")
    elif MODE == "hang":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", {marker!r}])
        Path(REPORT).write_text("hanging")
        time.sleep(3600)
    elif MODE == "hog":
        chunks, got = [], 0
        try:
            while got < 16384:
                chunks.append(bytearray(64 << 20))
                got += 64
                Path(REPORT).write_text(str(got))
        except MemoryError:
            Path(REPORT).write_text(str(got) + " then MemoryError")
            raise


def get_requires_for_build_wheel(config_settings=None):
    _act()
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _act()
    info = Path(metadata_directory) / "evil-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\\nName: evil\\nVersion: 0.1\\n")
    return info.name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    import zipfile
    name = "evil-0.1-py3-none-any.whl"
    info = "evil-0.1.dist-info/"
    with zipfile.ZipFile(Path(wheel_directory) / name, "w") as wheel:
        wheel.writestr(info + "METADATA", "Metadata-Version: 2.1\\nName: evil\\nVersion: 0.1\\n")
        wheel.writestr(info + "WHEEL", "Wheel-Version: 1.0\\nTag: py3-none-any\\n")
        wheel.writestr(info + "RECORD", "")
    return name


get_requires_for_build_sdist = get_requires_for_build_wheel
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    try:
        eras.installed("poetry"), eras.installed("uv")
    except FileNotFoundError:
        missing_service("poetry and uv (./scripts/dev setup installs them)")
    with serve(tmp_path_factory.mktemp("lock-index")) as served:
        served.publish([OLD, NEW])
        yield served


@pytest.fixture(autouse=True)
def _tools(index: PackageIndex, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = [str(Path(eras.installed("poetry")).parent), str(Path(eras.installed("uv")).parent)]
    monkeypatch.setenv("PATH", os.pathsep.join([*path, os.environ.get("PATH", "")]))
    monkeypatch.setenv("PINBOT_CACHE_DIR", str(tmp_path / "pinbot-cache"))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")


def _backend(root: Path, mode: str, report: Path) -> Path:
    """The dependency with the hostile build backend, outside the repository (a direct URL)."""
    package = root / f"evil-{mode}"
    package.mkdir(parents=True)
    (package / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "evilbackend"\nbackend-path = ["."]\n\n'
        '[project]\nname = "evil"\ndynamic = ["version"]\n'  # only its backend knows it
    )
    text = BACKEND.format(
        report=str(report), mode=mode, look=sorted(SECRET_FILES), marker=MARKER
    )  # fmt: skip
    (package / "evilbackend.py").write_text(text)
    return package


def _world(tmp_path: Path, index: PackageIndex, tool: str, mode: str) -> tuple[Remotes, Path]:
    """A world whose pyproject adds the hostile dependency, locked by `tool` (while the backend
    is harmless: the lock is made before the mode file says what to do)."""
    report = tmp_path / "report.txt"
    evil = _backend(tmp_path, "spy", report)
    text = eras.tool_pyproject(tool, OLD, index.url)
    text = text.replace("dependencies = [\n", f'dependencies = [\n  "evil @ {evil.as_uri()}",\n', 1)
    lock_name = eras.LOCK_FILES[tool]
    locked = eras.lock(text, tool)
    # the same backend, now in the mode under test (the lock records the URL, not the code)
    code = (evil / "evilbackend.py").read_text()
    assert "\nMODE = 'spy'\n" in code
    (evil / "evilbackend.py").write_text(
        code.replace("\nMODE = 'spy'\n", f"\nMODE = {mode!r}\n", 1)
    )
    report.unlink(missing_ok=True)
    files = {
        **eras.NO_CONSTANT,
        "pyproject.toml": text,
        lock_name: locked,
    }
    return cut_remotes(tmp_path / f"{tool}-{mode}", files=files), report


def _secrets_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    for name, text in SECRET_FILES.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for key, value in SECRET_ENV.items():
        monkeypatch.setenv(key, value)


def _config(tmp_path: Path, index: PackageIndex, extra: str = "") -> None:
    (tmp_path / "pinbot.toml").write_text(f'[pin]\nindex_url = "{index.url}"\n{extra}')


@pytest.mark.parametrize("tool", ["poetry", "uv"])
def test_a_build_backend_run_by_the_lock_tool_finds_no_secret(
    images: Images, index: PackageIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tool: str
) -> None:
    world, report = _world(tmp_path, index, tool, "spy")
    _config(tmp_path, index)
    _secrets_everywhere(tmp_path, monkeypatch)
    index.authorizations.clear()

    code, result, err = cut_json(images, world, "--push")

    assert code == 0, err
    assert report.exists(), "the backend never ran: the test proves nothing"
    seen = [json.loads(line) for line in report.read_text().splitlines()]
    assert SECRET not in report.read_text()
    for record in seen:
        assert not {k for k in record["env"] if k.endswith(("_TOKEN", "_PASSWORD", "_KEY"))}
        assert not [k for k in record["env"] if k.startswith(("GITHUB_", "GH_", "UV_INDEX_"))]
        assert [k for k in record["env"] if k.startswith("PINBOT_")] in ([], ["PINBOT_RUN"])
        assert record["env"]["HOME"] != str(tmp_path / "home")
        assert record["files"] == {}  # its HOME holds no credential file at all
    assert index.authorizations == []  # the repository's own index got no credentials either
    assert result is not None and {c["new"] for c in result["lock"] if c["package"] != "evil"} == {
        NEW
    }


@pytest.mark.parametrize("tool", ["poetry", "uv"])
def test_a_repository_named_index_gets_no_credentials(
    images: Images, index: PackageIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tool: str
) -> None:
    text = eras.tool_pyproject(tool, OLD, index.url)
    lock_name = eras.LOCK_FILES[tool]
    locked = eras.lock(text, tool)
    files = {
        **eras.NO_CONSTANT,
        "pyproject.toml": text,  # names its index "local" ([[tool.uv.index]], poetry source)
        lock_name: locked,
    }
    world = cut_remotes(tmp_path / "named", files=files)
    _config(tmp_path, index)
    _secrets_everywhere(tmp_path, monkeypatch)
    index.authorizations.clear()
    index.requests.clear()

    code, _, err = cut_json(images, world, "--push")

    assert code == 0, err
    assert any(NEW in path for path in index.requests)  # the tool did ask the index
    assert index.authorizations == []


def _marked_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and MARKER.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("tool", ["poetry", "uv"])
def test_a_lock_tool_that_hangs_is_stopped_with_its_process_group_at_the_deadline(
    images: Images, index: PackageIndex, tmp_path: Path, tool: str
) -> None:
    world, report = _world(tmp_path, index, tool, "hang")
    _config(tmp_path, index, "lock_timeout = 5\n")
    refs = world.refs()

    started = time.monotonic()
    code, _, err = cut_json(images, world, "--push")
    took = time.monotonic() - started

    assert code == 3, err
    assert report.read_text() == "hanging"  # it did hang
    assert "took over 5 s" in err and "pin.lock_timeout" in err
    assert took < 60
    assert _wait_for(lambda: not _marked_processes()), "a child of the backend outlived the run"
    assert world.refs() == refs


@pytest.mark.parametrize("tool", ["poetry", "uv"])
def test_a_backend_that_eats_memory_hits_the_bound(
    images: Images, index: PackageIndex, tmp_path: Path, tool: str
) -> None:
    world, report = _world(tmp_path, index, tool, "hog")
    _config(tmp_path, index, "lock_memory_mib = 1024\n")

    code, _, err = cut_json(images, world, "--push")

    assert code == 3, err
    got = report.read_text()
    assert got.endswith("then MemoryError")
    assert int(got.split()[0]) < 1024


def _wait_for(done: Callable[[], Any], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.2)
    return bool(done())


def test_a_repository_uv_toml_naming_another_index_is_not_given_to_uv(
    images: Images, index: PackageIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = eras.uv_pyproject(OLD, index.url)
    with serve(tmp_path / "elsewhere") as elsewhere:
        host = elsewhere.url.removeprefix("http://")
        files = {
            **eras.NO_CONSTANT,
            "pyproject.toml": text,
            "uv.lock": eras.lock(text, "uv"),
            # repository tool configuration: an index of its own, with credentials in the URL
            "uv.toml": f'[[index]]\nname = "leak"\nurl = "http://u:{SECRET}@{host}"\n',
        }
        world = cut_remotes(tmp_path / "uv-toml", files=files)
        _config(tmp_path, index)
        _secrets_everywhere(tmp_path, monkeypatch)

        code, _, err = cut_json(images, world, "--push")

        assert code == 0, err
        assert elsewhere.requests == [] and elsewhere.authorizations == []


@pytest.mark.parametrize("path", ["../../outside", "/etc/outside"])
def test_a_path_dependency_leaving_the_repository_is_refused_before_any_tool_runs(
    images: Images, index: PackageIndex, tmp_path: Path, path: str
) -> None:
    text = eras.tool_pyproject("poetry", OLD, index.url)
    files = {
        **eras.NO_CONSTANT,
        "pyproject.toml": text.replace(
            "[tool.poetry.dependencies]\n",
            f'[tool.poetry.dependencies]\nx = {{ path = "{path}" }}\n',
        ),
        "poetry.lock": eras.lock(text),
    }
    world = cut_remotes(tmp_path / "outside", files=files)
    _config(tmp_path, index)
    refs = world.refs()

    code, _, err = cut_json(images, world, "--push")

    assert code == 2, err
    assert f"the path {path!r} leaves the repository" in err
    assert world.refs() == refs
