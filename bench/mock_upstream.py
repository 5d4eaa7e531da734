"""The instant model upstream for the gateway benchmarks.

Runs :class:`pilothouse.testing.fake_upstream.FakeUpstream` with ``fixed=True`` (one canned
~0.5 KB Responses body, or its SSE variant when the request says ``"stream": true``) and
``record=False`` (so memory stays flat under millions of requests) on uvloop. It answers
in microseconds, so whatever latency a benchmark sees on top of it belongs to the system
under test, which is the point of the gateway-overhead figures.

Usage: ``python bench/mock_upstream.py --port 9100`` (runs until SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import uvloop

from pilothouse.testing.fake_upstream import FakeUpstream


async def serve(host: str, port: int) -> None:
    """Listen on ``host:port`` until SIGINT or SIGTERM, then stop cleanly."""
    upstream = await FakeUpstream(fixed=True, record=False, host=host, port=port).start()
    print(f"mock upstream listening on {upstream.url}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await upstream.stop()


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface (loopback only)")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
