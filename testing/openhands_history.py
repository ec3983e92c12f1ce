"""Real OpenHands history, rebuilt from tests/fixtures/openhands (see its README).

- `commits()`: the real commits the fixture names, with the pin files of each;
- `sdk_repo(root)`: a git repository holding, under their real ids, the SDK commits whose
  `openhands-sdk/pyproject.toml` pinbot reads (only the objects on that path: the rest of each
  tree is absent, which git does not mind when reading it);
- `publish_images(registry)`: agent-server images tagged as ghcr tagged them, each recording
  its real build commit;
- `openhands_repo(root, commit)`: an OpenHands remote whose main holds a real commit's pin files.
"""

from __future__ import annotations

import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pinbot.demo import repos
from pinbot.demo.registry import ImageSpec, RegistryWriter

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "openhands"
IMAGE = "ghcr.io/openhands/agent-server"
REPOSITORY = "openhands/agent-server"
V1_1_0 = "4e2ecd82985ca39fbf4604015d65ac997834c4c8"  # the v1.1.0 release commit
# What each tag of the replays was built from (ghcr's sha tags name their commit; 1.1.0-python
# was built from the release commit).
BUILDS = {
    "1.1.0-python": V1_1_0,
    "4e2ecd8-python": V1_1_0,
    "f3c0c19-python": "f3c0c19cd134fbda84e07f152897a6d61e1e46c5",
    "d5995c3-python": "d5995c31c55e488d4ab0372d292973bc6fad71f1",
    "be9725b-python": "be9725b459c0afabc18cfba89acf11dc756b42f0",
    "23c8436-python": "23c8436cb39d2cb7dc98cd139780fde3a26bb28d",
    "ce0a71a-python": "ce0a71af55dfce101f7419fbdb0116178f01e109",
}
# No image of that era carries the blob routes (they came in 2026): these tests ask for a
# capability every SDK commit has, so the capability check passes on the real builds.
CONFIG = (
    'capability = "sdk-pyproject"\nroute_file = "openhands-sdk/pyproject.toml"\n\n'
    '[pin]\nindex_url = "{index}"\n'
)


@dataclass(frozen=True)
class Commit:
    sha: str
    date: str
    subject: str
    kind: str
    parent: str | None = None
    tag: str | None = None
    gate: str | None = None
    paths: tuple[str, ...] = field(default=())

    @property
    def short(self) -> str:
        return self.sha[:8]

    def files(self) -> dict[str, bytes]:
        return {path: (FIXTURE / "files" / self.sha / path).read_bytes() for path in self.paths}


def manifest() -> dict[str, object]:
    return tomllib.loads((FIXTURE / "commits.toml").read_text())


def commits() -> dict[str, Commit]:
    data = manifest()
    pin_files = tuple(data["pin_files"])  # type: ignore[arg-type]
    found = {}
    for entry in data["commit"]:  # type: ignore[attr-defined]
        paths = pin_files + tuple(entry.get("extra_files", ()))
        keys = ("sha", "date", "subject", "kind", "parent", "tag", "gate")
        found[entry["sha"]] = Commit(**{k: entry[k] for k in keys if k in entry}, paths=paths)
    return found


def commit(prefix: str) -> Commit:
    return next(c for sha, c in commits().items() if sha.startswith(prefix))


# --- the SDK --------------------------------------------------------------------------------


def sdk_repo(root: Path) -> Path:
    """A bare repository with each fixture SDK commit under its real id."""
    subprocess.run(["git", "init", "-q", "--bare", str(root)], check=True)
    for directory in sorted((FIXTURE / "sdk").iterdir()):
        _sdk_commit(root, directory)
    return root


def _sdk_commit(repo: Path, directory: Path) -> None:
    blob = _git(repo, ["hash-object", "-w", "--stdin"], (directory / "pyproject.toml").read_bytes())
    sdk_tree = _git(repo, ["mktree", "--missing"], (directory / "sdk.tree").read_bytes())
    root_tree = _git(repo, ["mktree", "--missing"], (directory / "root.tree").read_bytes())
    made = _git(repo, ["hash-object", "-t", "commit", "-w", "--literally", "--stdin"],
                (directory / "commit").read_bytes())  # fmt: skip
    listed = (directory / "sdk.tree").read_text()
    if made != directory.name or sdk_tree not in (directory / "root.tree").read_text():
        raise AssertionError(f"the SDK fixture for {directory.name} does not rebuild it")
    if blob not in listed or root_tree not in (directory / "commit").read_text():
        raise AssertionError(f"the SDK fixture for {directory.name} does not rebuild its trees")


def _git(repo: Path, args: list[str], data: bytes) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True)
    if done.returncode != 0:
        raise AssertionError(f"git {args[0]}: {done.stderr.decode()}")
    return done.stdout.decode().strip()


# --- images and repositories ----------------------------------------------------------------


def publish_images(registry: str) -> dict[str, str]:
    """Every tag in BUILDS, one image per build commit; returns tag -> digest."""
    writer = RegistryWriter(registry, REPOSITORY)
    by_commit: dict[str, list[str]] = {}
    for tag, sha in BUILDS.items():
        by_commit.setdefault(sha, []).append(tag)
    digests = {}
    for number, (sha, tags) in enumerate(sorted(by_commit.items())):
        spec = ImageSpec(tags=tags, build_sha=sha, created=f"2025-11-{number + 1:02d}T00:00:00Z")
        digest = writer.publish(spec)
        digests.update(dict.fromkeys(tags, digest))
    writer.flush()
    return digests


def openhands_repo(root: Path, real: Commit) -> repos.OpenHandsRepo:
    """A remote whose main holds `real`'s pin files (and nothing that is not a pin file of
    that era: it had no compose defaults)."""
    files: dict[str, str | bytes | None] = {
        "docker-compose.yml": None,
        "containers/dev/compose.yml": None,
        **real.files(),
    }
    return repos.openhands_repo(root, image=IMAGE, files=files)


def pin_lines(text: str) -> list[str]:
    """The lines of a pin file that are not comments (a commented-out pin is not a pin)."""
    return [line for line in text.splitlines() if not line.lstrip().startswith("#")]
