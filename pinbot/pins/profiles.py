"""The sites a repository has, by name: the `[pin]` config resolved into `SiteSpec`s.

- `openhands` (the default): every site of both eras of the OpenHands repository, each optional,
  at least one present. The constant era's `AGENT_SERVER_IMAGE` and compose defaults, and both
  eras' package pins in `pyproject.toml`, `poetry.lock` and (a project locked by uv) `uv.lock`.
- `openhands-cloud-chart`: the four pin spots of OpenHands-Cloud (the chart's global image, the
  runtime-api subchart's copy, the image-loader's pre-pull, and the replicated config's default
  with the help text that quotes it), all required.
- an explicit `[[pin.sites]]` list replaces the profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pinbot.errors import UsageError
from pinbot.pins import projects
from pinbot.pins.kinds import SiteSpec, parse


class PinSettings(Protocol):
    """What of the config's [pin] table the sites are made from (pinbot.config.PinSettings;
    named here, not imported: the config validates its [pin] table with this module)."""

    @property
    def profile(self) -> str: ...
    @property
    def sites(self) -> Sequence[dict[str, Any]]: ...
    @property
    def packages(self) -> Sequence[str]: ...
    @property
    def python_file(self) -> str: ...
    @property
    def python_constant(self) -> str: ...
    @property
    def compose_files(self) -> Sequence[str]: ...
    @property
    def compose_variable(self) -> str: ...


PROFILES = ("openhands", "openhands-cloud-chart")
_CHART_IMAGE = "global.agentServerImage.tag"
_REPLICATED_ITEM = "spec.groups[name=sandbox_configuration].items[name=custom_sandbox_image_tag]"
CLOUD_CHART = (
    SiteSpec("yaml", "charts/openhands/values.yaml", path=_CHART_IMAGE),
    SiteSpec("yaml", "charts/openhands/charts/runtime-api/values.yaml", path=_CHART_IMAGE),
    SiteSpec("yaml", "charts/image-loader/values.yaml", path="image.tag"),
    SiteSpec("yaml", "replicated/config.yaml", path=f"{_REPLICATED_ITEM}.default"),
    SiteSpec("yaml", "replicated/config.yaml", path=f"{_REPLICATED_ITEM}.help_text", within=True),
)


def sites(pin: PinSettings, where: str) -> tuple[SiteSpec, ...]:
    """The configured sites: the explicit list, else the profile's."""
    if pin.sites:
        return tuple(parse(entry, where, i) for i, entry in enumerate(pin.sites))
    if pin.profile == "openhands":
        return openhands(pin)
    if pin.profile == "openhands-cloud-chart":
        return CLOUD_CHART
    raise UsageError(
        f"{where}: pin.profile {pin.profile!r} is not known: choose from {', '.join(PROFILES)}, "
        "or list the sites as [[pin.sites]]"
    )


MAX_TREE_LOCKS = 50


def with_tree_locks(
    specs: Sequence[SiteSpec], locks: Sequence[str], read: projects.Reader
) -> tuple[SiteSpec, ...]:
    """`specs`, and when they hold a lock site, every other lock in the tree whose project
    depends on the root project by path, as one more (optional: a lock that holds none of the
    packages is no site). `enterprise/poetry.lock` locks the packages through such a path
    dependency (OpenHands #11695): a bump that leaves it behind leaves the enterprise server on
    the old SDK. A project with pins of its own (`openhands-cli/`, with its own uv.lock) is
    not: it moves on its own schedule."""
    first = next((s for s in specs if s.is_lock), None)
    named = {s.file for s in specs}
    extra = [path for path in locks if path not in named]
    if first is None or not extra:
        return tuple(specs)
    if len(extra) > MAX_TREE_LOCKS:
        raise UsageError(
            f"the tree holds {len(extra)} lock files besides the configured ones; pinbot reads at "
            f"most {MAX_TREE_LOCKS}: list the lock sites as [[pin.sites]] in the config instead"
        )
    found = [path for path in extra if projects.reaches_root(read, path)]
    return (*specs, *(SiteSpec("lock", p, packages=first.packages, optional=True) for p in found))


def openhands(pin: PinSettings) -> tuple[SiteSpec, ...]:
    packages = tuple(pin.packages)
    return (
        SiteSpec("python-constant", pin.python_file, name=pin.python_constant, optional=True),
        *(
            SiteSpec("compose-default", path, name=pin.compose_variable, optional=True)
            for path in pin.compose_files
        ),
        SiteSpec("requirement", "pyproject.toml", packages=packages, optional=True),
        SiteSpec("lock", "poetry.lock", packages=packages, optional=True),
        SiteSpec("lock", "uv.lock", packages=packages, optional=True),
    )
