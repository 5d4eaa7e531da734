"""The practical ceiling for a Python gateway: a bare aiohttp pass-through.

It forwards the body of ``POST /v1/responses`` to the upstream with one shared aiohttp
``ClientSession`` and returns the upstream's bytes: whole for JSON, relayed chunk by chunk
for SSE. No parsing, validation, storage or routing, so what Pilothouse costs beyond it is
the price of being a runtime rather than a pipe (see ``bench/RESULTS.md``).

Usage: ``python bench/minimal_proxy.py --port 9300 --upstream http://127.0.0.1:9100``.
"""

from __future__ import annotations

import argparse

import aiohttp
import uvloop
from aiohttp import web

_PASS_HEADERS = ("content-type", "authorization")


def build_app(upstream: str) -> web.Application:
    """The proxy app; its client session lives as long as the app."""
    app = web.Application()
    url = upstream.rstrip("/") + "/v1/responses"

    async def open_session(app: web.Application) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        app["session"] = aiohttp.ClientSession(connector=connector)

    async def close_session(app: web.Application) -> None:
        await app["session"].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k in _PASS_HEADERS if (v := request.headers.get(k)) is not None}
        async with app["session"].post(url, data=body, headers=headers) as upstream_resp:
            content_type = upstream_resp.headers.get("content-type", "application/json")
            if not content_type.startswith("text/event-stream"):
                return web.Response(
                    body=await upstream_resp.read(),
                    status=upstream_resp.status,
                    headers={"content-type": content_type},
                )
            relay = web.StreamResponse(
                status=upstream_resp.status,
                headers={"content-type": content_type, "cache-control": "no-cache"},
            )
            await relay.prepare(request)
            async for chunk in upstream_resp.content.iter_any():
                await relay.write(chunk)
            await relay.write_eof()
            return relay

    app.router.add_post("/v1/responses", forward)
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    return app


def main() -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface (loopback only)")
    parser.add_argument("--port", type=int, default=9300)
    parser.add_argument("--upstream", default="http://127.0.0.1:9100")
    args = parser.parse_args()
    web.run_app(
        build_app(args.upstream),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
