"""A deterministic journal of 1,400 runs (plus a previous window of 200) with known
figures, written through the real store API (``create_run``, ``add_feedback``).

The window is the 7 days before :data:`UNTIL`; run ``i`` starts ``400·i`` seconds into it.

* ``desk`` on ``rel-a`` (``i`` < 1000): latency ``100 + 10·(i % 100)`` ms, cost $0.001;
  by ``i % 10``: 0-6 completed, 7 incomplete ``max_steps`` (``max_cost_usd`` when
  ``i % 100 == 97``), 8 failed ``rate_limit_exceeded``, 9 incomplete ``deadline_s``;
  feedback -1 when ``i % 100 == 1``; ``get_ticket_status`` once per run (an error when
  ``i % 20 == 0``), ``search_kb`` twice; a deny when ``i % 50 == 3``, two allows when
  ``i % 50 == 4``.
* ``triage`` on ``rel-b`` (1000 ≤ ``i`` < 1400): 2000 ms, $0.002, all completed; feedback
  +0.5 on every fourth, the label ``wrong`` (no score) on run 1001.
* five ``desk`` runs still in progress, and one run of another tenant (neither counts).
* the previous window: 200 ``desk`` runs on ``rel-a``, 500 ms, $0.001, all completed.
"""

from __future__ import annotations

import asyncio

from pilothouse.runtime.agent import events
from pilothouse.runtime.agent.events import EventContext, RunTally
from pilothouse.storage.base import JournalEntry, StoredRun
from pilothouse.storage.outcomes import StoredFeedback
from pilothouse.storage.sql.store import SQLStore

DAY = 86400
UNTIL = 20834 * DAY  # a UTC midnight
SPAN = 7 * DAY
SINCE = UNTIL - SPAN


def _run_spec(i: int) -> tuple[str, str, float, float, str, str | None, RunTally]:
    """(agent, release, latency ms, cost, status, reason, tally) of current run ``i``."""
    tally = RunTally()
    if i >= 1000:
        return "triage", "rel-b", 2000.0, 0.002, "completed", None, tally
    tally.calls.update({"get_ticket_status": 1, "search_kb": 2})
    tally.attempts.update({"get_ticket_status": 1, "search_kb": 2})
    if i % 20 == 0:
        tally.errors["get_ticket_status"] = 1
    if i % 50 == 3:
        tally.observe(
            events.POLICY_DECISION, events.policy_decision("call_tool", "t", "deny").payload
        )
    if i % 50 == 4:
        for _ in range(2):
            tally.observe(
                events.POLICY_DECISION, events.policy_decision("call_tool", "t", "allow").payload
            )
    status, reason = _status(i, tally)
    return "desk", "rel-a", 100.0 + 10 * (i % 100), 0.001, status, reason, tally


def _status(i: int, tally: RunTally) -> tuple[str, str | None]:
    kind = i % 10
    if kind == 7:
        return "incomplete", "max_cost_usd" if i % 100 == 97 else "max_steps"
    if kind == 8:
        failed = events.model_failed("m", "rate_limit_exceeded", "slow down", "UpstreamError", 0.1)
        tally.observe(failed.kind, failed.payload)
        return "failed", "rate_limit_exceeded"
    if kind == 9:
        return "incomplete", "deadline_s"
    return "completed", None


def _entries(
    run_id: str, context: EventContext, at: float, latency_ms: float, finished: events.Event | None
) -> list[JournalEntry]:
    started = events.run_started("m")
    entries = [JournalEntry(run_id, 1, started.kind, 0, at, context.stamp(started.payload))]
    if finished is not None:
        payload = context.stamp(finished.payload)
        entries.append(JournalEntry(run_id, 2, finished.kind, 1, at + latency_ms / 1000, payload))
    return entries


async def _create(
    store: SQLStore,
    tenant: str,
    run_id: str,
    spec: tuple[str, str, float, float, str, str | None, RunTally],
    at: float,
    finished: bool = True,
) -> None:
    agent, release, latency_ms, cost, status, reason, tally = spec
    context = EventContext(agent, "1", release, "key_seed", "req_seed")
    usage = {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120}
    end = events.run_finished(status, reason, usage, cost, latency_ms / 1000, tally, 2)
    run = StoredRun(
        run_id, tenant, agent, "1", status if finished else "in_progress", int(at), int(at), "{}"
    )
    await store.journal.create_run(
        run, _entries(run_id, context, at, latency_ms, end if finished else None)
    )


def _feedback(
    tenant: str, run_id: str, score: float | None, label: str | None, at: float
) -> StoredFeedback:
    return StoredFeedback(f"fb_{run_id}", tenant, run_id, "client", score, label, None, None, at)


async def seed(store: SQLStore, tenant: str) -> None:
    """Write the whole data set (see the module docstring)."""
    work = []
    for i in range(1400):
        at = SINCE + 400 * i
        work.append(_create(store, tenant, f"run_{tenant}_{i}", _run_spec(i), at))
    for k in range(5):
        spec = ("desk", "rel-a", 0.0, 0.0, "in_progress", None, RunTally())
        work.append(_create(store, tenant, f"run_{tenant}_open{k}", spec, SINCE + 1000 + k, False))
    other = ("desk", "rel-a", 1.0, 5.0, "completed", None, RunTally())
    work.append(_create(store, tenant + "-other", f"run_{tenant}_other", other, SINCE + 10))
    for j in range(200):
        spec = ("desk", "rel-a", 500.0, 0.001, "completed", None, RunTally())
        work.append(_create(store, tenant, f"run_{tenant}_prev{j}", spec, SINCE - SPAN + 3000 * j))
    for start in range(0, len(work), 100):
        await asyncio.gather(*work[start : start + 100])
    notes = []
    for i in range(1400):
        run_id, at = f"run_{tenant}_{i}", SINCE + 400 * i + 5
        if i < 1000 and i % 100 == 1:
            notes.append(_feedback(tenant, run_id, -1.0, None, at))
        elif i >= 1000 and i % 4 == 0:
            notes.append(_feedback(tenant, run_id, 0.5, "good", at))
        elif i == 1001:
            notes.append(_feedback(tenant, run_id, None, "wrong", at))
    await asyncio.gather(*(store.outcomes.add_feedback(n) for n in notes))
