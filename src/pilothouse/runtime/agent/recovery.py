"""Resume and replay: a run rebuilt from its journal.

:func:`rebuild` folds the journal into a :class:`RunState` (what the model saw, what the
response showed, counters, usage and cost) plus the calls whose intent was written but
whose result was not. :func:`resume` continues such a run with live calls: interrupted
tool calls are sent again **with the same idempotency keys**, an interrupted model call is
made again, and the loop goes on. :func:`replay` re-executes a run with no live calls at
all (the model's and the tools' answers come from the journal) and reports where the
re-execution diverges from what was recorded — after a code or release change, say.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from pilothouse.control.agent import AgentSpec, Limits
from pilothouse.errors import Conflict, NotFound
from pilothouse.protocol import items as wire
from pilothouse.runtime.agent.cost import CostMeter
from pilothouse.runtime.agent.executor import BoundModel, Executor, PendingCall, run_extension
from pilothouse.runtime.agent.journal import RunJournal
from pilothouse.runtime.agent.limits import LimitHit, final_message
from pilothouse.runtime.agent.policy_gate import principal_from_json
from pilothouse.runtime.agent.runner import AgentRuntime
from pilothouse.runtime.agent.source import AgentSource
from pilothouse.runtime.agent.state import RunState, call_signature, tool_budget
from pilothouse.runtime.agent.switches import SwitchBoard
from pilothouse.runtime.history import model_view
from pilothouse.runtime.providers.base import ModelRequest, ModelResult, StreamEvent
from pilothouse.runtime.tools.base import RunToolBudget, ToolCall, ToolResult
from pilothouse.storage.base import JournalEntry, JournalStore, StoredRun


@dataclass(slots=True)
class Rebuilt:
    """A run as its journal describes it."""

    state: RunState
    spec: dict[str, Any]
    pending: list[PendingCall] = field(default_factory=list)
    finished: dict[str, Any] | None = None
    client_calls: bool = False


def initial_state(run: StoredRun, spec: dict[str, Any], limits: Limits | None = None) -> RunState:
    """The state a run started with, from its stored spec."""
    agent = AgentSpec.model_validate(spec["agent"])
    limits = limits or Limits.model_validate(spec["limits"])
    return RunState(
        run_id=run.id,
        tenant=run.tenant,
        agent=agent,
        limits=limits,
        tools={},
        instructions=spec["instructions"],
        history=list(spec["history"]),
        client_tools=list(spec["client_tools"]),
        options=dict(spec["options"]),
        headers=dict(spec["headers"]),
        model=spec["model"],
        started_at=float(spec["started_at"]),
        release_id=spec.get("release_id"),
        environment=spec.get("environment"),
        tool_budget=tool_budget(limits),
        principal_id=spec.get("principal_id"),
    )


def rebuild(state: RunState, spec: dict[str, Any], entries: list[JournalEntry]) -> Rebuilt:
    """Fold the journal into ``state``. See the module docstring."""
    rebuilt = Rebuilt(state, spec)
    intents: dict[int, dict[str, Any]] = {}
    model_open = False
    for entry in entries:
        state.seq = max(state.seq, entry.seq)
        payload = entry.payload
        if entry.kind == "tools.listed":
            state.output.append(payload["item"])
            state.tools_listed = True
        elif entry.kind == "model.started":
            state.step += 1
            model_open = True
        elif entry.kind == "model.completed":
            model_open = False
            intents = {}
            rebuilt.client_calls = _apply_model_output(state, payload)
        elif entry.kind == "tool.intent":
            intents[payload["position"]] = payload
            _count_call(state, payload)
        elif entry.kind == "tool.completed":
            intents.pop(payload["position"], None)
            state.output.append(payload["item"])
            state.history.extend(model_view([payload["item"]]))
        elif entry.kind == "approval.requested":
            intents.pop(payload["position"], None)
            state.output.append(payload["item"])
        elif entry.kind == "limit.hit":
            hit = LimitHit(payload["reason"], payload["message"])
            state.output.append(wire.assistant_message(final_message(hit)))
        elif entry.kind == "run.finished":
            rebuilt.finished = payload
    if model_open:
        state.step -= 1  # the interrupted model call is made again
    rebuilt.pending = [_pending(state, intents[p]) for p in sorted(intents)]
    return rebuilt


def _apply_model_output(state: RunState, payload: dict[str, Any]) -> bool:
    state.cost_usd = round(state.cost_usd + float(payload.get("cost_usd") or 0.0), 9)
    state.add_usage(payload.get("usage"))
    client_calls = False
    for item in payload["output"]:
        if item.get("type") == "function_call" and item.get("name") in state.agent.tools:
            continue
        state.output.append(item)
        state.history.append(item)
        client_calls = client_calls or item.get("type") == "function_call"
    return client_calls


def _count_call(state: RunState, intent: dict[str, Any]) -> None:
    state.tool_calls += 1
    state.per_tool[intent["name"]] += 1
    try:
        arguments = orjson.loads(intent["arguments"] or "{}")
    except orjson.JSONDecodeError:
        return
    if isinstance(arguments, dict):
        state.identical[call_signature(intent["name"], arguments)] += 1


def _pending(state: RunState, intent: dict[str, Any]) -> PendingCall:
    call = None
    if intent.get("parse_error") is None and intent.get("idempotency_key"):
        call = ToolCall(
            name=intent["name"],
            arguments=orjson.loads(intent["arguments"] or "{}"),
            call_id=intent.get("call_id") or intent["item_id"],
            idempotency_key=intent["idempotency_key"],
            run_id=state.run_id,
            headers={**state.headers, "x-pilothouse-run-id": state.run_id},
        )
    return PendingCall(
        intent["position"],
        intent["item_id"],
        call,
        intent["name"],
        intent["arguments"],
        intent.get("parse_error"),
    )


def final_result(state: RunState, finished: dict[str, Any]) -> ModelResult:
    """The result a finished run ended with."""
    status = finished["status"]
    reason = finished.get("reason")
    return ModelResult(
        output=state.output,
        usage=state.usage(),
        status=status,
        incomplete_details={"reason": reason} if status == "incomplete" else None,
        model=state.model,
        extension=run_extension(state),
    )


async def _load(
    source: AgentSource, journal: JournalStore | None, tenant: str, run_id: str
) -> tuple[StoredRun, list[JournalEntry], dict[str, Any], AgentRuntime]:
    """The run, its journal, its spec, and the runtime of the release it ran on."""
    if journal is None:
        raise Conflict("Runs cannot be resumed without a journal store.", code="no_journal")
    run = await journal.get_run(tenant, run_id)
    if run is None:
        raise NotFound(f"Run '{run_id}' not found.", param="run_id")
    spec: dict[str, Any] = orjson.loads(run.spec)
    runtime = await source.runtime_for(spec.get("release_id"))
    if runtime is None:
        raise NotFound(
            f"The release of run '{run_id}' is not available.",
            param="run_id",
            code="release_not_found",
        )
    return run, await journal.read(run_id), spec, runtime


async def resume(
    source: AgentSource, journal: JournalStore | None, tenant: str, run_id: str
) -> tuple[ModelResult, dict[str, Any]]:
    """Continue a run after a crash; returns its result and its stored spec."""
    run, entries, spec, runtime = await _load(source, journal, tenant, run_id)
    state = initial_state(run, spec)
    state.tools = {name: runtime.tools[name] for name in state.agent.tools if name in runtime.tools}
    rebuilt = rebuild(state, spec, entries)
    if rebuilt.finished is not None:
        return final_result(state, rebuilt.finished), spec
    resolved = runtime.router.resolve_chain([state.agent.model, *state.agent.fallbacks])
    model = BoundModel(resolved.provider, resolved.upstream_model, state.agent.model)
    run_journal = RunJournal(runtime.journal, state)
    run_journal.seed(entries)
    principal = principal_from_json(spec.get("principal"), run.tenant)  # never an allow-all
    meter = CostMeter(runtime.pricing, state.limits.max_cost_usd)
    price = meter.price_for(state.agent.model, resolved.upstream_model)
    # Observed like a fresh run; its span is a child of the crashed run's (same trace).
    observed = runtime.observer.observe(state, model, runtime.gateway, price)
    executor = Executor(
        state,
        observed.model,
        observed.gateway,
        meter,
        run_journal,
        runtime.switches,
        runtime.guard(principal, state, run_journal, []),
    )
    result: ModelResult | None = None
    try:
        async for event in executor.run(
            False, rebuilt.pending, stop_after_pending=rebuilt.client_calls
        ):
            if isinstance(event, ModelResult):
                result = event
    except BaseException as exc:
        observed.end(state, exc)
        raise
    observed.end(state, None)
    assert result is not None
    return result, spec


@dataclass(slots=True)
class ReplayReport:
    """What a replay found.

    Attributes:
        status: The status the re-execution ended with.
        recorded_status: The status the journal recorded (None if the run never finished).
        divergences: Where re-execution differed from the record (empty: faithful).
        output: The re-executed response output.
    """

    run_id: str
    status: str
    recorded_status: str | None
    divergences: list[str]
    output: list[dict[str, Any]]
    model_calls: int
    tool_calls: int

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "recorded_status": self.recorded_status,
            "faithful": not self.divergences,
            "divergences": self.divergences,
            "model_calls": self.model_calls,
            "tool_calls": self.tool_calls,
            "output": self.output,
        }


class JournalModel:
    """A model that answers with the journal's recorded outputs, in order."""

    name = "journal"

    def __init__(self, completions: list[dict[str, Any]], divergences: list[str]) -> None:
        self.completions = completions
        self.divergences = divergences
        self.calls = 0

    async def complete(self, request: ModelRequest) -> ModelResult:
        """The next recorded output (an empty answer once the record is exhausted)."""
        self.calls += 1
        if self.calls > len(self.completions):
            self.divergences.append(f"model call {self.calls} was not in the journal")
            return ModelResult(output=[wire.assistant_message("")], usage=None)
        payload = self.completions[self.calls - 1]
        return ModelResult(
            output=payload["output"],
            usage=payload.get("usage"),
            status=payload.get("status", "completed"),
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        """Replays never stream."""
        yield await self.complete(request)

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """Not needed for replay."""
        return 0

    async def aclose(self) -> None:
        """Nothing to release."""


class JournalGateway:
    """A tool gateway that answers with the journal's recorded results, by idempotency key."""

    def __init__(self, entries: list[JournalEntry], divergences: list[str]) -> None:
        self.intents = {
            e.payload["idempotency_key"]: e.payload
            for e in entries
            if e.kind == "tool.intent" and e.payload.get("idempotency_key")
        }
        self.results = {
            e.payload["idempotency_key"]: e.payload
            for e in entries
            if e.kind == "tool.completed" and e.payload.get("idempotency_key")
        }
        self.divergences = divergences
        self.calls = 0

    async def execute(self, calls: list[ToolCall], budget: RunToolBudget) -> list[ToolResult]:
        """The recorded result of each call; a call the journal lacks is a divergence."""
        results = []
        for call in calls:
            self.calls += 1
            intent = self.intents.get(call.idempotency_key)
            recorded = self.results.get(call.idempotency_key)
            if intent is None or recorded is None:
                self.divergences.append(
                    f"tool call {call.name} ({call.idempotency_key}) was not in the journal"
                )
                results.append(
                    ToolResult(
                        call, error={"code": "replay_missing", "message": "not in the journal"}
                    )
                )
                continue
            if orjson.loads(intent["arguments"] or "{}") != call.arguments:
                self.divergences.append(
                    f"tool call {call.name} ({call.idempotency_key}) has "
                    "different arguments than recorded"
                )
            results.append(
                ToolResult(
                    call,
                    output=recorded.get("result"),
                    error=recorded.get("error"),
                    attempts=recorded.get("attempts", 1),
                )
            )
        return results

    async def aclose(self) -> None:
        """Nothing to release."""


async def replay(
    source: AgentSource, journal: JournalStore | None, tenant: str, run_id: str
) -> ReplayReport:
    """Re-execute a run from its journal with no live calls. See the module docstring."""
    run, entries, spec, runtime = await _load(source, journal, tenant, run_id)
    recorded = Limits.model_validate(spec["limits"])
    state = initial_state(run, spec, recorded.model_copy(update={"deadline_s": None}))
    state.tools = {name: runtime.tools[name] for name in state.agent.tools if name in runtime.tools}
    divergences: list[str] = []
    completions = [e.payload for e in entries if e.kind == "model.completed"]
    model = JournalModel(completions, divergences)
    gateway = JournalGateway(entries, divergences)
    executor = Executor(
        state,
        BoundModel(model, state.agent.model, state.agent.model),
        gateway,
        CostMeter(runtime.pricing, recorded.max_cost_usd),
        RunJournal(None, state),
        SwitchBoard(None),
    )
    result: ModelResult | None = None
    async for event in executor.run(False):
        if isinstance(event, ModelResult):
            result = event
    assert result is not None
    finished = next((e.payload for e in entries if e.kind == "run.finished"), None)
    recorded_status = finished["status"] if finished else None
    if model.calls < len(completions):
        divergences.append(
            f"re-execution made {model.calls} model calls; the journal has {len(completions)}"
        )
    if recorded_status is not None and recorded_status != result.status:
        divergences.append(f"re-execution ended {result.status}; the run ended {recorded_status}")
    return ReplayReport(
        run_id,
        result.status,
        recorded_status,
        divergences,
        result.output,
        model.calls,
        gateway.calls,
    )
