"""History as git logs it: a branch's first-parent commits with their trailers, the lock files
in a tree, and the pin files' own history (rollback holds, pinbot/holds.py). Trees only: a
blobless mirror fetches nothing to answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pinbot.commits import CommitInfo, lock_paths, short
from pinbot.errors import ExternalError
from pinbot.git.credentials import Credential
from pinbot.git.runner import last_line, run, run_text

_FIELD, _RECORD = "\x1f", "\x1e"
_LOG_FORMAT = _FIELD.join(("%H", "%an <%ae>", "%s", "%(trailers:only,unfold)")) + _RECORD


def lock_files(git_dir: Path, commit: str, where: str, credential: Credential | None) -> list[str]:
    """Every `poetry.lock` and `uv.lock` in the tree at `commit` (names only: no blob read)."""
    args = ("ls-tree", "-r", "-z", "--name-only", "--end-of-options", commit)
    status, out, err = run_text(git_dir, *args, credential=credential)
    if status != 0:
        raise ExternalError(f"git ls-tree {short(commit)} in {where} failed: {last_line(err)}")
    return lock_paths(out.split("\0"))


def first_parent_log(
    git_dir: Path, revisions: str, where: str, credential: Credential | None, limit: int | None
) -> list[CommitInfo]:
    """The first-parent commits `revisions` names, newest first, with their trailers."""
    args = ["log", f"--format={_LOG_FORMAT}", "--first-parent", *([f"-n{limit}"] if limit else [])]
    status, out, err = run_text(
        git_dir, *args, "--end-of-options", revisions, credential=credential
    )
    if status != 0:
        raise ExternalError(f"git log {revisions} in {where} failed: {last_line(err)}")
    return [_commit_info(record) for record in out.split(_RECORD) if record.strip()]


def _commit_info(record: str) -> CommitInfo:
    sha, author, subject, block = record.strip("\n").split(_FIELD)
    found: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            found[key] = value.strip()
    return CommitInfo(sha, author, subject, found)


_REGULAR_MODES = ("100644", "100755")


@dataclass(frozen=True)
class Touched:
    """A first-parent commit that changed a pin file, and each pin file's blob after it (a file
    that is absent, a symlink or a submodule there is left out): holds.Touched."""

    commit: str
    blobs: Mapping[str, str]


def pin_file_history(
    git_dir: Path, tip: str, paths: Sequence[str], credential: Credential | None = None
) -> list[Touched]:
    """Every first-parent commit of `tip` that changed one of `paths`, oldest first, however
    long the branch is: `git log --first-parent --raw -- PATHS` (trees only, so a blobless
    mirror fetches nothing). The branch's own line: a merged side branch counts by what its
    merge changed."""
    args = ["log", "--first-parent", "--reverse", "--raw", "--no-abbrev", "--no-renames"]
    args += ["--diff-merges=first-parent", f"--format={_RECORD}%H", "--end-of-options", tip]
    done = run(git_dir, [*args, "--", *paths], credential=credential)
    if done.returncode != 0:
        raise ExternalError(f"git log {short(tip)} in {git_dir} failed: {last_line(done.stderr)}")
    current: dict[str, str] = {}
    history = []
    for record in done.stdout.decode("utf-8", "replace").split(_RECORD)[1:]:
        commit, *lines = record.strip("\n").split("\n")
        for line in lines:
            _apply_raw(current, line)
        history.append(Touched(commit.strip(), dict(current)))
    return history


def _apply_raw(blobs: dict[str, str], line: str) -> None:
    """One `--raw` line (`:old new oldid newid STATUS\tpath`) applied to path -> blob."""
    fields, _, path = line.partition("\t")
    parts = fields.split()
    if len(parts) != 5 or not path:
        return
    mode, blob = parts[1], parts[3]
    if parts[4] == "D" or mode not in _REGULAR_MODES:
        blobs.pop(path, None)
    else:
        blobs[path] = blob
