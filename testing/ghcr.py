"""A registry that lists tags the way ghcr.io does, in front of a real Distribution registry.

ghcr pages `tags/list` 100 at a time unless asked for more (it honours a larger `n`), names the
next page with a relative `Link: </v2/...?last=TAG&n=N>; rel="next"`, and does not list tags
newest first. `GhcrLike` does the same over the upstream repository's tags plus
`extra` ones (each an alias of a tag upstream has, so every listed tag resolves): how the
benchmark stands for ghcr's agent-server repository, whose list runs to thousands of tags.
`max_page` caps a page whatever `n` asks (100: a registry that ignores a larger `n`).
Everything else is forwarded, with the latency of a LatencyProxy.
"""

from __future__ import annotations

import bisect
import http.client
import json
import re
import urllib.parse
from collections.abc import Mapping

from testing.proxy import Answer, LatencyProxy

PAGE = 100  # ghcr's page when the client names none
MAX_PAGE = 10_000  # the most one page holds, however many are asked for
_TAGS = re.compile(r"/v2/(?P<repo>.+)/tags/list\Z")
_MANIFEST = re.compile(r"/v2/(?P<repo>.+)/manifests/(?P<ref>[^/]+)\Z")


class GhcrLike(LatencyProxy):
    def __init__(
        self,
        upstream: str,
        delay: float = 0.0,
        extra: Mapping[str, Mapping[str, str]] | None = None,
        remember: bool = False,
    ) -> None:
        super().__init__(upstream, delay, remember)
        # repository -> {listed tag: the upstream tag it names}
        self.extra = {repo: dict(aliases) for repo, aliases in (extra or {}).items()}
        self.max_page = MAX_PAGE
        self._listing: dict[str, list[str]] = {}  # repository -> the walk under way, sorted

    def local(self, method: str, path: str) -> Answer | None:
        url = urllib.parse.urlsplit(path)
        match = _TAGS.match(url.path)
        if method != "GET" or match is None:
            return None
        query = urllib.parse.parse_qs(url.query)
        size = min(self.max_page, max(1, int(query.get("n", [PAGE])[0])))
        last = query.get("last", [""])[0]
        repo = match["repo"]
        if not last or repo not in self._listing:  # a new walk: read upstream afresh
            self._listing[repo] = sorted({*self._upstream_tags(repo), *self.extra.get(repo, {})})
        every = self._listing[repo]
        rest = every[bisect.bisect_right(every, last) :]
        page, more = rest[:size], len(rest) > size
        headers = [("Content-Type", "application/json")]
        if more:
            next_query = urllib.parse.urlencode({"last": page[-1], "n": size})
            headers.append(("Link", f'</v2/{repo}/tags/list?{next_query}>; rel="next"'))
        return 200, headers, json.dumps({"name": repo, "tags": page}).encode()

    def upstream_path(self, path: str) -> str:
        match = _MANIFEST.match(path)
        if match and (target := self.extra.get(match["repo"], {}).get(match["ref"])):
            return f"/v2/{match['repo']}/manifests/{target}"
        return path

    def _upstream_tags(self, repo: str) -> list[str]:
        """Every tag upstream has (a Distribution registry lists them all when asked for no
        page), read afresh for each listing so that tags pushed meanwhile appear."""
        connection = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            connection.request("GET", f"/v2/{repo}/tags/list")
            answer = connection.getresponse()
            data = json.loads(answer.read()) if answer.status == 200 else {}
        finally:
            connection.close()
        return list(data.get("tags") or [])
