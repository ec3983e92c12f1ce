"""Pin sites: where a repository names the agent-server image, read and rewritten surgically.

A site holds one of four things: the image tag (`1.43.1-python`, or a build's
`4e2ecd8-python`), the package version (`1.43.1`), the whole reference (`repo:tag`), or the git
revision the packages are installed from (a poetry `{ git = …, rev = … }` table, a PEP 508
`name @ git+…@rev`). A build is the version its SDK declares at that commit. Everything
a site reads is a `Found`; `Target` is what every site should say after a cut. Kinds
(`kinds.py`) turn a configured site into values and rewrites; `profiles.py` names the sites of
the known repositories; `state.py` reads a whole tree and judges whether its sites agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from pinbot.errors import UsageError
from pinbot.versions import classify

HOLDS = ("tag", "version", "image")


@dataclass(frozen=True)
class Found:
    """One value read at a site. `label` names it the way a reader knows it
    (`openhands-sdk==1.38.0`, `AGENT_SERVER_IMAGE_TAG:-1.38.0-python`). `holds` is `image`
    (`repo:tag`), `tag`, `version` or `rev` (a git revision the packages are pinned at)."""

    file: str
    line: int
    holds: str
    value: str
    label: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def tag(self, variant: str) -> str:
        """The image tag this value means (a version means its release tag, a revision its
        build tag)."""
        if self.holds == "version":
            return f"{self.value}-{variant}"
        if self.holds == "rev":
            return f"{self.value[:7]}-{variant}"
        return self.value.rpartition(":")[2] if self.holds == "image" else self.value

    @property
    def repository(self) -> str | None:
        return self.value.rpartition(":")[0] if self.holds == "image" else None

    def identity(self, variant: str) -> Identity:
        """What the value names: a version, an SDK commit, or (a floating tag) only its text."""
        if self.holds == "version":
            return Identity("version", self.value)
        if self.holds == "rev":
            return Identity("commit", self.value.lower())
        info = classify(self.tag(variant), variant)
        if info.kind == "release" and info.version is not None:
            return Identity("version", str(info.version))
        if info.kind == "sha" and info.sha is not None:
            return Identity("commit", info.sha)
        return Identity("tag", self.tag(variant))


@dataclass(frozen=True)
class Identity:
    """A pin reduced to what it means. A build (`4e2ecd8-python`, or a git revision) is an SDK
    commit; a commit *is* the version its SDK declares (`declared`, read from the SDK history),
    so `4e2ecd8-python` beside `openhands-sdk==1.1.0` agrees exactly when 4e2ecd8 says 1.1.0."""

    kind: str  # version, commit or tag
    value: str

    def same(self, other: Identity, declared: Mapping[str, str]) -> bool:
        if self == other:
            return True
        if self.kind == other.kind == "commit":
            return same_commit(self.value, other.value)
        mine, theirs = self.version(declared), other.version(declared)
        return mine is not None and theirs is not None and _same_version(mine, theirs)

    def version(self, declared: Mapping[str, str]) -> str | None:
        if self.kind == "version":
            return self.value
        if self.kind == "commit":
            return declared_at(declared, self.value)
        return None


def same_commit(a: str, b: str) -> bool:
    """Two spellings of one commit: a 7-hex build tag and the 40-hex revision it abbreviates."""
    a, b = a.lower(), b.lower()
    return min(len(a), len(b)) >= 7 and (a.startswith(b) or b.startswith(a))


def declared_at(declared: Mapping[str, str], commit: str) -> str | None:
    """The version the SDK declares at `commit` (however long the key it was read for)."""
    return next((v for c, v in declared.items() if same_commit(c, commit)), None)


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


@dataclass(frozen=True)
class Target:
    """What every site should say: the image repository and tag being pinned, the SDK commit
    the image was built from (`commit`, 40 hex when known) and the version its SDK declares
    there (`declared`): a build tag is that version, and moves git-revision pins to `commit`."""

    repository: str
    tag: str
    variant: str
    commit: str | None = None
    declared: str | None = None

    @property
    def release(self) -> str | None:
        """The release version of the tag; None for a build (`<sha>-python`)."""
        info = classify(self.tag, self.variant)
        return str(info.version) if info.kind == "release" and info.version else None

    @property
    def version(self) -> str | None:
        """The package version this image is: its release, else what its SDK declares."""
        return self.release or self.declared

    @property
    def build(self) -> str | None:
        """The SDK commit of the image: the recorded build commit, else a build tag's sha."""
        info = classify(self.tag, self.variant)
        return self.commit or (info.sha if info.kind == "sha" else None)

    def text(self, holds: str, where: str) -> str:
        """The value a site that holds `holds` gets."""
        if holds == "image":
            return f"{self.repository}:{self.tag}"
        if holds == "tag":
            return self.tag
        version = self.version
        if version is None and classify(self.tag, self.variant).kind != "sha":
            raise UsageError(
                f"{where} holds a package version, and {self.tag} is not a release "
                f"(X.Y.Z-{self.variant}) nor a build of one SDK commit (<sha>-{self.variant}): "
                "it names no package version; pin a release tag"
            )
        if version is None:
            raise UsageError(
                f"{where} holds a package version, and {self.tag} is a build whose SDK version "
                "pinbot could not read (openhands-sdk/pyproject.toml at its commit, from --sdk "
                "or GitHub): pass --sdk with a software-agent-sdk clone that has the commit, "
                "pin a release tag, or pin the packages by git revision"
            )
        return version

    def revision(self, old: str, where: str) -> str:
        """The git revision a site that pins `old` gets: the build commit, written as long as
        the old one was (a 7-hex revision stays 7 hex)."""
        commit, named = self.build, classify(self.tag, self.variant).sha
        if commit is not None and named is not None and not same_commit(commit, named):
            raise UsageError(
                f"{where} pins a git revision, and {self.tag} names commit {named} while its "
                f"image records {commit[:12]}: pinbot will not guess which one the packages "
                "should follow; pin a build whose image and tag agree"
            )
        if commit is None or len(commit) < min(len(old), 40):
            raise UsageError(
                f"{where} pins a git revision ({old}), and pinbot does not know the full commit "
                f"{self.tag} was built from (its image records none): pin a build whose image "
                "names its commit, or write the revision as 7 hex"
            )
        return commit[: max(len(old), 7)] if len(old) < 40 else commit
