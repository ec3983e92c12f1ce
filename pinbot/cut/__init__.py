"""`pinbot cut` in three steps: read the facts once, build the plan (data), apply it.

`facts` reads both repositories (temporary clones) and the image; `plan` turns the facts into
every file edit, the lock command, the commit messages and the PRs, touching nothing; `apply`
runs the lock tool, builds the commits, pushes and opens the PRs. `--dry-run` prints the plan.
"""
