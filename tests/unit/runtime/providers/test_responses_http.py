"""``ResponsesHTTPProvider`` against a raw loopback server that sends exact bytes: header
merging on the wire, SSE framing the fake upstream never produces, and error mapping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import orjson
import pytest

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.auth import BearerAuth, NoAuth
from pilothouse.runtime.providers.base import ModelRequest, ModelResult, StreamEvent
from pilothouse.runtime.providers.responses_http import (
    ResponsesHTTPProvider,
    _error_from,
    _retry_after,
)
from tests.unit.runtime.http.raw_server import RawServer, Received, reply

COMPLETED: dict[str, Any] = {"status": "completed", "output": [], "usage": None, "model": "m"}


class RawUpstream:
    """Answers every request with ``reply`` (written in ``chunk``-byte pieces) and keeps
    each request's head as received."""

    def __init__(self, reply: bytes, chunk: int = 1 << 20) -> None:
        self.reply = reply
        self.chunk = chunk
        self.heads: list[bytes] = []
        self.url = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        for start in range(0, len(self.reply), self.chunk):
            writer.write(self.reply[start : start + self.chunk])
            await writer.drain()
        writer.close()

    async def __aenter__(self) -> RawUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1/responses"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    def header_lines(self, name: str) -> list[str]:
        """Values of every ``name`` header line in the last request."""
        prefix = name.lower().encode() + b":"
        lines = self.heads[-1].split(b"\r\n")
        return [
            ln.split(b":", 1)[1].strip().decode() for ln in lines if ln.lower().startswith(prefix)
        ]


def http_reply(
    body: bytes, status: str = "200 OK", content_type: str = "application/json", extra: str = ""
) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
        f"connection: close\r\n{extra}\r\n"
    )
    return head.encode() + body


def sse_reply(frames: bytes) -> bytes:
    """An SSE response over ``frames``, closed at the end."""
    return http_reply(frames, content_type="text/event-stream")


def frame(event: dict[str, object], newline: bytes = b"\n") -> bytes:
    """One event as ``data: <json>`` plus the blank line."""
    return b"data: " + orjson.dumps(event) + newline + newline


async def collect(provider: ResponsesHTTPProvider) -> list[StreamEvent | ModelResult]:
    """Everything ``stream`` yields for a trivial request."""
    events: AsyncIterator[StreamEvent | ModelResult] = provider.stream(
        ModelRequest(model="m", input=[])
    )
    return [event async for event in events]


async def test_headers_merge_by_name_on_the_wire() -> None:
    async with RawUpstream(http_reply(orjson.dumps(COMPLETED))) as upstream:
        provider = ResponsesHTTPProvider(
            "p",
            upstream.url,
            BearerAuth("sk-real"),
            headers={"Authorization": "Bearer from-config", "X-Request-ID": "cfg", "X-A": "1"},
        )
        request = ModelRequest(
            model="m", input=[], headers={"x-request-id": "req-1", "traceparent": ""}
        )
        result = await provider.complete(request)
        await provider.aclose()

    assert result.status == "completed"
    assert upstream.header_lines("authorization") == ["Bearer sk-real"]
    assert upstream.header_lines("x-request-id") == ["req-1"]
    assert upstream.header_lines("x-a") == ["1"]
    assert upstream.header_lines("content-type") == ["application/json"]
    assert upstream.header_lines("traceparent") == []  # empty correlation values are dropped


async def test_a_model_call_crossing_a_keep_alive_close_is_sent_again_at_once() -> None:
    """The server closes its idle connection as the second call goes out (uvicorn's 5 s
    keep-alive under sparse traffic): the call is sent again on a new connection, with no
    error for the retry layer to wait out."""
    answered = orjson.dumps(COMPLETED)

    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        if request.connection == 1 and len(server.received) == 2:
            return False  # the close crosses the request: not a byte answered
        writer.write(reply(answered, headers="content-type: application/json\r\n"))
        return True

    async with RawServer(handler) as server:
        provider = ResponsesHTTPProvider("up", server.url + "/v1/responses", NoAuth())
        try:
            results = [await provider.complete(ModelRequest(model="m", input=[])) for _ in "ab"]
        finally:
            await provider.aclose()
    assert [result.status for result in results] == ["completed", "completed"]
    assert (server.connections, len(server.received)) == (2, 3)


async def test_stream_in_tiny_crlf_chunks_with_comments() -> None:
    delta = {"type": "response.output_text.delta", "delta": "hi", "sequence_number": 3}
    frames = (
        b": keep-alive\r\n\r\n"
        + frame({"type": "response.created", "response": {}}, b"\r\n")
        + frame(delta, b"\r\n")
        + frame({"type": "response.completed", "response": COMPLETED}, b"\r\n")
    )
    async with RawUpstream(sse_reply(frames), chunk=7) as upstream:
        provider = ResponsesHTTPProvider("p", upstream.url, NoAuth())
        events = await collect(provider)
        await provider.aclose()

    assert events[0] == {"type": "response.output_text.delta", "delta": "hi"}
    assert isinstance(events[1], ModelResult)
    assert events[1].status == "completed"
    assert len(events) == 2


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        pytest.param(b"data: {not json\n\n", "upstream_bad_response", id="not-json"),
        pytest.param(
            frame({"type": "response.created", "response": {}}),
            "upstream_stream_truncated",
            id="no-terminal-event",
        ),
        pytest.param(
            frame({"type": "error", "error": {"code": "overloaded", "message": "m"}}),
            "overloaded",
            id="error-event",
        ),
    ],
)
async def test_stream_failures_are_upstream_errors(frames: bytes, code: str) -> None:
    async with RawUpstream(sse_reply(frames)) as upstream:
        provider = ResponsesHTTPProvider("p", upstream.url, NoAuth())
        with pytest.raises(UpstreamError) as caught:
            await collect(provider)
        await provider.aclose()
    assert caught.value.code == code


