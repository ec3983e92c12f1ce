"""Every site of a tree read at once: both eras, the charts, agreement named site by site."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinbot import config, locktool
from pinbot.config import PinSettings
from pinbot.demo import repos
from pinbot.errors import UsageError
from pinbot.pins import Target, kinds, lock, profiles
from pinbot.pins.kinds import SiteSpec
from pinbot.pins.state import PinState, read_state

IMAGE = "ghcr.io/openhands/agent-server"


def pyproject(version: str, sdk: str | None = None) -> str:
    sdk = sdk or version
    return f"""\
[project]
name = "openhands-ai"
dependencies = [
  "openhands-agent-server=={version}",
  "openhands-sdk=={sdk}",
  "openhands-tools=={version}",
]

[tool.poetry.dependencies]
openhands-agent-server = "=={version}"
openhands-sdk = "=={sdk}"
openhands-tools = "=={version}"
"""


def poetry_lock(version: str) -> str:
    entries = "".join(
        f'[[package]]\nname = "{name}"\nversion = "{version}"\ndescription = ""\n\n'
        for name in ("openhands-agent-server", "openhands-sdk", "openhands-tools")
    )
    return entries + '[[package]]\nname = "requests"\nversion = "2.32.0"\n\n[metadata]\n'


def constant_era(tag: str = "1.38.0-python", version: str = "1.38.0") -> dict[str, bytes]:
    return {
        repos.SPEC_FILE: repos.sandbox_spec_service(IMAGE, tag).encode(),
        "docker-compose.yml": repos.docker_compose(IMAGE, tag).encode(),
        "containers/dev/compose.yml": repos.dev_compose(IMAGE, tag).encode(),
        "pyproject.toml": pyproject(version).encode(),
        "poetry.lock": poetry_lock(version).encode(),
    }


def package_era(version: str = "1.38.0", sdk: str | None = None) -> dict[str, bytes]:
    return {
        repos.SPEC_FILE: b'"""No constant since OpenHands #15168."""\n',
        "pyproject.toml": pyproject(version, sdk).encode(),
        "poetry.lock": poetry_lock(version).encode(),
    }


def state(files: dict[str, bytes], pin: PinSettings | None = None):  # type: ignore[no-untyped-def]
    specs = profiles.sites(pin or PinSettings(), "pinbot.toml")
    return read_state(specs, files.get, IMAGE, "python")


def test_the_constant_era_reads_every_site_and_they_agree() -> None:
    pins = state(constant_era())
    assert pins.reference == f"{IMAGE}:1.38.0-python"
    assert pins.deployed.label == f"AGENT_SERVER_IMAGE={IMAGE}:1.38.0-python"
    assert len(pins.values) == 1 + 2 + 6 + 3
    assert pins.disagreements() == []


def test_the_package_era_reads_the_pins_and_the_lock_and_deploys_the_locked_server() -> None:
    pins = state(package_era())
    assert [s.spec.kind for s in pins.present] == ["requirement", "lock"]
    assert pins.deployed.label == "openhands-agent-server==1.38.0 (locked)"
    assert pins.tag == "1.38.0-python"
    assert pins.disagreements() == []


def test_a_split_package_pin_is_named_with_site_and_value() -> None:
    pins = state(package_era("1.39.0", sdk="1.38.0"))
    problems = pins.disagreements()
    assert problems[0] == (
        "openhands-sdk==1.38.0 at pyproject.toml:5 beside "
        "openhands-agent-server==1.39.0 (locked) at poetry.lock:3"
    )
    assert len(problems) == 2  # both of pyproject.toml's sdk pins; the lock agrees


def test_a_constant_behind_the_package_pins_is_a_split() -> None:
    files = constant_era()
    files["pyproject.toml"] = pyproject("1.39.0").encode()
    problems = state(files).disagreements()
    assert len(problems) == 6
    assert all("beside AGENT_SERVER_IMAGE=" in p for p in problems)
    assert problems[0].startswith("openhands-agent-server==1.39.0 at pyproject.toml:4 beside")


def test_a_tree_with_no_site_is_refused_naming_what_was_looked_for() -> None:
    with pytest.raises(UsageError, match=r"no pin site found.*python-constant"):
        state({"README.md": b"hi"})


def test_a_required_site_that_is_missing_is_refused() -> None:
    pin = PinSettings(profile="openhands-cloud-chart")
    with pytest.raises(UsageError, match=r"charts/openhands/values.yaml is missing"):
        state({}, pin)


