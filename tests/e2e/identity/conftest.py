"""Keys for identity tests, minted through the admin API with the bootstrap key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from pilothouse.testing import ServerThread

MakeKey = Callable[..., dict[str, Any]]


@pytest.fixture
def make_key(http: httpx.Client) -> MakeKey:
    """``make_key(tenant, *roles, **body)`` → the created key's JSON (with ``key``)."""

    def make(tenant: str, *roles: str, **body: Any) -> dict[str, Any]:
        answer = http.post("/admin/v1/keys", json={"tenant": tenant, "roles": list(roles), **body})
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    return make


@pytest.fixture
def sdk_for(server: ServerThread) -> Iterator[Callable[[str], openai.OpenAI]]:
    """An SDK client per key (closed at the end of the test)."""
    opened: list[openai.OpenAI] = []

    def make(key: str) -> openai.OpenAI:
        client = openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


def raw_for(server: ServerThread, key: str) -> httpx.Client:
    """Raw HTTP with ``key``."""
    return httpx.Client(
        base_url=server.root_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