async def test_stream_refused_at_once_keeps_status_and_retry_after() -> None:
    error = {"error": {"message": "slow down", "type": "rate_limit_error", "code": None}}
    reply = http_reply(
        orjson.dumps(error), "429 Too Many Requests", extra="retry-after-ms: 1500\r\n"
    )
    async with RawUpstream(reply) as upstream:
        provider = ResponsesHTTPProvider("p", upstream.url, NoAuth())
        with pytest.raises(UpstreamError) as caught:
            await collect(provider)
        await provider.aclose()
    assert (caught.value.status, caught.value.retry_after) == (429, 1.5)


def _http_date(delta_s: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=delta_s), usegmt=True)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, None, id="none"),
        pytest.param({"retry-after": "7"}, 7.0, id="seconds"),
        pytest.param({"retry-after-ms": "1500"}, 1.5, id="ms"),
        pytest.param({"retry-after-ms": "250", "retry-after": "9"}, 0.25, id="ms-wins"),
        pytest.param({"retry-after-ms": "soon", "retry-after": "3"}, 3.0, id="bad-ms-falls-back"),
        pytest.param({"retry-after": "-4"}, 0.0, id="negative"),
        pytest.param({"retry-after": "inf"}, None, id="infinite"),
        pytest.param({"retry-after": "nan"}, None, id="nan"),
        pytest.param({"retry-after": "whenever"}, None, id="garbage"),
        pytest.param({"retry-after": _http_date(-60)}, 0.0, id="past-date"),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert _retry_after(headers) == expected


def test_retry_after_http_date() -> None:
    seconds = _retry_after({"retry-after": _http_date(30)})
    assert seconds is not None
    assert 27 <= seconds <= 30


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(
            429,
            b'{"error": {"message": "slow"}}',
            (429, "rate_limit_error", None, "rate_limit_exceeded", "slow"),
            id="429",
        ),
        pytest.param(
            400,
            b'{"error": {"message": "bad", "type": "invalid_request_error", '
            b'"param": "input", "code": "invalid_value"}}',
            (400, "invalid_request_error", "input", "invalid_value", "bad"),
            id="400",
        ),
        pytest.param(
            503,
            b"<html>busy</html>",
            (503, "server_error", None, "upstream_error", "Upstream returned HTTP 503."),
            id="non-json-5xx",
        ),
        pytest.param(
            418,
            b'{"error": "teapot"}',
            (502, "server_error", None, "upstream_error", "teapot"),
            id="odd-status",
        ),
    ],
)
def test_error_mapping(
    status: int, body: bytes, expected: tuple[int, str, str | None, str, str]
) -> None:
    error = _error_from(status, body, {})
    assert (error.status, error.type, error.param, error.code, error.message) == expected


class StallingUpstream(RawUpstream):
    """Reads the request, then answers nothing until the client goes away."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            await reader.read()  # until the client closes
        finally:
            writer.close()  # also when the test's loop cancels this handler


async def test_a_silent_upstream_is_an_upstream_timeout() -> None:
    async with StallingUpstream(b"") as upstream:
        provider = ResponsesHTTPProvider("p", upstream.url, NoAuth(), timeout_s=0.2)
        with pytest.raises(UpstreamError) as caught:
            await provider.complete(ModelRequest(model="m", input=[]))
        await provider.aclose()
    error = caught.value
    assert (error.status, error.code, error.retry_after) == (504, "upstream_timeout", 1)


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_an_answer_cut_short_is_upstream_unreachable(stream: bool) -> None:
    frames = frame({"type": "response.created", "response": {}}) + frame(
        {"type": "response.completed", "response": COMPLETED}
    )
    whole = sse_reply(frames) if stream else http_reply(orjson.dumps(COMPLETED))
    async with RawUpstream(whole[:-20]) as upstream:  # closes 20 bytes short
        provider = ResponsesHTTPProvider("p", upstream.url, NoAuth())
        with pytest.raises(UpstreamError) as caught:
            if stream:
                await collect(provider)
            else:
                await provider.complete(ModelRequest(model="m", input=[]))
        await provider.aclose()
    error = caught.value
    assert (error.status, error.code) == (502, "upstream_unreachable")
    assert error.message == "Upstream 'p' could not be reached: ConnectionClosed."


async def test_the_query_rides_with_every_endpoint() -> None:
    reply = http_reply(orjson.dumps({**COMPLETED, "input_tokens": 7}))
    async with RawUpstream(reply) as upstream:
        provider = ResponsesHTTPProvider(
            "p", upstream.url + "?deployment=d", NoAuth(), query={"api-version": "2025-04"}
        )
        await provider.complete(ModelRequest(model="m", input=[]))
        assert await provider.count_input_tokens(ModelRequest(model="m", input=[])) == 7
        await provider.aclose()
    lines = [head.split(b"\r\n", 1)[0].decode() for head in upstream.heads]
    assert lines == [
        "POST /v1/responses?deployment=d&api-version=2025-04 HTTP/1.1",
        "POST /v1/responses/input_tokens?deployment=d&api-version=2025-04 HTTP/1.1",
    ]
