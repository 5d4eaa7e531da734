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

Usage: ``python bench/budget_overhead.py [--requests 400]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy import event

from pilothouse.settings import Settings
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
    base = rows["none"]
    print("| limits | SQL statements / request | p50 ms | p95 ms | p50 added ms |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['statements']:g} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} "
            f"| {row['p50_ms'] - base['p50_ms']:+.2f} |"
        )


if __name__ == "__main__":
    main()
