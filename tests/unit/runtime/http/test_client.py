"""``HttpClient`` against real loopback servers: what goes on the wire, framings, errors,
deadlines and keep-alive reuse."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from pilothouse import __version__
from pilothouse.runtime.http import (
    ConnectError,
    ConnectionClosed,
    HttpClient,
    InvalidURL,
    ProtocolError,
)

from .raw_server import RawServer, Received, reply, reset, stall


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    async with HttpClient() as http:
        yield http


async def test_sequential_requests_share_one_connection(client: HttpClient) -> None:
    async with RawServer() as server:
        for n in range(3):
            response = await client.request("POST", server.url + f"/n/{n}", body=b"{}")
            assert (response.status, response.body) == (200, f"POST /n/{n} HTTP/1.1".encode())
    assert server.connections == 1


async def test_the_request_head_carries_our_defaults_unless_given(client: HttpClient) -> None:
    async with RawServer() as server:
        await client.request("POST", server.url + "/a", headers={"X-A": "1"}, body=b"abc")
        await client.request(
            "GET",
            server.url + "/b",
            headers={"user-agent": "mine", "Accept-Encoding": "identity", "Content-Length": "9"},
        )
    first, second = server.received
    port = server.url.rsplit(":", 1)[1]
    assert first.header("host") == [f"127.0.0.1:{port}"]
    assert first.header("content-length") == ["3"]
    assert first.header("user-agent") == [f"pilothouse/{__version__}"]
    assert first.header("accept-encoding") == ["gzip, deflate"]
    assert (first.header("x-a"), first.body) == (["1"], b"abc")
    assert second.header("user-agent") == ["mine"]
    assert second.header("accept-encoding") == ["identity"]
    assert second.header("content-length") == []  # no body: a given length is dropped


async def test_a_post_without_a_body_says_so(client: HttpClient) -> None:
    async with RawServer() as server:
        await client.request("POST", server.url + "/")
    assert server.received[0].header("content-length") == ["0"]


async def test_params_are_appended_to_the_query(client: HttpClient) -> None:
    async with RawServer() as server:
        await client.request("GET", server.url + "/q?a=1", params=[("b", "x y"), ("b", "2")])
        await client.request("GET", server.url + "/q", params={"api-version": "2025-01-01"})
    assert [r.line for r in server.received] == [
        "GET /q?a=1&b=x+y&b=2 HTTP/1.1",
        "GET /q?api-version=2025-01-01 HTTP/1.1",
    ]


async def test_header_values_with_line_breaks_are_refused(client: HttpClient) -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        await client.request("GET", "http://127.0.0.1:9/", headers={"X-A": "1\r\nX-B: 2"})


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "/relative/path", "http:///no-host"])
async def test_urls_we_cannot_send_to_are_refused(client: HttpClient, url: str) -> None:
    with pytest.raises(InvalidURL, match="Not an absolute http"):
        await client.request("GET", url)


async def test_responses_keep_repeated_headers_case_insensitively(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(b"ok", headers="Set-Thing: a\r\nset-thing: b\r\nX-Y: z\r\n"))
        return True

    async with RawServer(handler) as server:
        response = await client.request("GET", server.url)
    assert response.headers.getall("SET-THING") == ["a", "b"]
    assert response.headers["x-y"] == "z"


async def test_chunked_bodies_are_joined_and_the_connection_reused(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(headers="transfer-encoding: chunked\r\n", length=False))
        for piece in (b"hello ", b"chunked ", b"world"):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        return True

    async with RawServer(handler) as server:
        bodies = [(await client.request("GET", server.url)).body for _ in range(2)]
    assert bodies == [b"hello chunked world"] * 2
    assert server.connections == 1


async def test_a_body_framed_by_close_ends_with_the_connection(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(b"until the end", headers="connection: close\r\n", length=False))
        return False

    async with RawServer(handler) as server:
        bodies = [(await client.request("GET", server.url)).body for _ in range(2)]
    assert bodies == [b"until the end"] * 2
    assert server.connections == 2


async def test_connection_close_from_the_server_is_honoured(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(b"bye", headers="connection: close\r\n"))
        return True  # the server would keep it; the client must not

    async with RawServer(handler) as server:
        for _ in range(2):
            assert (await client.request("GET", server.url)).body == b"bye"
    assert server.connections == 2


def _raw_deflate(data: bytes) -> bytes:
    """Deflate without the zlib wrapper, as some servers send ``deflate``."""
    deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return deflater.compress(data) + deflater.flush()


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        pytest.param("gzip", gzip.compress, id="gzip"),
        pytest.param("deflate", zlib.compress, id="deflate"),
        pytest.param("deflate", lambda data: _raw_deflate(data), id="raw-deflate"),
    ],
)
async def test_compressed_bodies_are_decoded(
    client: HttpClient, coding: str, encode: Callable[[bytes], bytes]
) -> None:
    data = b'{"text": "' + b"compressible " * 500 + b'"}'
    encoded = encode(data)

    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(encoded, headers=f"content-encoding: {coding}\r\n"))
        return True

    async with RawServer(handler) as server:
        response = await client.request("GET", server.url)
        async with client.stream("GET", server.url) as streamed:
            chunks = [chunk async for chunk in streamed.iter_chunks()]
    assert response.body == data
    assert b"".join(chunks) == data


async def test_a_body_that_does_not_decode_is_a_protocol_error(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(b"not gzip at all", headers="content-encoding: gzip\r\n"))
        return True

    async with RawServer(handler) as server:
        with pytest.raises(ProtocolError, match="gzip"):
            await client.request("GET", server.url)


@pytest.mark.parametrize(
    ("method", "status"),
    [("HEAD", "200 OK"), ("GET", "204 No Content"), ("GET", "304 Not Modified")],
)
async def test_bodiless_answers_end_with_their_head(
    client: HttpClient, method: str, status: str
) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        if request.line.startswith(method) and "/first" in request.line:
            # An announced length that must not be waited for (HEAD), or none at all.
            length = "content-length: 42\r\n" if method == "HEAD" else ""
            writer.write(f"HTTP/1.1 {status}\r\n{length}\r\n".encode())
        else:
            writer.write(reply(b"next"))
        return True

    async with RawServer(handler) as server:
        first = await client.request(method, server.url + "/first")
        second = await client.request("GET", server.url + "/second")
    assert (first.status, first.body) == (int(status[:3]), b"")
    assert second.body == b"next"
    assert server.connections == 1


async def test_interim_responses_are_skipped(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" + reply(b"final"))
        return True

    async with RawServer(handler) as server:
        response = await client.request("GET", server.url)
    assert (response.status, response.body, "link" in response.headers) == (200, b"final", False)


@pytest.mark.parametrize("how", ["reset", "close"])
async def test_a_body_cut_short_is_an_error_and_the_connection_is_dropped(
    client: HttpClient, how: str
) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        if "/cut" not in request.line:
            writer.write(reply(b"whole"))
            return True
        writer.write(reply(b"x" * 100)[:-50])
        await writer.drain()
        if how == "reset":
            reset(writer)
        return False

    async with RawServer(handler) as server:
        assert (await client.request("GET", server.url + "/ok")).body == b"whole"
        with pytest.raises(ConnectionClosed, match="before the whole response"):
            await client.request("GET", server.url + "/cut")
        assert (await client.request("GET", server.url + "/ok")).body == b"whole"
    assert [r.connection for r in server.received] == [1, 1, 2]


async def test_an_idle_connection_the_server_closed_is_not_reused(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(b"once"))
        return False  # answered as keep-alive, then closed while idle

    async with RawServer(handler) as server:
        assert (await client.request("POST", server.url, body=b"1")).body == b"once"
        await server.closed.wait()
        await asyncio.sleep(0.05)  # let the client's loop see the close
        assert (await client.request("POST", server.url, body=b"2")).body == b"once"
    assert server.connections == 2


@pytest.mark.parametrize(
    ("method", "headers", "replay_stale", "retried"),
    [
        ("GET", {}, False, True),
        ("POST", {}, False, False),
        ("POST", {"Idempotency-Key": "ph-1"}, False, False),  # the tool gateway retries
        ("POST", {}, True, True),
    ],
    ids=["get", "post", "post-keyed", "post-replay-stale-client"],
)
async def test_a_stale_connection_is_retried_once_for_requests_that_may_be_sent_twice(
    method: str, headers: dict[str, str], replay_stale: bool, retried: bool
) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        if "/second" in request.line and request.connection == 1:
            return False  # the close crosses the request: not a byte answered
        writer.write(reply(b"fine"))
        return True

    async with RawServer(handler) as server, HttpClient(replay_stale=replay_stale) as client:
        await client.request(method, server.url + "/first", headers=headers)
        if retried:
            second = await client.request(method, server.url + "/second", headers=headers)
            assert second.body == b"fine"
        else:
            with pytest.raises(ConnectionClosed):
                await client.request(method, server.url + "/second", headers=headers)
    assert server.connections == (2 if retried else 1)


async def test_a_slow_server_times_out_within_the_deadline(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        if "/again" in request.line:
            writer.write(reply(b"quick"))
            return True
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
        await stall(writer)
        return False

    async with RawServer(handler) as server:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await client.request("GET", server.url, timeout_s=0.2)
        elapsed = time.monotonic() - started
        assert (await client.request("GET", server.url + "/again", timeout_s=5)).body == b"quick"
    assert 0.15 <= elapsed < 5
    assert server.connections == 2


async def test_waiting_for_a_connection_counts_against_the_connect_timeout() -> None:
    release = asyncio.Event()

    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        writer.write(reply(b"late"))
        return True

    async with (
        RawServer(handler) as server,
        HttpClient(limit_per_origin=1, connect_timeout_s=0.1) as client,
    ):
        holder = asyncio.create_task(client.request("GET", server.url))
        await asyncio.sleep(0.05)
        with pytest.raises(TimeoutError):
            await client.request("GET", server.url)
        release.set()
        assert (await holder).body == b"late"
        assert (await client.request("GET", server.url)).body == b"late"
    assert server.connections == 1


async def test_a_refused_connection_is_a_connect_error(client: HttpClient) -> None:
    async with RawServer() as server:
        url = server.url
    with pytest.raises(ConnectError, match="Could not connect"):
        await client.request("GET", url)


async def test_garbage_is_a_protocol_error(client: HttpClient) -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SMTP ready\r\n\r\n")
        return True

    async with RawServer(handler) as server:
        with pytest.raises(ProtocolError):
            await client.request("GET", server.url)


async def test_ipv6_loopback(client: HttpClient) -> None:
    try:
        server = await RawServer(host="::1").__aenter__()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        response = await client.request("GET", server.url + "/six")
    finally:
        await server.__aexit__()
    assert response.body == b"GET /six HTTP/1.1"
    assert server.received[0].header("host") == [server.url.removeprefix("http://")]


async def test_against_aiohttps_server(client: HttpClient) -> None:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({"len": len(body), "q": request.query.get("q")})

    app = web.Application()
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        for _ in range(3):
            response = await client.request(
                "POST", f"http://127.0.0.1:{port}/echo", params={"q": "v"}, body=b"x" * 300
            )
            assert response.body == b'{"len": 300, "q": "v"}'
    finally:
        await runner.cleanup()


async def test_a_closed_client_refuses_requests() -> None:
    client = HttpClient()
    await client.aclose()
    assert client.closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.request("GET", "http://127.0.0.1:9/")
