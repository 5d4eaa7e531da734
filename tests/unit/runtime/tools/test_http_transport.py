"""``HttpTransport``'s mapping of transport failures onto ToolFailure codes, against
loopback servers that misbehave on purpose (the well-behaved cases run through the http
adapter in ``tests/integration/tools``)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from pilothouse.runtime.tools.base import ToolFailure
from pilothouse.runtime.tools.http_transport import HttpTransport

from ..http.certificates import self_signed, server_context
from ..http.raw_server import RawServer, Received, reply, reset, stall
from .conftest import make_call


@pytest.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    built = HttpTransport()
    yield built
    await built.aclose()


async def failure(transport: HttpTransport, url: str, timeout_s: float = 5.0) -> ToolFailure:
    with pytest.raises(ToolFailure) as caught:
        await transport.request("GET", url, make_call("t"), timeout_s)
    return caught.value


async def test_an_untrusted_certificate_is_a_tls_error(
    transport: HttpTransport, tmp_path: Path
) -> None:
    async with RawServer(tls=server_context(self_signed(tmp_path))) as server:
        caught = await failure(transport, server.url + "/x")
    assert (caught.code, caught.retryable) == ("tls_error", False)
    assert str(caught).startswith("TLS failure:")


async def test_a_body_cut_short_is_a_retryable_connection_error(transport: HttpTransport) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(b'{"ok": true, "padding": "' + b"x" * 100 + b'"}')[:-40])
        await writer.drain()
        reset(writer)
        return False

    async with RawServer(handler) as server:
        caught = await failure(transport, server.url + "/x")
    assert (caught.code, caught.retryable) == ("connection_error", True)
    assert str(caught) == "The connection to the tool failed (ConnectionClosed)."


async def test_an_unreadable_answer_is_a_retryable_connection_error(
    transport: HttpTransport,
) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 two hundred\r\n\r\n")
        return False

    async with RawServer(handler) as server:
        caught = await failure(transport, server.url + "/x")
    assert (caught.code, caught.retryable) == ("connection_error", True)


async def test_a_stalled_tool_times_out(transport: HttpTransport) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        await stall(writer)
        return False

    async with RawServer(handler) as server:
        loop = asyncio.get_running_loop()
        started = loop.time()
        caught = await failure(transport, server.url + "/x", timeout_s=0.1)
        elapsed = loop.time() - started
    assert (caught.code, caught.retryable) == ("timeout", True)
    assert elapsed < 5  # the transport's own backstop: 0.1 s + 1 s of slack


async def test_a_gzipped_json_answer_is_decoded(transport: HttpTransport) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        body = gzip.compress(orjson.dumps({"status": "open"}))
        writer.write(reply(body, headers="content-encoding: gzip\r\n"))
        return True

    async with RawServer(handler) as server:
        output = await transport.request("GET", server.url + "/t", make_call("t"), 5.0)
    assert output == {"status": "open"}
    assert server.received[0].header("accept-encoding") == ["gzip, deflate"]
