"""Fixtures for end-to-end tests that read the wire directly."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest

from pilothouse.testing import ServerThread


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    """A raw HTTP client on the server's root URL."""
    with httpx.Client(base_url=server.root_url, timeout=30) as client:
        yield client
