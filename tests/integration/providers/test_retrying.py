"""Retries of model calls against a real upstream that fails on purpose."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.base import ModelProvider, ModelRequest, ModelResult, StreamEvent
from pilothouse.runtime.providers.chat_completions import ChatCompletionsProvider
from pilothouse.runtime.providers.responses_http import ResponsesHTTPProvider
from pilothouse.runtime.providers.retrying import RetryingProvider
from pilothouse.runtime.tools.clock import ManualClock
from pilothouse.testing import FakeUpstream

REQUEST = ModelRequest(
    "gpt-test", [{"type": "message", "role": "user", "content": "Status of INC-1?"}]
)


def _retrying(inner: ModelProvider, clock: ManualClock, **kwargs: Any) -> RetryingProvider:
    return RetryingProvider(inner, base_s=0.5, cap_s=4.0, clock=clock, **kwargs)


async def test_retry_after_is_honoured(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    fake.fail(429, retry_after=6)
    result = await _retrying(responses, clock).complete(REQUEST)

    assert result.output[0]["type"] == "message"
    assert len(fake.calls()) == 2
    [wait] = clock.sleeps
    assert wait >= 6.0  # at least what the upstream asked, though the jitter cap is 4 s


async def test_a_retry_after_beyond_the_limit_is_not_waited_for(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    fake.fail(429, retry_after=300)
    with pytest.raises(UpstreamError) as caught:
        await _retrying(responses, clock, max_retry_after_s=60).complete(REQUEST)

    assert (caught.value.status, caught.value.retry_after) == (429, 300)
    assert len(fake.calls()) == 1 and clock.sleeps == []


async def test_two_503s_then_success_takes_three_calls_with_jittered_waits(
    chat: ChatCompletionsProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    fake.fail(503, times=2)
    result = await _retrying(chat, clock).complete(REQUEST)

    assert result.status == "completed"
    assert len(fake.calls("/chat/completions")) == 3
    first, second = clock.sleeps
    assert 0 <= first <= 0.5 and 0 <= second <= 1.0  # full jitter in [0, base * 2**n]


async def test_a_400_is_not_retried(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    fake.fail(400, message="bad input")
    with pytest.raises(UpstreamError) as caught:
        await _retrying(responses, clock).complete(REQUEST)

    assert caught.value.status == 400
    assert len(fake.calls()) == 1 and clock.sleeps == []


async def test_attempts_are_bounded(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    fake.fail(500, times=10)
    with pytest.raises(UpstreamError) as caught:
        await _retrying(responses, clock, max_attempts=4).complete(REQUEST)

    assert caught.value.status == 500
    assert len(fake.calls()) == 4 and len(clock.sleeps) == 3
    assert all(0 <= wait <= 4.0 for wait in clock.sleeps)


async def test_a_stream_is_retried_before_its_first_event(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    fake.fail(502)
    items = [item async for item in _retrying(responses, clock).stream(REQUEST)]

    assert items[0]["type"] == "response.output_item.added"  # type: ignore[index]
    assert isinstance(items[-1], ModelResult) and items[-1].status == "completed"
    assert len(fake.calls()) == 2 and len(clock.sleeps) == 1


class _DropsMidStream:
    """A real provider whose connection drops after the first event (the fake server always
    finishes its streams, so the drop is staged here)."""

    def __init__(self, inner: ModelProvider) -> None:
        self.name = inner.name
        self.inner = inner

    async def complete(self, request: ModelRequest) -> ModelResult:
        return await self.inner.complete(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        async for item in self.inner.stream(request):
            yield item
            raise UpstreamError("connection reset", status=502, code="upstream_unreachable")

    async def count_input_tokens(self, request: ModelRequest) -> int:
        return await self.inner.count_input_tokens(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_stream_is_not_retried_after_its_first_event(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    seen: list[StreamEvent | ModelResult] = []
    with pytest.raises(UpstreamError) as caught:
        async for item in _retrying(_DropsMidStream(responses), clock).stream(REQUEST):
            seen.append(item)

    assert caught.value.code == "upstream_unreachable"
    assert len(seen) == 1 and len(fake.calls()) == 1 and clock.sleeps == []