def test_the_lock_diff_names_every_changed_package() -> None:
    changes = lock.diff(poetry_lock("1.38.0"), poetry_lock("1.39.0"), "poetry.lock")
    assert [(c.package, c.old, c.new) for c in changes] == [
        ("openhands-agent-server", "1.38.0", "1.39.0"),
        ("openhands-sdk", "1.38.0", "1.39.0"),
        ("openhands-tools", "1.38.0", "1.39.0"),
    ]


def test_lock_commands_follow_the_file_name() -> None:
    assert lock.command("poetry.lock", "") == ["poetry", "lock"]
    assert lock.command("sub/uv.lock", "") == ["uv", "lock"]
    moved = ["openhands-sdk", "openhands-tools"]
    assert locktool.adapted(["/x/poetry", "lock"], "1.8.3") == ["/x/poetry", "lock", "--no-update"]
    assert locktool.adapted(["/x/poetry", "lock"], "2.1.3") == ["/x/poetry", "lock"]
    assert lock.command("poetry.lock", "", moved) == ["poetry", "lock"]
    assert lock.command("uv.lock", "", moved) == [
        "uv", "lock", "--upgrade-package", "openhands-sdk", "--upgrade-package", "openhands-tools"
    ]  # fmt: skip
    assert lock.command("poetry.lock", "poetry lock", moved) == ["poetry", "lock"]  # configured
    with pytest.raises(UsageError, match=r"set `command`"):
        lock.command("Pipfile.lock", "")


BOUNDS = locktool.Bounds("https://pypi.org/simple/", 60.0, 1024, Path("/nonexistent"))


def test_a_missing_lock_tool_is_a_usage_error_naming_the_tool_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no-such-locker is not installed.*install it"):
        locktool.find("no-such-locker", None, tmp_path, BOUNDS, "poetry.lock")


# --- [pin] in the config file ------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pinbot.toml"
    path.write_text(text)
    return path


def test_explicit_sites_are_parsed(tmp_path: Path) -> None:
    settings = config.load(
        write(
            tmp_path,
            '[[pin.sites]]\nkind = "yaml"\nfile = "values.yaml"\npath = "image.tag"\n'
            '[[pin.sites]]\nkind = "requirement"\nfile = "requirements.txt"\n'
            'packages = ["openhands-sdk"]\noptional = true\n',
        )
    )
    specs = profiles.sites(settings.pin, "x")
    assert specs == (
        SiteSpec("yaml", "values.yaml", path="image.tag"),
        SiteSpec("requirement", "requirements.txt", packages=("openhands-sdk",), optional=True),
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('kind = "toml"\nfile = "a"', "unknown kind 'toml'"),
        ('kind = "yaml"\nfile = "a"\npath = "x"\nname = "n"', "unknown key 'name' for kind yaml"),
        ('kind = "yaml"\nfile = "a"', "path .* is required for kind yaml"),
        ('kind = "yaml"\nfile = "../a"\npath = "x"', "must be a path inside the repository"),
        ('kind = "yaml"\nfile = "a"\npath = "x"\nholds = "digest"', "holds 'digest'"),
        ('kind = "lock"\nfile = "a"\npackages = []', "packages must be a list"),
    ],
)
def test_a_bad_site_names_the_file_and_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, f"[[pin.sites]]\n{body}\n")
    with pytest.raises(UsageError, match=rf"{tmp_path}/pinbot.toml: pin.sites\[0\].*{message}"):
        config.load(path)


def test_an_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"pin.profile 'helm' is not known"):
        config.load(write(tmp_path, '[pin]\nprofile = "helm"\n'))


def test_an_unknown_pin_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown key 'pin.sitez'"):
        config.load(write(tmp_path, "[pin]\nsitez = []\n"))


@pytest.mark.parametrize("url", ["ftp://pypi.org/simple/", "pypi.org/simple", "https:///simple/"])
def test_an_index_url_that_is_not_http_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(UsageError, match=r"pin.index_url .* must be an http\(s\) URL"):
        config.load(write(tmp_path, f'[pin]\nindex_url = "{url}"\n'))


IMAGE_VALUES = """\
sandbox:
  # the whole reference, as some charts write it
  image: "ghcr.io/openhands/agent-server:1.38.0-python"  # keep quoted
"""
IMAGE_SITE = SiteSpec("yaml", "values.yaml", path="sandbox.image", holds="image")


