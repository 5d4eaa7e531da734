"""``HttpClient.stream``: chunks as they arrive, backpressure, and what leaving the block
does to the connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pilothouse.runtime.http import ConnectionClosed, HttpClient
from pilothouse.runtime.http.connection import HIGH_WATER

from .raw_server import RawServer, Received, reply, reset, stall

BIG = 4 * 1024 * 1024


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    async with HttpClient() as http:
        yield http


async def big_or_small(request: Received, writer: asyncio.StreamWriter) -> bool:
    """``/big``: 4 MiB as fast as the client reads; anything else: a short answer."""
    if "/big" not in request.line:
        writer.write(reply(b"small"))
        return True
    writer.write(f"HTTP/1.1 200 OK\r\ncontent-length: {BIG}\r\n\r\n".encode())
    block = b"x" * 65536
    for _ in range(BIG // len(block)):
        writer.write(block)
        await writer.drain()
    return True


async def test_chunks_arrive_as_they_are_sent(client: HttpClient) -> None:
    gate = asyncio.Event()

    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(headers="transfer-encoding: chunked\r\n", length=False))
        writer.write(b"6\r\nfirst \r\n")
        await writer.drain()
        await gate.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        return True

    async with RawServer(handler) as server, client.stream("GET", server.url) as response:
        assert response.status == 200
        chunks = response.iter_chunks()
        assert await anext(chunks) == b"first "  # before the rest was even sent
        gate.set()
        assert [chunk async for chunk in chunks] == [b"second"]


async def test_a_slow_reader_pauses_the_connection(client: HttpClient) -> None:
    sizes: list[int] = []
    async with RawServer(big_or_small) as server:
        async with client.stream("GET", server.url + "/big") as response:
            async for chunk in response.iter_chunks():
                sizes.append(len(chunk))
                await asyncio.sleep(0.01)
        assert (await client.request("GET", server.url + "/after")).body == b"small"
    assert sum(sizes) == BIG
    # Reading stops above the high-water mark; at most one more socket read lands on top.
    assert max(sizes) <= HIGH_WATER + 256 * 1024
    assert server.connections == 1  # read to the end: the connection was reused


async def test_leaving_early_closes_the_connection(client: HttpClient) -> None:
    async with RawServer(big_or_small) as server:
        async with client.stream("GET", server.url + "/big") as response:
            async for _chunk in response.iter_chunks():
                break
        assert (await client.request("GET", server.url + "/after")).body == b"small"
    assert server.connections == 2


async def test_a_response_cannot_be_read_after_its_block(client: HttpClient) -> None:
    async with RawServer(big_or_small) as server:
        async with client.stream("GET", server.url) as response:
            pass
        with pytest.raises(RuntimeError, match="stream block was left"):
            await response.read()


async def test_an_error_status_body_can_be_read_whole(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(b'{"error": {}}', "429 Too Many Requests", "retry-after: 2\r\n"))
        return True

    async with RawServer(handler) as server, client.stream("POST", server.url, body=b"{}") as r:
        assert (r.status, r.headers["Retry-After"], await r.read()) == (429, "2", b'{"error": {}}')


async def test_a_stream_cut_short_is_an_error(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(headers="transfer-encoding: chunked\r\n", length=False))
        writer.write(b"5\r\nhello\r\n")
        await writer.drain()
        reset(writer)
        return False

    async with RawServer(handler) as server:
        received: list[bytes] = []
        with pytest.raises(ConnectionClosed):
            async with client.stream("GET", server.url) as response:
                async for chunk in response.iter_chunks():
                    received.append(chunk)
    assert b"".join(received) in (b"", b"hello")


async def test_the_deadline_covers_the_whole_stream(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(headers="transfer-encoding: chunked\r\n", length=False))
        writer.write(b"5\r\nhello\r\n")
        await stall(writer)
        return False

    async with RawServer(handler) as server:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            async with client.stream("GET", server.url, timeout_s=0.2) as response:
                async for _chunk in response.iter_chunks():
                    pass
        assert loop.time() - started < 5
