"""An image whose config says anything: the real `pinbot scan` and `check`, under GitHub
Actions, against the real Distribution registry serving images whose labels, environment,
creation time and platform carry ANSI escapes, workflow commands, `%0A` and newlines. What the
image says reaches the terminal, `--json`, `$GITHUB_OUTPUT` and the step summary only when it
has the form it must have (a sha, a ref, a time, a platform name) — else not at all, or
escaped in the message that refuses it."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pinbot.demo.registry import RegistryWriter
from pinbot.registry.documents import OCI_INDEX, OCI_MANIFEST
from testing.cli import Run, pinbot
from testing.worlds import Images

AREA = "image configs"
ATTACK = (
    "labels, `Env` (build sha and ref), `created`, and index and config platforms carrying "
    "ANSI escapes, `::error::`, `%0A`, newlines and HTML, in the real registry"
)
ANSWER = (
    "values of the wrong form are no facts (never shown); a platform that is no name refuses "
    "the image, escaped; terminal, `--json`, `$GITHUB_OUTPUT` and summary stay clean"
)
EXIT = "1 / 3"

REPOSITORY = "hostile/agent-server"
IMAGE = f"ghcr.io/{REPOSITORY}"
BAD = "\x1b[31m\x1b]8;;javascript:alert(1)\x07::error::forged%0A\n::stop-commands::pwned\n<b>"
FORGED = re.compile(r"\x1b|\x07|^\s*::(?:error::forged|stop-commands)|%0A\n|<b>", re.MULTILINE)


def config(os_name: str = "linux", arch: str = "amd64") -> dict[str, Any]:
    return {
        "architecture": arch,
        "os": os_name,
        "created": "2026-02-01T00:00:00Z" + BAD,
        "config": {
            "Env": [f"OPENHANDS_BUILD_GIT_SHA={'a' * 40}{BAD}", f"OPENHANDS_BUILD_GIT_REF={BAD}"],
            "Labels": {"org.opencontainers.image.revision": BAD, "org.example.note": BAD},
        },
        "rootfs": {"type": "layers", "diff_ids": []},
    }


def publish(registry: str, tag: str, image_config: dict[str, Any], platform: Any) -> None:
    """One image under `tag`: an index naming `platform` (None: the bare manifest, no index)."""
    writer = RegistryWriter(registry, REPOSITORY)
    data = json.dumps(image_config).encode()
    descriptor = {"mediaType": "application/vnd.oci.image.config.v1+json",
                  "digest": writer.put_blob(data), "size": len(data)}  # fmt: skip
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": descriptor, "layers": []}).encode()  # fmt: skip
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    writer.put_manifest(digest, manifest, OCI_MANIFEST)
    if platform is None:
        writer.put_manifest(tag, manifest, OCI_MANIFEST)
        return
    entry = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest),
             "platform": platform}  # fmt: skip
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
    writer.put_manifest(tag, index.encode(), OCI_INDEX)


@pytest.fixture(scope="module")
def hostile_images(images: Images) -> str:
    """1.30.0: labels and env lie, platforms fine; 1.31.0: the index's platform lies; 1.32.0:
    no index, the config's platform lies."""
    amd64 = {"os": "linux", "architecture": "amd64"}
    publish(images.registry, "1.30.0-python", config(), amd64)
    publish(images.registry, "1.31.0-python", config(), {"os": "linux", "architecture": BAD})
    publish(images.registry, "1.32.0-python", config(os_name="linux" + BAD), None)
    return images.registry


@pytest.fixture(autouse=True)
def in_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github-output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    (tmp_path / "pinbot.toml").write_text('platforms = ["linux/amd64"]\n')


def run(registry: str, images: Images, *argv: str) -> Run:
    common = ("--image", IMAGE, "--registry-url", registry, "--sdk", str(images.world.sdk))
    return pinbot(*argv, *common)


def output_names(path: Path) -> set[str]:
    text = path.read_text() if path.exists() else ""
    names = set()
    lines = iter(text.splitlines())
    for line in lines:
        name, sep, delimiter = line.partition("<<")
        names.add(name if sep else line.partition("=")[0])
        if sep:
            for inner in lines:
                if inner == delimiter:
                    break
    return names


def assert_clean(done: Run, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    channels = {"stdout": done.out, "stderr": done.err,
                "summary": summary.read_text() if summary.exists() else ""}  # fmt: skip
    for channel, text in channels.items():
        found = FORGED.search(text)
        assert found is None, f"{channel} carries {found!r}:\n{text}"
    names = output_names(tmp_path / "github-output")
    assert all(re.fullmatch(r"[a-z_]+", name) for name in names), names  # none forged


@pytest.mark.parametrize("json_output", [False, True])
def test_a_config_that_lies_in_labels_and_env_shows_none_of_it(
    hostile_images: str, images: Images, tmp_path: Path, json_output: bool
) -> None:
    flags = ["--json"] if json_output else []

    done = run(hostile_images, images, *flags, "check", f"{IMAGE}:1.30.0-python")

    assert done.code in (1, 3), done.text
    assert "a" * 40 not in done.text  # the sha with a tail is no sha: not shown as the build
    if json_output:
        assert json.loads(done.out)["build_sha"] is None  # still JSON; no sha
    assert_clean(done, tmp_path)


@pytest.mark.parametrize(
    ("tag", "says"),
    [
        ("1.31.0-python", "platform architecture '\\x1b[31m"),
        ("1.32.0-python", "platform os 'linux\\x1b[31m"),
    ],
)
def test_a_platform_that_is_no_name_refuses_the_image_escaped(
    hostile_images: str, images: Images, tmp_path: Path, tag: str, says: str
) -> None:
    done = run(hostile_images, images, "check", f"{IMAGE}:{tag}")

    assert done.code == 3, done.text
    assert says in done.err and "is not a platform name" in done.err
    assert_clean(done, tmp_path)


def test_a_scan_over_lying_images_stays_clean(
    hostile_images: str, images: Images, tmp_path: Path
) -> None:
    done = run(hostile_images, images, "--json", "scan", "--all")

    assert done.code == 3, done.text  # the lying platforms refuse their images
    assert "is not a platform name" in done.err
    assert_clean(done, tmp_path)
