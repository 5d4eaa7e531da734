"""A closed-loop HTTP load generator in Python, the fallback when ``wrk`` is absent.

``concurrency`` workers each send ``POST url`` with a fixed body, read the whole answer,
and start again, until the deadline; every latency is kept so percentiles are exact. It
prints one line, ``BENCH_JSON {...}``, with the same keys as the ``wrk`` Lua reporter in
``gateway_overhead.py`` so the two are interchangeable. It costs far more CPU per request
than ``wrk`` (so on a shared core it lowers the ceiling it can measure): prefer ``wrk``.

Usage: ``python bench/loadgen.py URL --body-file body.json -c 16 -d 15 [--header K:V]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import aiohttp
import uvloop


def percentile(sorted_values: list[float], pct: float) -> float:
    """The nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


async def run(
    url: str, body: bytes, headers: dict[str, str], concurrency: int, duration_s: float
) -> dict[str, float | int]:
    """Drive ``url`` for ``duration_s`` seconds and summarise what was seen (µs units)."""
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    received = 0
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        deadline = start + duration_s

        async def worker() -> None:
            nonlocal received
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        payload = await resp.read()
                        if resp.status >= 400:
                            errors["status"] += 1
                except TimeoutError:
                    errors["timeout"] += 1
                    continue
                except aiohttp.ClientConnectionError:
                    errors["connect"] += 1
                    await asyncio.sleep(0.01)
                    continue
                latencies.append((time.perf_counter() - sent) * 1e6)
                received += len(payload)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "bytes": received,
        "mean_us": sum(latencies) / len(latencies) if latencies else 0.0,
        "p50_us": percentile(latencies, 50),
        "p90_us": percentile(latencies, 90),
        "p95_us": percentile(latencies, 95),
        "p99_us": percentile(latencies, 99),
        "max_us": latencies[-1] if latencies else 0.0,
        **{f"err_{k}": v for k, v in errors.items()},
    }


def main() -> None:
    """Parse the command line, run, print the ``BENCH_JSON`` line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("-d", "--duration", type=float, default=15.0, help="seconds")
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    args = parser.parse_args()
    headers = {"content-type": "application/json"}
    for raw in args.header:
        name, _, value = raw.partition(":")
        headers[name.strip()] = value.strip()
    body = args.body_file.read_bytes()
    summary = uvloop.run(run(args.url, body, headers, args.concurrency, args.duration))
    print("BENCH_JSON " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
