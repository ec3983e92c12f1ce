"""Read images from an OCI image layout on disk (`oci:DIR`), as `skopeo copy oci:` writes it."""

from __future__ import annotations

from pinbot.errors import UsageError
from pinbot.model import DIGEST_RE, ImageName
from pinbot.registry.documents import NotFound, Source, json_object


class LayoutSource(Source):
    """An OCI image layout on disk (`oci:DIR`): index.json names tags, blobs/ holds content."""

    def __init__(self, name: ImageName) -> None:
        assert name.layout is not None
        self.name = name
        self.root = name.layout
        self.where = f"the OCI layout {self.root}"
        if not (self.root / "index.json").is_file():
            raise UsageError(f"{self.root} is not an OCI image layout (no index.json)")
        index = json_object((self.root / "index.json").read_bytes(), f"{self.root}/index.json")
        self._tags: dict[str, str] = {}
        for entry in index.get("manifests", []):
            tag = (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name")
            if tag and DIGEST_RE.match(entry.get("digest", "")):
                self._tags[tag] = entry["digest"]

    def tags(self) -> list[str]:
        return list(self._tags)

    def resolve(self, tag: str) -> str:
        if tag not in self._tags:
            raise NotFound(f"{self.name}: tag {tag} not found in the layout's index.json")
        return self._tags[tag]

    def _manifest_bytes(self, reference: str) -> tuple[bytes, str | None, str | None]:
        digest = reference if DIGEST_RE.match(reference) else self.resolve(reference)
        return self._blob_bytes(digest), None, digest

    def _blob_bytes(self, digest: str) -> bytes:
        path = self.root / "blobs" / "sha256" / digest.partition(":")[2]
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{self.name}: blob {digest} missing from the layout") from None
