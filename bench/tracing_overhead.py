"""Cost of observability per agent run: spans and metrics around one run with two model
calls and two tool calls, against the same run unobserved.

The model and the tools answer at once (no I/O), so the difference is the wrappers' own
CPU time: the ``invoke_agent``, two ``chat`` and two ``execute_tool`` spans with their
attributes, the traceparent rewrites and every metric update. Spans go through the
``BatchSpanProcessor`` to an exporter that drops them (export runs on the processor's
thread, off the request path, as in production).

    python bench/tracing_overhead.py [--runs 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from pilothouse.control.bundle import load_bundle
from pilothouse.observability.telemetry import Telemetry
from pilothouse.observability.tracing.run import TracedRuns
from pilothouse.observability.tracing.setup import build_tracer_provider
from pilothouse.runtime.agent.executor import BoundModel
from pilothouse.runtime.agent.observer import RunObserver, Unobserved
from pilothouse.runtime.agent.state import RunState, tool_budget
from pilothouse.runtime.providers.base import ModelRequest, ModelResult
from pilothouse.runtime.tools.base import RunToolBudget, ToolCall, ToolResult

BUNDLE = Path(__file__).parents[1] / "tests" / "fixtures" / "bundles" / "faulty"
USAGE = {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150}


class Dropping(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class InstantModel:
    name = "bench"

    async def complete(self, request: ModelRequest) -> ModelResult:
        return ModelResult(output=[], usage=USAGE, model=request.model)


class InstantTools:
    async def execute(self, calls: list[ToolCall], budget: RunToolBudget) -> list[ToolResult]:
        return [ToolResult(call=c, output={"ok": True}, attempts=1, latency_s=0.001) for c in calls]

    async def aclose(self) -> None:
        return None


async def one_run(observer: RunObserver, state: RunState, model: BoundModel) -> None:
    run = observer.observe(state, model, InstantTools(), None)
    request = ModelRequest(model="gpt-4o-mini", input=[], headers=state.headers)
    for step in range(2):
        await run.model.provider.complete(request)
        calls = [
            ToolCall(name, {}, f"c{step}{i}", f"k{step}{i}", state.run_id, dict(state.headers))
            for i, name in enumerate(("get_ticket", "add_incident_note"))
        ]
        if step == 0:
            await run.gateway.execute(calls, state.tool_budget)
    state.status = "completed"
    run.end(state, None)


async def measure(observer: RunObserver, runs: int) -> float:
    """Median µs per run over batches of 1,000."""
    spec = load_bundle(BUNDLE).agents["noter"]
    model = BoundModel(InstantModel(), "gpt-4o-mini", "gpt-4o-mini")
    states = [
        RunState(
            run_id=f"resp_{n}",
            tenant="default",
            agent=spec,
            limits=spec.limits,
            tools={},
            instructions=None,
            history=[],
            headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
            tool_budget=tool_budget(spec.limits),
        )
        for n in range(runs)
    ]
    batches: list[float] = []
    for start in range(0, runs, 1000):
        began = time.perf_counter()
        for state in states[start : start + 1000]:
            await one_run(observer, state, model)
        batches.append((time.perf_counter() - began) / 1000 * 1e6)
    return statistics.median(batches)


async def main(runs: int) -> None:
    provider = build_tracer_provider(Dropping())
    traced = TracedRuns(Telemetry(provider=provider))
    metrics_only = TracedRuns(Telemetry())
    bare: RunObserver = Unobserved()
    for _ in range(2):  # warm up, then measure
        figures = {
            "unobserved": await measure(bare, runs),
            "metrics only (tracing off)": await measure(metrics_only, runs),
            "metrics + spans": await measure(traced, runs),
        }
    base = figures["unobserved"]
    for name, micros in figures.items():
        print(f"{name:28s} {micros:8.1f} µs/run   (+{micros - base:6.1f} µs)")
    assert provider is not None
    provider.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().runs))
