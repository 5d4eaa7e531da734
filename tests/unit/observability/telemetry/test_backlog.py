"""The observability backlog: work waits for its timer (or a flush), runs in order, never
fails its caller, never outgrows its bound, and is not stranded on a loop that stopped;
metrics queue their updates on it and a scrape sees every update made before it."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pilothouse.observability.backlog import Backlog
from pilothouse.observability.metrics import Metrics


async def test_work_runs_after_the_delay_in_order() -> None:
    backlog = Backlog(delay_s=0.001)
    done: list[int] = []
    for n in range(3):
        backlog.add(done.append, n)
    assert done == [] and len(backlog) == 3  # the caller's path does not run it
    await asyncio.sleep(0.05)
    assert done == [0, 1, 2] and len(backlog) == 0


async def test_flush_runs_everything_now_and_the_timer_finds_nothing() -> None:
    backlog = Backlog(delay_s=0.001)
    done: list[str] = []
    backlog.add(done.append, "a")
    backlog.flush()
    assert done == ["a"]
    await asyncio.sleep(0.02)
    assert done == ["a"]


def test_without_a_running_loop_work_runs_at_once() -> None:
    backlog = Backlog()
    done: list[str] = []
    backlog.add(done.append, "now")
    assert done == ["now"] and len(backlog) == 0


async def test_a_failing_piece_is_logged_and_the_rest_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backlog = Backlog(delay_s=60)
    done: list[str] = []

    def broken() -> None:
        raise RuntimeError("exporter fell over")

    backlog.add(done.append, "before")
    backlog.add(broken)
    backlog.add(done.append, "after")
    with caplog.at_level(logging.ERROR, logger="pilothouse.observability.backlog"):
        backlog.flush()
    assert done == ["before", "after"]
    assert "deferred observability work failed" in caplog.text


async def test_pending_work_is_bounded() -> None:
    backlog = Backlog(delay_s=60, max_pending=10)
    done: list[int] = []
    for n in range(10):
        backlog.add(done.append, n)
    assert done == []
    backlog.add(done.append, 10)  # one past the bound: everything runs, in order
    assert done == list(range(11)) and len(backlog) == 0


def test_work_is_not_stranded_on_a_loop_that_stopped() -> None:
    backlog = Backlog(delay_s=0.001)
    done: list[str] = []

    async def add(tag: str) -> None:
        backlog.add(done.append, tag)

    first = asyncio.new_event_loop()
    first.run_until_complete(add("first"))  # its timer never fires: the loop stops now
    first.close()
    assert done == []

    async def add_and_wait() -> None:
        await add("second")
        await asyncio.sleep(0.05)

    asyncio.run(add_and_wait())
    assert done == ["first", "second"]


def _value(metrics: Metrics, name: str, **labels: str) -> float | None:
    text = metrics.exposition().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


async def test_metrics_queue_their_updates_and_a_scrape_sees_them() -> None:
    backlog = Backlog(delay_s=60)
    metrics = Metrics(backlog)
    metrics.model_call("gpt-4o", "completed", 0.2, {"input_tokens": 10, "output_tokens": 4})
    metrics.budget_usage(scope="tenant", subject="acme", window="day", ratio=0.5)
    assert len(backlog) == 2  # queued, not applied
    series = metrics.model_calls.labels("gpt-4o", "completed")
    assert series._value.get() == 0
    assert _value(metrics, "pilothouse_model_calls_total", model="gpt-4o", status="completed") == 1
    assert len(backlog) == 0
    usage = {"scope": "tenant", "subject": "acme", "window": "day"}
    assert _value(metrics, "pilothouse_budget_usage_ratio", **usage) == 0.5
    input_tokens = {"model": "gpt-4o", "direction": "input"}
    assert _value(metrics, "pilothouse_tokens_total", **input_tokens) == 10


async def test_flush_soon_runs_the_work_at_the_next_turn_not_after_the_delay() -> None:
    backlog = Backlog(delay_s=60)
    done: list[str] = []
    backlog.add(done.append, "answered")
    backlog.flush_soon()
    assert done == []  # not on the caller's path
    await asyncio.sleep(0.01)
    assert done == ["answered"] and len(backlog) == 0
    backlog.flush_soon()  # nothing pending: nothing scheduled
    assert backlog._timer is None
