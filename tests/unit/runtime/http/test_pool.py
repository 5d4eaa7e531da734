"""Pooling per origin: the connection limit, the fair queue, idle expiry, closing."""

from __future__ import annotations

import asyncio

import pytest

from pilothouse.runtime.http import ConnectionClosed, HttpClient

from .raw_server import RawServer, Received, reply, stall


async def test_the_limit_per_origin_holds_and_waiters_are_served_in_order() -> None:
    release = asyncio.Event()

    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        writer.write(reply(request.line.encode()))
        return True

    async with RawServer(handler) as server, HttpClient(limit_per_origin=2) as client:
        tasks = []
        for n in range(6):
            tasks.append(asyncio.create_task(client.request("GET", server.url + f"/{n}")))
            await asyncio.sleep(0.01)  # queue them in a known order
        await asyncio.sleep(0.05)
        assert server.open_now == 2
        release.set()
        bodies = [(await task).body for task in tasks]
    assert bodies == [f"GET /{n} HTTP/1.1".encode() for n in range(6)]
    assert (server.connections, server.most_open) == (2, 2)
    assert [r.line.split()[1] for r in server.received] == [f"/{n}" for n in range(6)]


async def test_origins_have_separate_limits() -> None:
    release = asyncio.Event()

    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        writer.write(reply(b"ok"))
        return True

    async with (
        RawServer(handler) as one,
        RawServer(handler) as two,
        HttpClient(limit_per_origin=1) as client,
    ):
        tasks = [asyncio.create_task(client.request("GET", s.url)) for s in (one, two)]
        await asyncio.sleep(0.05)
        assert (one.open_now, two.open_now) == (1, 1)
        release.set()
        await asyncio.gather(*tasks)


async def test_a_failed_exchange_frees_its_slot_for_the_next_waiter() -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        if "/fail" in request.line:
            await asyncio.sleep(0.05)
            return False  # closed without an answer
        writer.write(reply(b"ok"))
        return True

    async with RawServer(handler) as server, HttpClient(limit_per_origin=1) as client:
        failing = asyncio.create_task(client.request("POST", server.url + "/fail"))
        await asyncio.sleep(0.01)
        waiting = asyncio.create_task(client.request("GET", server.url + "/ok"))
        with pytest.raises(ConnectionClosed):
            await failing
        assert (await waiting).body == b"ok"
    assert server.connections == 2


async def test_a_cancelled_waiter_gives_its_place_up() -> None:
    release = asyncio.Event()

    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        writer.write(reply(b"ok"))
        return True

    async with RawServer(handler) as server, HttpClient(limit_per_origin=1) as client:
        holder = asyncio.create_task(client.request("GET", server.url))
        await asyncio.sleep(0.01)
        quitter = asyncio.create_task(client.request("GET", server.url))
        await asyncio.sleep(0.01)
        quitter.cancel()
        release.set()
        await holder
        assert (await client.request("GET", server.url)).body == b"ok"
        assert quitter.cancelled()
    assert server.connections == 1


async def test_idle_connections_expire() -> None:
    async with RawServer() as server, HttpClient(idle_timeout_s=0.05) as client:
        await client.request("GET", server.url)
        await asyncio.sleep(0.1)
        await client.request("GET", server.url)
    assert server.connections == 2


async def test_closing_the_client_fails_what_is_in_flight() -> None:
    async def handler(request: Received, writer: asyncio.StreamWriter) -> bool:
        await stall(writer)
        return False

    async with RawServer(handler) as server:
        client = HttpClient()
        pending = asyncio.create_task(client.request("GET", server.url))
        await asyncio.sleep(0.05)
        await client.aclose()
        with pytest.raises(ConnectionClosed):
            await pending
