"""The one way pinbot makes an HTTP session: bounded retries that honour Retry-After (capped),
and environment settings read once.

Used by the registry client, the SDK's GitHub contents client and the probe's API clients.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

MAX_RETRY_AFTER = 30.0
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)


class CappedRetry(Retry):
    """urllib3 Retry with a capped Retry-After: a server asking for an hour cannot hang us."""

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, MAX_RETRY_AFTER)


def session(
    base_url: str,
    *,
    retries: int = 4,
    read: int = 2,
    backoff: float = 0.3,
    methods: Collection[str] = ("GET", "HEAD"),
    pool: int = 10,
) -> requests.Session:
    """A session for `base_url`: idempotent `methods` retry on connection errors, 408, 429, 5xx."""
    retry = CappedRetry(
        total=retries,
        connect=retries,
        read=read,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset(methods),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    http = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=pool)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    # requests re-reads proxy settings from the whole environment on every request, a
    # millisecond each on a CI runner; a scan makes hundreds. Read them once, for this server
    # (HTTPS_PROXY/NO_PROXY still apply), with the CA bundle variables requests would honour.
    http.trust_env = False
    http.proxies = requests.utils.get_environ_proxies(base_url)
    http.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return http
