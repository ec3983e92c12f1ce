"""Git: every git operation pinbot does, one module per thing it talks to git about.

- `runner`: the one runner (`run`) and its environment; every other module goes through it.
- `credentials`: a secret for one origin, handed to git only through its environment.
- `sources`: a repository as the user names it (path or URL), checked before git starts.
- `history`: first-parent logs with trailers, a tree's lock files, the pin files' history.
- `catfile`: objects by name through one long-lived `git cat-file --batch`.
- `reader`: `InPlace` reads a repository where it is, or a blobless mirror of a URL (the gate).
- `clone`: `Clone`, the cut's bare temporary repository: fetch, build commits, push.
- `sdk`: "is this file in the SDK at that sha", from a clone or a mirror (`--sdk`).

Import from the submodule that holds a thing; this package re-exports nothing.
"""
