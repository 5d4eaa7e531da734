"""The http adapter against a real server on loopback: requests, headers, status mapping,
egress allowlist."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pilothouse.control.tool_contract import HttpBinding
from pilothouse.errors import InvalidRequest
from pilothouse.runtime.tools.base import ToolFailure
from pilothouse.runtime.tools.http import HttpAdapter
from pilothouse.runtime.tools.http_transport import parse_retry_after
from pilothouse.testing.tool_server import FaultyToolServer

from .conftest import TRACEPARENT, make_call


@pytest.fixture
async def adapters() -> AsyncIterator[list[HttpAdapter]]:
    """Adapters built by a test, closed after it."""
    built: list[HttpAdapter] = []
    yield built
    for adapter in built:
        await adapter.aclose()


def build(
    adapters: list[HttpAdapter], url: str, method: str = "POST", **binding: object
) -> HttpAdapter:
    adapter = HttpAdapter(HttpBinding(type="http", method=method, url=url, **binding))
    adapters.append(adapter)
    return adapter


async def test_get_fills_placeholders_and_sends_the_rest_as_query(
    tool_server: FaultyToolServer, adapters: list[HttpAdapter]
) -> None:
    adapter = build(adapters, tool_server.url + "/echo/tickets/{ticket_id}", "GET")
    arguments = {"ticket_id": "T-1/../admin", "verbose": True, "tags": ["a", "b"], "skip": None}
    output = await adapter.invoke(make_call("t", arguments), 5.0)
    assert output["method"] == "GET"
    assert output["query"] == {"verbose": ["true"], "tags": ["a", "b"]}
    (request,) = tool_server.requests
    assert request.path == "/echo/tickets/T-1/../admin"  # decoded by the server: one segment
    assert request.body is None


async def test_post_sends_the_arguments_left_as_a_json_body(
    tool_server: FaultyToolServer, adapters: list[HttpAdapter]
) -> None:
    adapter = build(adapters, tool_server.url + "/echo/{ticket_id}/notes")
    output = await adapter.invoke(make_call("t", {"ticket_id": "T-9", "text": "hi", "n": 2}), 5.0)
    assert output == {
        "method": "POST",
        "path": "/echo/T-9/notes",
        "query": {},
        "body": {"text": "hi", "n": 2},
    }


async def test_correlation_idempotency_and_secret_headers_arrive(
    tool_server: FaultyToolServer, adapters: list[HttpAdapter], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESK_TOKEN", "Bearer s3cret")
    monkeypatch.setenv("DESK_PORT", str(tool_server.port))
    adapter = build(
        adapters,
        "http://127.0.0.1:${DESK_PORT}/notes",
        headers={"Authorization": "env:DESK_TOKEN", "X-Team": "network"},
    )
    await adapter.invoke(make_call("t", {"text": "hello"}, key="run_1:2:0"), 5.0)
    headers = tool_server.requests[0].headers
    assert headers["idempotency-key"] == "run_1:2:0"
    assert headers["traceparent"] == TRACEPARENT
    assert headers["x-pilothouse-run-id"] == "run_1"
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["x-team"] == "network"
    assert headers["content-type"] == "application/json"


def test_an_unset_secret_fails_when_the_adapter_is_built() -> None:
    with pytest.raises(InvalidRequest, match="PILOTHOUSE_NO_SUCH_VAR"):
        HttpAdapter(
            HttpBinding(
                type="http", url="http://127.0.0.1/x", headers={"A": "env:PILOTHOUSE_NO_SUCH_VAR"}
            )
        )


@pytest.mark.parametrize(
    ("status", "retryable", "retry_after"),
    [(503, True, 2.5), (500, True, None), (429, True, 1.0), (400, False, None), (409, False, None)],
)
async def test_status_codes_map_to_failures(
    tool_server: FaultyToolServer,
    adapters: list[HttpAdapter],
    status: int,
    retryable: bool,
    retry_after: float | None,
) -> None:
    tool_server.fail("status", status=status, retry_after=retry_after, message="the desk says no")
    adapter = build(adapters, tool_server.url + "/notes")
    with pytest.raises(ToolFailure) as caught:
        await adapter.invoke(make_call("t", {"text": "x"}), 5.0)
    failure = caught.value
    assert (failure.code, failure.retryable, failure.retry_after) == (
        f"http_{status}",
        retryable,
        retry_after if retryable else None,
    )
    assert "the desk says no" in failure.message


async def test_a_4xx_carries_the_body_message(
    tool_server: FaultyToolServer, adapters: list[HttpAdapter]
) -> None:
    adapter = build(adapters, tool_server.url + "/tickets/{ticket_id}", "GET")
    with pytest.raises(ToolFailure) as caught:
        await adapter.invoke(make_call("t", {"ticket_id": "missing"}), 5.0)
    assert caught.value.code == "http_404" and "no such ticket" in caught.value.message


async def test_a_non_json_answer_is_invalid_output(
    tool_server: FaultyToolServer, adapters: list[HttpAdapter]
) -> None:
    adapter = build(adapters, tool_server.url + "/text", "GET")
    with pytest.raises(ToolFailure) as caught:
        await adapter.invoke(make_call("t", {}), 5.0)
    assert (caught.value.code, caught.value.retryable) == ("invalid_output", False)


async def test_resets_and_refused_connections_are_retryable(
    tool_server: FaultyToolServer, adapters: list[HttpAdapter]
) -> None:
    tool_server.fail("reset")
    adapter = build(adapters, tool_server.url + "/notes")
    with pytest.raises(ToolFailure) as caught:
        await adapter.invoke(make_call("t", {"text": "x"}), 5.0)
    assert (caught.value.code, caught.value.retryable) == ("connection_error", True)
    closed = build(adapters, "http://127.0.0.1:9/notes")  # the discard port: nothing listens
    with pytest.raises(ToolFailure) as caught:
        await closed.invoke(make_call("t", {"text": "x"}), 5.0)
    assert (caught.value.code, caught.value.retryable) == ("connection_error", True)


async def test_the_egress_allowlist_refuses_other_hosts_without_sending(
    tool_server: FaultyToolServer, adapters: list[HttpAdapter]
) -> None:
    allowed = build(adapters, tool_server.url + "/echo", egress=["127.0.0.*"])
    assert (await allowed.invoke(make_call("t", {}), 5.0))["method"] == "POST"
    pinned = build(adapters, "http://{host}/echo", egress=[f"127.0.0.1:{tool_server.port}"])
    with pytest.raises(ToolFailure) as caught:
        await pinned.invoke(make_call("t", {"host": "localhost"}), 5.0)
    assert (caught.value.code, caught.value.retryable) == ("egress_denied", False)
    assert len(tool_server.requests) == 1


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None
