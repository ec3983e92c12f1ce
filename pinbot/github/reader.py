"""A GitHub repository read through the API (commits, contents at a ref, compare): the gate's
answers without a clone, the same questions `pinbot.git.reader.RepoReader` asks of a clone.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from pinbot.commits import (
    CommitInfo,
    GitHubRepo,
    lock_paths,
    parse_trailers,
    refuse_submodule,
    refuse_symlink,
)
from pinbot.github.client import Forge


class GitHubReader:
    """A GitHub repository read through the API (commits, contents at a ref, compare): the
    gate's answers without a clone. Implements pinbot.git.reader.RepoReader."""

    def __init__(self, forge: Forge, repo: GitHubRepo) -> None:
        self.forge = forge
        self.repo = repo
        self.where = f"github.com/{repo.full_name}"

    def resolve(self, ref: str | None) -> str | None:
        # GitHub resolves HEAD to the default branch, as a clone's HEAD would. PyGithub's
        # get_commit is lazy and would echo the ref back as its sha: raw_data completes it.
        target = ref or "HEAD"
        found = self._maybe(
            f"reading commit {target}", lambda: self._repo().get_commit(target).raw_data
        )
        return None if found is None else str(found["sha"])

    def has_commit(self, sha: str) -> bool:
        return self.resolve(sha) == sha

    def read(self, commit: str, path: str) -> bytes | None:
        found = self._maybe(
            f"reading {path} at {commit[:12]}", lambda: self._repo().get_contents(path, ref=commit)
        )
        if found is None or isinstance(found, list):
            return None
        # GitHub answers a symlink to a file in the tree with that file (its own `path`), any
        # other symlink as `type: symlink`, a submodule as `type: submodule`: none is a pin site.
        if found.type == "symlink" or (found.type == "file" and found.path != path):
            raise refuse_symlink(path, commit, self.where)
        if found.type == "submodule":
            raise refuse_submodule(path, commit, self.where)
        if found.type != "file":
            return None
        return bytes(found.decoded_content)

    def lock_files(self, commit: str) -> list[str]:
        """Every `poetry.lock` and `uv.lock` in the tree at `commit` (one recursive tree read)."""
        tree = self.forge.call(
            f"listing the files of {self.where} at {commit[:12]}",
            lambda: self._repo().get_git_tree(commit, recursive=True).tree,
        )
        return lock_paths(e.path for e in tree if e.type == "blob")

    def contains(self, tip: str, sha: str) -> bool:
        compared = self._maybe(
            f"comparing {sha[:12]} with {tip[:12]}", lambda: self._repo().compare(sha, tip).status
        )
        return compared in ("ahead", "identical")

    def first_parents(self, tip: str, limit: int) -> list[CommitInfo]:
        """One page of history from `tip`, walked along first parents (the page is in date
        order and may interleave merged branches, so the walk follows parent links)."""
        page = self.forge.call(
            f"listing the commits of {self.where} from {tip[:12]}",
            lambda: list(islice(self._repo().get_commits(sha=tip), limit)),
        )
        by_sha = {c.sha: c for c in page}
        walked: list[CommitInfo] = []
        current = by_sha.get(tip)
        while current is not None and len(walked) < limit:
            walked.append(_commit_info(current))
            parents = current.parents
            current = by_sha.get(parents[0].sha) if parents else None
        return walked

    def _repo(self) -> Any:
        return self.forge.repo(self.repo)

    def _maybe(self, what: str, action: Any) -> Any:
        """The answer, or None when GitHub says there is no such thing (404, 422)."""
        from github import GithubException

        def attempt() -> Any:
            try:
                return action()
            except GithubException as exc:
                if exc.status in (404, 422):
                    return None
                raise

        return self.forge.call(f"{what} in {self.where}", attempt)


def _commit_info(commit: Any) -> CommitInfo:
    message = str(commit.commit.message or "")
    author = commit.commit.author
    who = f"{author.name} <{author.email}>" if author else "unknown"
    return CommitInfo(str(commit.sha), who, message.split("\n", 1)[0], parse_trailers(message))
