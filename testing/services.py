"""What a test does when a real service it needs is missing."""

from __future__ import annotations

import os

import pytest


def missing_service(what: str) -> None:
    """Fail under CI (CI=true): a CI run must never pass by skipping; skip elsewhere."""
    message = f"{what} is not available; .ci/run installs and starts it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
