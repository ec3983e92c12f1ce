"""GitHub: every GitHub API call pinbot makes, one module per question it asks.

- `client`: the PyGithub client (`Forge`): the API base, the token, GitHub's failures worded once.
- `pulls`: the pull requests of a cut (idempotent, cross-linked) and the commits a PR carries.
- `reader`: a repository read through the API (the gate's answers without a clone).
- `contents`: without `--sdk`, "is the route file at that sha" through the contents API.

Import from the submodule that holds a thing; this package re-exports nothing.
"""
