"""Fallback chains across two real upstreams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.auth import NoAuth
from pilothouse.runtime.providers.base import ModelRequest, ModelResult
from pilothouse.runtime.providers.breaker import BreakerProvider
from pilothouse.runtime.providers.chat_completions import ChatCompletionsProvider
from pilothouse.runtime.providers.fallback import FallbackProvider
from pilothouse.runtime.providers.responses_http import ResponsesHTTPProvider
from pilothouse.runtime.providers.retrying import RetryingProvider
from pilothouse.runtime.tools.clock import ManualClock
from pilothouse.testing import FakeUpstream
from tests.unit.runtime.providers.canonical import check_canonical

REQUEST = ModelRequest(
    "public-name", [{"type": "message", "role": "user", "content": "Status of INC-1?"}]
)


@pytest.fixture
def chain(
    responses: ResponsesHTTPProvider, responses_backup: ResponsesHTTPProvider
) -> FallbackProvider:
    """Primary ``gpt-primary`` on ``fake``, then ``gpt-secondary`` on ``backup``."""
    return FallbackProvider([(responses, "gpt-primary"), (responses_backup, "gpt-secondary")])


def _models(server: FakeUpstream) -> list[str]:
    return [request.body["model"] for request in server.calls()]


async def test_throttled_primary_falls_back_to_the_secondary_model(
    chain: FallbackProvider, fake: FakeUpstream, backup: FakeUpstream
) -> None:
    fake.fail(429, retry_after=20)
    result = await chain.complete(REQUEST)

    assert result.model == "gpt-secondary"
    assert result.output[0]["type"] == "message"
    assert _models(fake) == ["gpt-primary"]
    assert _models(backup) == ["gpt-secondary"]


async def test_a_healthy_primary_serves_under_its_own_name(
    chain: FallbackProvider, fake: FakeUpstream, backup: FakeUpstream
) -> None:
    result = await chain.complete(REQUEST)

    assert result.model == "gpt-primary"
    assert _models(fake) == ["gpt-primary"] and backup.requests == []


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_client_errors_do_not_fall_back(
    chain: FallbackProvider, fake: FakeUpstream, backup: FakeUpstream, status: int
) -> None:
    fake.fail(status)
    with pytest.raises(UpstreamError) as caught:
        await chain.complete(REQUEST)

    assert caught.value.status == status
    assert backup.requests == []


async def test_when_all_fail_the_last_error_is_raised(
    chain: FallbackProvider, fake: FakeUpstream, backup: FakeUpstream
) -> None:
    fake.fail(503)
    backup.fail(429, retry_after=9)
    with pytest.raises(UpstreamError) as caught:
        await chain.complete(REQUEST)

    assert (caught.value.status, caught.value.retry_after) == (429, 9)
    assert any(
        "primary (gpt-primary) failed first with HTTP 503" in n for n in caught.value.__notes__
    )


async def test_stream_falls_back_before_its_first_event(
    chain: FallbackProvider, fake: FakeUpstream, backup: FakeUpstream
) -> None:
    fake.fail(503)
    items = [item async for item in chain.stream(REQUEST)]

    result = items[-1]
    assert isinstance(result, ModelResult) and result.model == "gpt-secondary"
    events = [item for item in items if not isinstance(item, ModelResult)]
    assert check_canonical(events) == result.output
    assert _models(fake) == ["gpt-primary"] and _models(backup) == ["gpt-secondary"]


@pytest.fixture
async def local_chat(backup: FakeUpstream) -> AsyncIterator[ChatCompletionsProvider]:
    provider = ChatCompletionsProvider("local", backup.url + "/v1/chat/completions", NoAuth())
    yield provider
    await provider.aclose()


async def test_an_open_primary_circuit_goes_straight_to_a_chat_completions_backup(
    responses: ResponsesHTTPProvider,
    local_chat: ChatCompletionsProvider,
    fake: FakeUpstream,
    backup: FakeUpstream,
    clock: ManualClock,
) -> None:
    primary = RetryingProvider(
        BreakerProvider(responses, failure_threshold=2, reset_timeout_s=60, clock=clock),
        max_attempts=2,
        clock=clock,
    )
    secondary = RetryingProvider(BreakerProvider(local_chat, clock=clock), clock=clock)
    chain = FallbackProvider([(primary, "gpt-primary"), (secondary, "qwen3-8b")])
    fake.fail(500, times=2)

    first = await chain.complete(REQUEST)  # two attempts at the primary open its circuit
    second = await chain.complete(REQUEST)  # the primary is skipped without a call

    assert first.model == second.model == "qwen3-8b"
    assert len(fake.calls()) == 2
    assert [r.body["model"] for r in backup.calls("/chat/completions")] == ["qwen3-8b"] * 2
