"""Fake upstreams on loopback and the providers that talk to them.

Each test gets its own servers (so faults and recorded requests never leak between
tests), and every provider a fixture builds is closed before its server stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pilothouse.runtime.providers.auth import BearerAuth, NoAuth
from pilothouse.runtime.providers.chat_completions import ChatCompletionsProvider
from pilothouse.runtime.providers.responses_http import ResponsesHTTPProvider
from pilothouse.runtime.tools.clock import ManualClock
from pilothouse.testing import FakeUpstream


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    """A fake upstream (Responses and Chat Completions) on a free loopback port."""
    server = await FakeUpstream().start()
    yield server
    await server.stop()


@pytest.fixture
async def backup() -> AsyncIterator[FakeUpstream]:
    """A second, independent fake upstream (a fallback's secondary)."""
    server = await FakeUpstream().start()
    yield server
    await server.stop()


@pytest.fixture
async def chat(fake: FakeUpstream) -> AsyncIterator[ChatCompletionsProvider]:
    """The Chat Completions bridge pointed at ``fake``, with a key and a custom header."""
    provider = ChatCompletionsProvider(
        "local-vllm",
        fake.url + "/v1/chat/completions",
        BearerAuth("sk-local"),
        headers={"X-Team": "service-desk"},
        timeout_s=10,
    )
    yield provider
    await provider.aclose()


@pytest.fixture
async def responses(fake: FakeUpstream) -> AsyncIterator[ResponsesHTTPProvider]:
    """A Responses provider pointed at ``fake``."""
    provider = ResponsesHTTPProvider("primary", fake.url + "/v1/responses", NoAuth(), timeout_s=10)
    yield provider
    await provider.aclose()


@pytest.fixture
async def responses_backup(backup: FakeUpstream) -> AsyncIterator[ResponsesHTTPProvider]:
    """A Responses provider pointed at ``backup``."""
    provider = ResponsesHTTPProvider(
        "secondary", backup.url + "/v1/responses", NoAuth(), timeout_s=10
    )
    yield provider
    await provider.aclose()


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock for waits and reset timeouts."""
    return ManualClock()
