"""Which upstream failures the retry, breaker and fallback wrappers treat as transient."""

from __future__ import annotations

import pytest

from pilothouse.errors import InvalidRequest, UpstreamError
from pilothouse.runtime.providers.transient import is_circuit_open, is_transient


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_throttling_timeouts_and_server_errors_are_transient(status: int) -> None:
    assert is_transient(UpstreamError("x", status=status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422, 501, 505])
def test_request_faults_and_permanent_server_answers_are_not(status: int) -> None:
    assert not is_transient(UpstreamError("x", status=status))


def test_connection_failures_are_transient_and_other_errors_are_not() -> None:
    assert is_transient(UpstreamError("down", status=502, code="upstream_unreachable"))
    assert is_transient(UpstreamError("slow", status=504, code="upstream_timeout"))
    assert not is_transient(TimeoutError())  # the caller's own deadline, not the upstream's
    assert not is_transient(InvalidRequest("bad"))


def test_an_open_circuit_is_transient_but_recognisable() -> None:
    refusal = UpstreamError("open", status=503, code="provider_unavailable", retry_after=12)
    assert is_transient(refusal) and is_circuit_open(refusal)
    assert not is_circuit_open(UpstreamError("busy", status=503))
