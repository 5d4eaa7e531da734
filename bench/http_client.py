"""CPU and latency per request of Pilothouse's HTTP client against aiohttp's.

A local aiohttp server (its own process, pinned to core 0) answers ``POST /v1/responses``
with a fixed ~350-byte JSON body. This process, pinned to core 1 on uvloop, sends
sequential keep-alive POSTs of a ~300-byte JSON body with each client in turn, in
alternating rounds, and reports per client: CPU µs per request (this process's user +
system time over the timed requests, divided by their number) and the p50/p95 latency of
one request as the caller sees it. Each client sends the same headers and reads the body
whole, as the providers do. A third row, ``floor``, is the least any asyncio client can
cost here: one connection, a request pre-built once, an ``httptools`` parser and a future
per response, nothing else (no pool, no deadline, no header mapping).

    python bench/http_client.py [--requests 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import cast

import aiohttp
import httptools
import orjson
import uvloop
from aiohttp import web
from yarl import URL

from pilothouse.runtime.http import HttpClient

SERVER_CORE, CLIENT_CORE = 0, 1
BODY = orjson.dumps(
    {
        "model": "gpt-4.1-mini",
        "input": [{"role": "user", "content": "Summarise the status of ticket T-1042 for me."}],
        "instructions": "You are the incident desk assistant. Answer briefly.",
        "store": False,
        "metadata": {"run": "run_0123456789abcdef", "step": "1"},
        "temperature": 0.2,
    }
)
ANSWER = orjson.dumps(
    {
        "id": "resp_0123456789abcdef",
        "object": "response",
        "status": "completed",
        "model": "gpt-4.1-mini",
        "output": [
            {
                "type": "message",
                "id": "msg_0123456789abcdef",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": "T-1042 is open, owned by the network team."}
                ],
            }
        ],
        "usage": {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150},
    }
)
HEADERS = {
    "content-type": "application/json",
    "authorization": "Bearer sk-bench",
    "x-request-id": "req_0123456789abcdef",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
}

Send = Callable[[], Awaitable[bytes]]


class Floor(asyncio.Protocol):
    """The bare minimum: see the module docstring."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[bytes] | None = None
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        assert self.waiter is not None
        self.waiter.set_result(b"".join(self.body))
        self.body = []


async def floor_sender(url: URL) -> Send:
    """A ``Send`` over one bare :class:`Floor` connection."""
    loop = asyncio.get_running_loop()
    assert url.host is not None and url.port is not None
    transport, protocol = await loop.create_connection(Floor, url.host, url.port)
    lines = [f"POST {url.raw_path_qs} HTTP/1.1", f"Host: {url.host_port_subcomponent}"]
    lines += [f"{name}: {value}" for name, value in HEADERS.items()]
    lines.append(f"Content-Length: {len(BODY)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + BODY

    async def send() -> bytes:
        protocol.waiter = loop.create_future()
        transport.write(request)
        return await protocol.waiter

    return send


def serve(port: multiprocessing.Queue[int]) -> None:
    """The upstream: aiohttp's server on core 0."""
    os.sched_setaffinity(0, {SERVER_CORE})

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=ANSWER, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/responses", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    uvloop.run(main())


async def measure(send: Send, requests: int) -> tuple[float, float, float]:
    """CPU µs per request, p50 and p95 latency (µs) over ``requests`` sequential sends."""
    for _ in range(min(2000, requests // 5)):  # warm up: connection, caches, branch paths
        await send()
    latencies: list[int] = []
    cpu = time.process_time()
    for _ in range(requests):
        started = time.perf_counter_ns()
        body = await send()
        latencies.append(time.perf_counter_ns() - started)
        assert len(body) == len(ANSWER)
    cpu = time.process_time() - cpu
    latencies.sort()
    p50 = latencies[len(latencies) // 2] / 1000
    p95 = latencies[int(len(latencies) * 0.95)] / 1000
    return cpu / requests * 1e6, p50, p95


async def rounds(url: str, requests: int, count: int) -> dict[str, list[tuple[float, ...]]]:
    ours = HttpClient()
    target = URL(url)  # parsed once, as the providers do
    theirs = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512))

    async def send_ours() -> bytes:
        response = await ours.request("POST", target, headers=HEADERS, body=BODY, timeout_s=30)
        return response.body

    async def send_aiohttp() -> bytes:
        async with theirs.post(url, data=BODY, headers=HEADERS) as response:
            return await response.read()

    send_floor = await floor_sender(target)
    results: dict[str, list[tuple[float, ...]]] = {"pilothouse": [], "aiohttp": [], "floor": []}
    try:
        for n in range(count):
            order = [("pilothouse", send_ours), ("aiohttp", send_aiohttp), ("floor", send_floor)]
            for name, send in order if n % 2 == 0 else order[::-1]:
                results[name].append(await measure(send, requests))
                print(f"round {n + 1} {name}: {results[name][-1]}", flush=True)
    finally:
        await ours.aclose()
        await theirs.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(port,), daemon=True)
    server.start()
    try:
        url = f"http://127.0.0.1:{port.get(timeout=10)}/v1/responses"
        os.sched_setaffinity(0, {CLIENT_CORE})
        results = uvloop.run(rounds(url, args.requests, args.rounds))
    finally:
        server.terminate()
        server.join()
    print()
    print("| client | CPU µs/request | p50 µs | p95 µs | CPU ratio to aiohttp |")
    print("|---|---|---|---|---|")
    base = statistics.median(r[0] for r in results["aiohttp"])
    for name, runs in results.items():
        cpu, p50, p95 = (statistics.median(r[i] for r in runs) for i in range(3))
        print(f"| {name} | {cpu:.1f} | {p50:.1f} | {p95:.1f} | {cpu / base:.2f} |")


if __name__ == "__main__":
    main()
