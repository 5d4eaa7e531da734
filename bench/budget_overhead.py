"""Budget overhead: what a key's and a tenant's limits cost per request.

One in-process server (SQLite in a temp dir, the offline model, the support-desk bundle's
prices) serves sequential ``POST /v1/responses`` for keys of three tenants:

* ``none``: no limits anywhere (the ledger must do nothing);
* ``key``: the key has rpm, tpm and usd_per_day (three counters);
* ``both``: the key and its tenant have all three (six counters).

It counts the SQL statements each request runs (a SQLAlchemy ``before_cursor_execute``
listener on the store's engine) and times each request (p50/p95, client side, loopback).
The statement counts are the contract: zero budget statements without limits, and per
configured limit one conditional UPDATE at admission (plus one settling UPDATE after each
model call for tokens and spend). Timings on a shared 2-core machine are indicative.

It also times the ledger's two store operations directly (no HTTP), sequentially on one
SQLite store: an admission of three conditional charges and a settlement of two deltas.

Usage: ``python bench/budget_overhead.py [--requests 400]``; prints Markdown tables.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import event

from pilothouse.settings import Settings
from pilothouse.storage.budgets import Charge
from pilothouse.storage.sql.store import SQLStore
from pilothouse.testing import ServerThread

ADMIN = "phk_bench_admin-key-for-the-budget-benchmark"
LIMITS = {"rpm": 10**9, "tpm": 10**12, "usd_per_day": 10**6}
BUNDLE = Path(__file__).parents[1] / "examples" / "support-desk"


def _key(admin: httpx.Client, tenant: str, limits: dict[str, Any] | None) -> str:
    body: dict[str, Any] = {"tenant": tenant, "roles": ["invoke"]}
    if limits:
        body["limits"] = limits
    made = admin.post("/admin/v1/keys", json=body)
    made.raise_for_status()
    return str(made.json()["key"])


def _measure(server: ServerThread, key: str, requests: int, counter: list[int]) -> dict[str, float]:
    times: list[float] = []
    statements: list[int] = []
    body = {"model": "gpt-4o-mini", "input": "Check ticket INC-24531.", "max_output_tokens": 64}
    with httpx.Client(base_url=server.root_url, headers={"Authorization": f"Bearer {key}"}) as h:
        for i in range(requests + 20):
            before = counter[0]
            start = time.perf_counter()
            h.post("/v1/responses", json=body).raise_for_status()
            elapsed = time.perf_counter() - start
            if i >= 20:  # warm-up
                times.append(elapsed * 1000)
                statements.append(counter[0] - before)
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p95_ms": times[int(len(times) * 0.95)],
        "statements": statistics.median(statements),
    }


async def _ledger_ops(url: str, rounds: int = 2000) -> dict[str, float]:
    store = SQLStore(url)
    await store.start()
    admit: list[float] = []
    settle: list[float] = []
    try:
        for i in range(rounds):
            charges = [Charge(f"bench:{d}", 0, 1, 10**15) for d in ("rpm", "tpm", "usd")]
            start = time.perf_counter()
            await store.budgets.admit(charges)
            admit.append((time.perf_counter() - start) * 1e6)
            start = time.perf_counter()
            await store.budgets.adjust([Charge("bench:tpm", 0, 5), Charge("bench:usd", 0, -1)])
            settle.append((time.perf_counter() - start) * 1e6)
            if i == 0:
                admit.clear()
                settle.clear()
    finally:
        await store.close()
    return {"admit_us": statistics.median(admit), "settle_us": statistics.median(settle)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            port=0,
            store=f"sqlite:///{tmp}/bench.db",
            bundle=BUNDLE,
            gc_tuning=False,
            admin_key=ADMIN,  # type: ignore[arg-type]
        )
        server = ServerThread(settings).start()
        counter = [0]
        engine = server.services.store.runner.engine  # type: ignore[attr-defined]

        def count(*_: Any) -> None:
            counter[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        try:
            with httpx.Client(
                base_url=server.root_url, headers={"Authorization": f"Bearer {ADMIN}"}
            ) as admin:
                admin.put("/admin/v1/tenants/both/limits", json=LIMITS).raise_for_status()
                keys = {
                    "none": _key(admin, "none", None),
                    "key": _key(admin, "key", LIMITS),
                    "both": _key(admin, "both", LIMITS),
                }
            rows = {
                name: _measure(server, key, args.requests, counter) for name, key in keys.items()
            }
        finally:
            server.stop()
        ops = asyncio.run(_ledger_ops(f"sqlite:///{tmp}/ledger.db"))
    base = rows["none"]
    print("| limits | SQL statements / request | p50 ms | p95 ms | p50 added ms |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['statements']:g} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} "
            f"| {row['p50_ms'] - base['p50_ms']:+.2f} |"
        )
    print()
    print("| ledger operation (SQLite, sequential) | p50 µs |")
    print("|---|---|")
    print(f"| admit: 3 conditional charges, one transaction | {ops['admit_us']:.0f} |")
    print(f"| settle: 2 deltas, group-committed | {ops['settle_us']:.0f} |")


if __name__ == "__main__":
    main()
