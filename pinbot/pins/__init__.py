"""Pin sites: where a repository names the agent-server image, read and rewritten surgically.

A site holds one of three things: the image tag (`1.43.1-python`), the package version
(`1.43.1`, the release the tag was built from) or the whole reference (`repo:tag`). Everything
a site reads is a `Found`; `Target` is what every site should say after a cut. Kinds
(`kinds.py`) turn a configured site into values and rewrites; `profiles.py` names the sites of
the known repositories; `state.py` reads a whole tree and judges whether its sites agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from pinbot.errors import UsageError
from pinbot.versions import classify

HOLDS = ("tag", "version", "image")


@dataclass(frozen=True)
class Found:
    """One value read at a site. `label` names it the way a reader knows it
    (`openhands-sdk==1.38.0`, `AGENT_SERVER_IMAGE_TAG:-1.38.0-python`)."""

    file: str
    line: int
    holds: str
    value: str
    label: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def tag(self, variant: str) -> str:
        """The image tag this value means (a version means its release tag)."""
        if self.holds == "version":
            return f"{self.value}-{variant}"
        return self.value.rpartition(":")[2] if self.holds == "image" else self.value

    @property
    def repository(self) -> str | None:
        return self.value.rpartition(":")[0] if self.holds == "image" else None


@dataclass(frozen=True)
class Target:
    """What every site should say: the image repository and tag being pinned."""

    repository: str
    tag: str
    variant: str

    @property
    def version(self) -> str | None:
        """The release version of the tag; None for a build (`<sha>-python`)."""
        info = classify(self.tag, self.variant)
        return str(info.version) if info.kind == "release" and info.version else None

    def text(self, holds: str, where: str) -> str:
        """The value a site that holds `holds` gets."""
        if holds == "image":
            return f"{self.repository}:{self.tag}"
        if holds == "tag":
            return self.tag
        version = self.version
        if version is None:
            raise UsageError(
                f"{where} holds a package version, and {self.tag} is not a release "
                f"(X.Y.Z-{self.variant}): a build's packages are never published, so it cannot "
                "be pinned there; pin a release tag"
            )
        return version