def test_a_yaml_image_site_of_the_pinned_image_moves_only_its_tag() -> None:
    target = Target(IMAGE, "1.39.0-python", "python")

    new, changes = kinds.rewrite(IMAGE_SITE, IMAGE_VALUES.encode(), target)

    assert new.decode() == IMAGE_VALUES.replace("1.38.0-python", "1.39.0-python")
    assert [(c.line, c.old, c.new) for c in changes] == [
        (3, f"{IMAGE}:1.38.0-python", f"{IMAGE}:1.39.0-python")
    ]


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_a_yaml_image_site_of_another_image_is_refused_naming_file_key_and_both(
    ending: str,
) -> None:
    data = IMAGE_VALUES.replace("\n", ending).encode()
    target = Target("ghcr.io/acme/agent-server", "1.39.0-python", "python")

    with pytest.raises(UsageError) as refused:
        kinds.rewrite(IMAGE_SITE, data, target)

    assert str(refused.value) == (
        "values.yaml:3: sandbox.image holds ghcr.io/openhands/agent-server:1.38.0-python, an "
        "image of ghcr.io/openhands/agent-server, not of ghcr.io/acme/agent-server (the image "
        "being pinned): pass --image ghcr.io/openhands/agent-server (use --registry-url to read "
        "it elsewhere), or change sandbox.image by hand if the image really moved"
    )


def test_the_gates_pin_check_names_a_yaml_image_site_of_another_image() -> None:
    values = IMAGE_VALUES.replace("ghcr.io/openhands/", "ghcr.io/acme/").encode()
    chart = SiteSpec("yaml", "chart.yaml", path="image.tag")
    files = {"values.yaml": values, "chart.yaml": b"image:\n  tag: 1.38.0-python\n"}

    pins = read_state([chart, IMAGE_SITE], files.get, IMAGE, "python")

    assert pins.disagreements() == [
        "sandbox.image: ghcr.io/acme/agent-server:1.38.0-python at values.yaml:3 names "
        f"ghcr.io/acme/agent-server, not {IMAGE}"
    ]


# --- a build is the version its SDK declares ----------------------------------------------------


def era_2025(tag: str, version: str) -> dict[str, bytes]:
    """As OpenHands main was in November 2025: a sha build tag beside poetry version pins."""
    return {
        repos.SPEC_FILE: repos.sandbox_spec_service(IMAGE, tag).encode(),
        "pyproject.toml": (
            "[tool.poetry.dependencies]\n"
            + "".join(f'{name} = "{version}"\n' for name in kinds.PACKAGES)
        ).encode(),
    }


def state_2025(tag: str, version: str, declared: dict[str, str]) -> PinState:
    specs = profiles.openhands(PinSettings())
    files = era_2025(tag, version)
    state = read_state(specs, files.get, IMAGE, "python")
    return state.with_declared(declared)


def test_a_build_tag_beside_the_version_its_sdk_declares_agrees() -> None:
    state = state_2025("4e2ecd8-python", "1.1.0", {"4e2ecd8": "1.1.0"})

    assert state.commits() == ["4e2ecd8"]
    assert state.disagreements() == []
    assert state.summary().endswith("(the SDK at 4e2ecd8 declares 1.1.0)")


def test_a_build_tag_beside_another_version_is_a_split_naming_what_the_sdk_declares() -> None:
    state = state_2025("f3c0c19-python", "1.1.0", {"f3c0c19": "1.0.0"})

    problems = state.disagreements()

    assert len(problems) == 3
    assert "openhands-sdk==1.1.0 at pyproject.toml:3" in problems[1]
    assert "(the SDK at f3c0c19 declares 1.0.0)" in problems[1]


def test_a_build_whose_sdk_version_is_unknown_does_not_agree_and_says_so() -> None:
    problems = state_2025("f3c0c19-python", "1.1.0", {}).disagreements()

    assert problems and "could not be read" in problems[0]


def test_a_lock_whose_version_lines_are_not_as_tools_write_them_is_placed_by_the_lexer() -> None:
    text = (
        '[[package]]\nname = "a"\ndescription = """\nversion = "9"\n"""\nversion = "1.0"\n\n'
        '[[package]]\nname = "openhands-sdk"\n  version   =   "1.1.0"\n'
    )

    found = lock.locked(text, "poetry.lock")

    assert [(e.package, e.version, e.line) for e in found] == [
        ("a", "1.0", 6),
        ("openhands-sdk", "1.1.0", 10),
    ]
