"""Fixtures for end-to-end tests that read the wire directly."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2 as httpx
import pytest

from pilothouse.testing import ServerThread
from tests.conftest import auth_headers


@pytest.fixture
def http(server: ServerThread) -> Iterator[httpx.Client]:
    """A raw HTTP client on the server's root URL."""
    with httpx.Client(headers=auth_headers(), base_url=server.root_url, timeout=30) as client:
        yield client
