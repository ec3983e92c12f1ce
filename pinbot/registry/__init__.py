"""Images in OCI distribution registries and OCI image layouts, trusting nothing: `documents`
(manifests, indexes, config blobs, checked), `transport` (the registry's HTTP API and its
credentials), `layouts` (an image layout on disk), `sources` (which of the two a name reads)."""
