"""The per-provider circuit breaker against a real upstream that fails on purpose."""

from __future__ import annotations

import pytest

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.base import ModelRequest, ModelResult
from pilothouse.runtime.providers.breaker import BreakerProvider
from pilothouse.runtime.providers.responses_http import ResponsesHTTPProvider
from pilothouse.runtime.providers.retrying import RetryingProvider
from pilothouse.runtime.providers.stream_start import aclose_stream
from pilothouse.runtime.tools.clock import ManualClock
from pilothouse.testing import FakeUpstream

REQUEST = ModelRequest(
    "gpt-test", [{"type": "message", "role": "user", "content": "Status of INC-1?"}]
)


def _state(breaker: BreakerProvider) -> str:
    """The circuit's state, read afresh (not narrowed by earlier assertions)."""
    return breaker.state


async def _fail_times(breaker: BreakerProvider, times: int) -> None:
    for _ in range(times):
        with pytest.raises(UpstreamError):
            await breaker.complete(REQUEST)


async def test_opens_after_consecutive_failures_and_stops_calling(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    breaker = BreakerProvider(responses, failure_threshold=3, reset_timeout_s=30, clock=clock)
    fake.fail(503, times=3)
    await _fail_times(breaker, 3)
    assert _state(breaker) == "open"

    for _ in range(5):
        with pytest.raises(UpstreamError) as caught:
            await breaker.complete(REQUEST)
        assert (caught.value.status, caught.value.code) == (503, "provider_unavailable")
    with pytest.raises(UpstreamError):
        await anext(breaker.stream(REQUEST))
    assert len(fake.calls()) == 3  # nothing reached the upstream while open

    clock.advance(10)
    with pytest.raises(UpstreamError) as caught:
        await breaker.complete(REQUEST)
    assert caught.value.retry_after == pytest.approx(20)


async def test_half_opens_after_the_timeout_and_a_good_probe_closes_it(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    breaker = BreakerProvider(responses, failure_threshold=2, reset_timeout_s=30, clock=clock)
    fake.fail(500, times=2)
    await _fail_times(breaker, 2)

    clock.advance(30)
    assert _state(breaker) == "half_open"
    result = await breaker.complete(REQUEST)  # the probe, which the healthy upstream answers

    assert result.status == "completed"
    assert _state(breaker) == "closed"
    await breaker.complete(REQUEST)
    assert len(fake.calls()) == 4


async def test_a_failed_probe_opens_it_again(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    breaker = BreakerProvider(responses, failure_threshold=2, reset_timeout_s=30, clock=clock)
    fake.fail(502, times=3)
    await _fail_times(breaker, 2)
    clock.advance(30)

    await _fail_times(breaker, 1)  # the probe fails
    assert _state(breaker) == "open"
    with pytest.raises(UpstreamError) as caught:
        await breaker.complete(REQUEST)
    assert caught.value.code == "provider_unavailable"
    assert caught.value.retry_after == pytest.approx(30)
    assert len(fake.calls()) == 3


async def test_client_errors_do_not_count(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    breaker = BreakerProvider(responses, failure_threshold=2, reset_timeout_s=30, clock=clock)
    fake.fail(503)
    fake.fail(400, times=3)
    fake.fail(503)
    await _fail_times(breaker, 5)

    assert _state(breaker) == "closed"  # the 400s in between reset the count
    assert len(fake.calls()) == 5


async def test_a_completed_stream_closes_a_half_open_circuit(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    breaker = BreakerProvider(responses, failure_threshold=1, reset_timeout_s=5, clock=clock)
    fake.fail(504)
    await _fail_times(breaker, 1)
    clock.advance(5)

    items = [item async for item in breaker.stream(REQUEST)]
    assert isinstance(items[-1], ModelResult)
    assert _state(breaker) == "closed"


async def test_an_abandoned_probe_stream_frees_the_probe(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    breaker = BreakerProvider(responses, failure_threshold=1, reset_timeout_s=5, clock=clock)
    fake.fail(503)
    await _fail_times(breaker, 1)
    clock.advance(5)

    probe = breaker.stream(REQUEST)
    await anext(probe)
    with pytest.raises(UpstreamError):  # one probe at a time
        await breaker.complete(REQUEST)
    await aclose_stream(probe)  # the consumer walks away before the result

    assert _state(breaker) == "half_open"  # no verdict, and the slot is free again
    await breaker.complete(REQUEST)
    assert _state(breaker) == "closed"


async def test_an_open_circuit_ends_retries_at_once(
    responses: ResponsesHTTPProvider, fake: FakeUpstream, clock: ManualClock
) -> None:
    breaker = BreakerProvider(responses, failure_threshold=2, reset_timeout_s=30, clock=clock)
    retrying = RetryingProvider(breaker, max_attempts=5, clock=clock)
    fake.fail(503, times=10)

    with pytest.raises(UpstreamError) as caught:
        await retrying.complete(REQUEST)

    assert caught.value.code == "provider_unavailable"
    assert len(fake.calls()) == 2  # two attempts opened the circuit; the third was refused
    assert len(clock.sleeps) == 2
