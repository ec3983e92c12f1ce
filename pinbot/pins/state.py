"""Read every configured site of one tree at once, and judge whether they agree.

`read` gives a file's bytes at some commit (None when the file is not there), so the same code
serves a clone, a checkout, GitHub's contents API or a test's dictionary. What the deploy runs
is read the way the deploy reads it: the `AGENT_SERVER_IMAGE` constant where there is one (the
constant era), else the installed `openhands-agent-server` version, i.e. the lock's, else the
pin's (the package era, OpenHands #15168).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from pinbot.errors import UsageError
from pinbot.pins import Found, Identity, declared_at, kinds
from pinbot.pins.kinds import SiteSpec
from pinbot.pins.text import NotPresent

Reader = Callable[[str], bytes | None]
DEPLOYED_PACKAGE = "openhands-agent-server"


@dataclass(frozen=True)
class SiteRead:
    spec: SiteSpec
    found: tuple[Found, ...]  # empty: the site is not in this tree

    @property
    def present(self) -> bool:
        return bool(self.found)


@dataclass(frozen=True)
class PinState:
    """Every site of one tree, what each says, and which value the deploy would run."""

    sites: tuple[SiteRead, ...]
    image: str  # the configured image: where a site names no repository, this one
    variant: str
    declared: Mapping[str, str] = field(default_factory=dict)  # SDK commit -> its version

    @property
    def present(self) -> list[SiteRead]:
        return [s for s in self.sites if s.present]

    @property
    def values(self) -> list[Found]:
        return [f for s in self.sites for f in s.found]

    @property
    def edit_sites(self) -> list[SiteRead]:
        return [s for s in self.present if not s.spec.is_lock]

    @property
    def lock_sites(self) -> list[SiteRead]:
        return [s for s in self.sites if s.spec.is_lock]

    @property
    def deployed(self) -> Found:
        """The value the deploy runs: the constant, else the locked agent server, else its pin."""
        values = self.values
        constant = [f for f in values if f.holds == "image"]
        pinned = [f for f in values if f.label.startswith(f"{DEPLOYED_PACKAGE}==")]
        locked = [f for f in pinned if f.label.endswith("(locked)")]
        return (constant + locked + pinned + values)[0]

    @property
    def repository(self) -> str:
        return self.deployed.repository or self.image

    @property
    def tag(self) -> str:
        return self.deployed.tag(self.variant)

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    def commits(self) -> list[str]:
        """The SDK commits whose declared version decides agreement: those named beside a
        version (a build tag beside package pins, say); none when every pin is a commit."""
        named = [f.identity(self.variant) for f in self.values]
        if not any(i.kind == "version" for i in named):
            return []
        return sorted({i.value for i in named if i.kind == "commit"})

    def with_declared(self, declared: Mapping[str, str]) -> PinState:
        return replace(self, declared=dict(declared))

    def disagreements(self) -> list[str]:
        """Each site that does not say what the deploy runs, named with its value."""
        deployed = self.deployed
        runs = deployed.identity(self.variant)
        beside = f"beside {deployed.label} at {deployed.where}{self._says(runs)}"
        problems = [
            f"{found.label} at {found.where}{self._says(found.identity(self.variant))} {beside}"
            for found in self.values
            if not found.identity(self.variant).same(runs, self.declared)
        ]
        problems += [
            f"{found.label} at {found.where} names {found.repository}, not {self.image}"
            for found in self.values
            if found.repository is not None and found.repository != self.image
        ]
        return problems

    def _says(self, identity: Identity) -> str:
        """What a commit's SDK declares, said where it decides a disagreement."""
        if identity.kind != "commit" or not self.commits():
            return ""
        version = declared_at(self.declared, identity.value)
        if version is None:
            return f" (the SDK version at {identity.value[:12]} could not be read)"
        return f" (the SDK at {identity.value[:12]} declares {version})"

    def summary(self) -> str:
        files = sorted({f.file for f in self.values})
        said = f"{len(self.values)} pin(s) in {', '.join(files)} say {self.tag}"
        known = [f"{c[:7]} declares {v}" for c, v in sorted(self.declared.items())]
        return said + (f" (the SDK at {'; '.join(known)})" if known and self.commits() else "")


def read_state(
    specs: Sequence[SiteSpec], read: Reader, image: str, variant: str, where: str = ""
) -> PinState:
    """Every site's values; refuses a required site that is missing and a tree with none."""
    sites = tuple(_read_site(spec, read, where) for spec in specs)
    state = PinState(sites, image, variant)
    if not state.present:
        checked = "; ".join(spec.describe() for spec in specs)
        raise UsageError(
            f"no pin site found{where} (looked for: {checked}): check the repository and "
            "branch, or configure [pin] (profile, or [[pin.sites]])"
        )
    return state


def _read_site(spec: SiteSpec, read: Reader, where: str) -> SiteRead:
    data = read(spec.file)
    if data is None:
        if spec.optional:
            return SiteRead(spec, ())
        raise UsageError(f"{spec.file} is missing{where}: the pin site {spec.describe()} needs it")
    try:
        found = kinds.read(spec, data)
    except NotPresent:
        if spec.optional:
            return SiteRead(spec, ())
        raise
    if not found and not spec.optional:
        raise UsageError(f"{spec.file}{where}: no pin of {', '.join(spec.packages)} found in it")
    return SiteRead(spec, tuple(found))
