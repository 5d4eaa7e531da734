"""The agent loop as named steps over an explicit :class:`RunState` (DESIGN §4).

    list tools → gate (limits) → reserve cost → call model → resolve output
      → gate (tool limits) → act (tool calls, concurrently) → repeat or finish

Every step is journaled before and after it happens (:mod:`.journal`). The loop yields
stream events when ``live`` (already placed at their final ``output_index``) and always ends
by yielding one :class:`ModelResult` for the whole run, so that the response service can
treat an agent exactly like a model provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from pilothouse.control.pricing import ModelPrice
from pilothouse.errors import BudgetExceeded, PilothouseError
from pilothouse.protocol import items as wire
from pilothouse.protocol.events import item_events
from pilothouse.protocol.ids import new_id
from pilothouse.runtime.agent import events, limits
from pilothouse.runtime.agent.cost import DEFAULT_OUTPUT_CAP, CostMeter
from pilothouse.runtime.agent.journal import RunJournal
from pilothouse.runtime.agent.limits import LimitHit
from pilothouse.runtime.agent.state import RunState, idempotency_key, mcp_item_id
from pilothouse.runtime.agent.switches import SwitchBoard
from pilothouse.runtime.agent.tool_guard import Screened, ToolGuard
from pilothouse.runtime.history import model_view
from pilothouse.runtime.providers.base import (
    Item,
    ModelProvider,
    ModelRequest,
    ModelResult,
    StreamEvent,
)
from pilothouse.runtime.tools.base import ToolCall, ToolGateway, ToolResult

Emitted = StreamEvent | ModelResult


@dataclass(slots=True)
class BoundModel:
    """A provider with the upstream name of the agent's model on it."""

    provider: ModelProvider
    upstream_model: str
    public_model: str


@dataclass(frozen=True, slots=True)
class Stop:
    """The loop ends: with this status, because of a bound (``hit``) or a model's ``reason``."""

    status: str
    hit: LimitHit | None = None
    reason: str | None = None


@dataclass(slots=True)
class PendingCall:
    """A governed call the model asked for, with its place in the run."""

    position: int
    item_id: str
    call: ToolCall | None
    name: str
    arguments: str
    parse_error: str | None = None
    approval_id: str | None = None


class Executor:
    """Runs one agent run to its end. See the module docstring."""

    def __init__(
        self,
        state: RunState,
        model: BoundModel,
        gateway: ToolGateway,
        meter: CostMeter,
        journal: RunJournal,
        switches: SwitchBoard,
        guard: ToolGuard | None = None,
    ) -> None:
        self.guard = guard
        self.state = state
        self.model = model
        self.gateway = gateway
        self.meter = meter
        self.journal = journal
        self.switches = switches

    async def run(
        self,
        live: bool,
        pending: list[PendingCall] | None = None,
        stop_after_pending: bool = False,
    ) -> AsyncIterator[Emitted]:
        """Drive the loop; yields stream events (when ``live``) and finally the result.

        ``pending`` (resume only) are calls journaled as intents but never completed; they
        run first, then the loop goes on — unless ``stop_after_pending`` (the model also
        asked for client tools, whose results only the client can bring).
        """
        pending = pending or await self._answered_approvals()
        for listed in self._list_tools(live):
            yield listed
        halt: Stop | None = Stop("completed") if stop_after_pending else None
        async for resumed in self.run_calls(pending, live) if pending else _nothing():
            if isinstance(resumed, Stop):
                halt = resumed
            else:
                yield resumed
        if halt is not None:
            async for final in self._finish(halt.status, live, halt.hit, halt.reason):
                yield final
            return
        while True:
            stop: Stop | None = None
            async for step_event in self._step(live):
                if isinstance(step_event, Stop):
                    stop = step_event
                else:
                    yield step_event
            if stop is not None:
                async for final in self._finish(stop.status, live, stop.hit, stop.reason):
                    yield final
                return

    async def _answered_approvals(self) -> list[PendingCall]:
        """A continuation's calls: those its ``mcp_approval_response`` items answer."""
        if self.guard is None:
            return []
        pending = await self.guard.answered()
        if pending:
            self._record_intents(pending)
            await self.journal.flush()
        return pending

    async def _step(self, live: bool) -> AsyncIterator[StreamEvent | Stop]:
        """One model step and the tool calls it asks for; ends with a Stop to finish."""
        state = self.state
        await self.switches.refresh()
        request = self._prepare_turn()
        price = self.meter.price_for(self.model.public_model, self.model.upstream_model)
        worst = self.meter.worst_case(price, request)
        hit = self._gate(worst)
        if hit is not None:
            yield Stop("incomplete", hit)
            return
        self.journal.emit(events.model_started(self.model.upstream_model, worst))
        await self.journal.flush()
        state.step += 1
        result: ModelResult | None = None
        began = time.monotonic()
        try:
            async for event in self._call_model(request, live):
                if isinstance(event, ModelResult):
                    result = event
                else:
                    yield event
        except TimeoutError:
            yield Stop(
                "incomplete",
                LimitHit(
                    "deadline_s",
                    "the run reached its deadline of "
                    f"{state.limits.deadline_s:g} s during a model call",
                ),
            )
            return
        except PilothouseError as exc:
            yield await self._model_failed(exc, live, time.monotonic() - began)
            return
        assert result is not None
        self._settle(result, price, time.monotonic() - began)
        pending, client_calls = self._resolve(result)
        if result.status != "completed":
            reason = (result.incomplete_details or {}).get("reason", result.status)
            yield Stop(result.status, reason=reason)
            return
        stop = self._before_acting(pending)
        if stop is not None:
            yield stop
            return
        async for event in self._act(pending, live):
            if isinstance(event, Stop):
                yield event
                return
            yield event
        if client_calls:
            yield Stop("completed")
        elif state.agent.end_on_tool_error and any(
            item.get("error") for item in state.output[-len(pending) :]
        ):
            yield Stop(
                "incomplete",
                LimitHit("tool_error", "a tool failed and the agent ends its run on tool errors"),
            )

    def _gate(self, worst_case: float) -> LimitHit | None:
        """Bounds checked before a model step, the cost ceiling included."""
        state = self.state
        hit = limits.before_model_step(state, self.switches.reason(state.agent.name))
        if hit is None and not self.meter.admits(state.cost_usd, worst_case):
            hit = LimitHit(
                "max_cost_usd",
                f"the next step could exceed the cost ceiling of "
                f"${self.meter.ceiling_usd:g} (spent ${state.cost_usd:.6f})",
            )
        if hit is None and self.guard is not None:
            hit = self.guard.check_model(self.model.public_model)
        return hit

    async def _model_failed(self, exc: PilothouseError, live: bool, latency_s: float) -> Stop:
        """A model call that raised: the run fails with the error, except that a key's or
        tenant's budget (runtime/budgets) hit while the run is underway ends it here."""
        state = self.state
        if isinstance(exc, BudgetExceeded) and (state.step > 1 or (live and state.output)):
            state.step -= 1  # refused before it reached the model: not a step taken
            return Stop("incomplete", LimitHit(exc.code or "budget_exceeded", exc.message))
        self.journal.emit(
            events.model_failed(
                self.model.upstream_model, exc.code, exc.message, type(exc).__name__, latency_s
            )
        )
        self.journal.finished("failed", exc.code)
        await self.journal.flush(status="failed")
        raise exc

    def _settle(self, result: ModelResult, price: ModelPrice | None, latency_s: float) -> None:
        """Account the call's usage and actual cost, and journal its output."""
        state = self.state
        cost = price.cost(result.usage or {}) if price else 0.0
        state.cost_usd = round(state.cost_usd + cost, 9)
        state.add_usage(result.usage)
        self.journal.emit(
            events.model_completed(
                self.model.upstream_model,
                result.output,
                result.usage,
                cost,
                result.status,
                latency_s,
            )
        )

    def _before_acting(self, pending: list[PendingCall]) -> Stop | None:
        """Whether the run ends here instead of running the calls the model asked for."""
        if not pending:
            return Stop("completed")
        last_step = self.state.limits.max_steps
        if last_step is not None and self.state.step >= last_step:
            # No model call could read these results: running them would be a side effect
            # without purpose.
            return Stop(
                "incomplete",
                LimitHit(
                    "max_steps",
                    f"the run reached its limit of "
                    f"{last_step} model steps before it could use the tools it asked for",
                ),
            )
        return None

    # -- steps -------------------------------------------------------------------------

    def _list_tools(self, live: bool) -> list[StreamEvent]:
        """Emit ``mcp_list_tools`` once per conversation for the agent's tools."""
        state = self.state
        label = state.agent.server_label
        if not state.tools or state.tools_listed:
            return []
        state.tools_listed = True
        item = {
            "type": "mcp_list_tools",
            "id": new_id("mcpl"),
            "server_label": label,
            "tools": [t.as_mcp_listing() for t in state.tools.values()],
            "error": None,
        }
        state.output.append(item)
        self.journal.emit(events.tools_listed(item))
        return list(item_events(item, len(state.output) - 1)) if live else []

    def _prepare_turn(self) -> ModelRequest:
        """The model request for the next step."""
        state = self.state
        options = dict(state.options)
        cap = state.limits.max_output_tokens
        if cap is not None:
            options["max_output_tokens"] = min(cap, options.get("max_output_tokens") or cap)
        elif self.meter.ceiling_usd is not None:
            options.setdefault("max_output_tokens", DEFAULT_OUTPUT_CAP)
        tools = [t.as_function_tool() for t in state.tools.values()] + state.client_tools
        return ModelRequest(
            model=self.model.upstream_model,
            input=state.history,
            instructions=state.instructions,
            tools=tools,
            options=options,
            headers=state.headers,
        )

    async def _call_model(self, request: ModelRequest, live: bool) -> AsyncIterator[Emitted]:
        """One model call within the deadline; live events are moved to their final index."""
        remaining = self.state.remaining_s()
        async with asyncio.timeout(remaining):
            if not live:
                yield await self.model.provider.complete(request)
                return
            placement: dict[int, int | None] = {}
            next_index = len(self.state.output)
            async for event in self.model.provider.stream(request):
                if isinstance(event, ModelResult):
                    yield event
                    return
                index = event.get("output_index")
                if event.get("type") == "response.output_item.added" and index is not None:
                    item = event.get("item") or {}
                    governed = item.get("type") == "function_call" and (
                        item.get("name") in self.state.tools
                    )
                    placement[index] = None if governed else next_index
                    if not governed:
                        next_index += 1
                target = placement.get(index) if index is not None else None
                if target is not None:
                    yield {**event, "output_index": target}

    def _resolve(self, result: ModelResult) -> tuple[list[PendingCall], bool]:
        """Sort the model's output: governed calls to run, everything else to the output."""
        state = self.state
        pending: list[PendingCall] = []
        client_calls = False
        for item in result.output:
            if item.get("type") == "function_call" and item.get("name") in state.tools:
                pending.append(self._pending_call(len(pending), item))
                continue
            state.output.append(item)
            state.history.append(item)
            client_calls = client_calls or item.get("type") == "function_call"
        return pending, client_calls

    def _pending_call(self, position: int, item: Item) -> PendingCall:
        state = self.state
        raw = item.get("arguments") or "{}"
        item_id = mcp_item_id(state.run_id, state.step, position)
        try:
            arguments = orjson.loads(raw)
            if not isinstance(arguments, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return PendingCall(position, item_id, None, item["name"], raw, f"invalid JSON: {exc}")
        call = ToolCall(
            name=item["name"],
            arguments=arguments,
            call_id=item.get("call_id", item_id),
            idempotency_key=idempotency_key(state.run_id, state.step, position),
            run_id=state.run_id,
            headers={**state.headers, "x-pilothouse-run-id": state.run_id},
        )
        return PendingCall(position, item_id, call, item["name"], raw)

    async def _act(self, pending: list[PendingCall], live: bool) -> AsyncIterator[Any]:
        """Gate, journal the intents, run the calls, record the results."""
        state = self.state
        runnable = [p for p in pending if p.call is not None]
        hit = limits.before_tool_calls(
            state, [(p.call.name, p.call.arguments) for p in runnable if p.call is not None]
        )
        if hit is not None:
            yield Stop("incomplete", hit)
            return
        self._record_intents(pending)
        await self.journal.flush()
        async for event in self.run_calls(pending, live):
            yield event

    def _record_intents(self, pending: list[PendingCall]) -> None:
        """Journal the calls about to run (journal first)."""
        for p in pending:
            self.journal.emit(
                events.tool_intent(
                    p.position,
                    p.item_id,
                    p.name,
                    p.arguments,
                    p.call.call_id if p.call else None,
                    p.call.idempotency_key if p.call else None,
                    p.parse_error,
                    p.approval_id,
                )
            )

    async def run_calls(self, pending: list[PendingCall], live: bool) -> AsyncIterator[Any]:
        """Run calls whose intents are journaled, and record their results.

        Also the entry point of resume, for calls whose intent was written before a crash:
        they are sent again with the same idempotency keys.
        """
        state = self.state
        screened = await self.guard.screen(pending) if self.guard else None
        runnable = [p for p in pending if p.call is not None and _cleared(p, screened)]
        base = len(state.output)
        if live:
            for offset, p in enumerate(pending):
                if screened is not None and p.position in screened.awaiting:
                    continue
                for event in _call_started(self._mcp_item(p, None), base + offset):
                    yield event
        results = (
            await self.gateway.execute(
                [p.call for p in runnable if p.call is not None], state.tool_budget
            )
            if runnable
            else []
        )
        by_position = {p.position: r for p, r in zip(runnable, results, strict=True)}
        for offset, p in enumerate(pending):
            request = screened.awaiting.get(p.position) if screened else None
            if request is not None:
                state.output.append(request)
                for event in item_events(request, base + offset) if live else ():
                    yield event
                continue
            item = self._settle_call(p, by_position.get(p.position), screened)
            if live:
                for event in _call_finished(item, base + offset):
                    yield event
        halt = _halt(screened)
        if halt is not None:
            yield halt

    def _settle_call(
        self, p: PendingCall, outcome: ToolResult | None, screened: Screened | None
    ) -> Item:
        """The call's ``mcp_call`` item (failed when policy blocked it), added to the output
        and the model's history, its attempts and result journaled."""
        item = self._mcp_item(p, outcome)
        if screened is not None and p.position in screened.blocked:
            item.update(status="failed", error=screened.blocked[p.position])
        self.state.output.append(item)
        self.state.history.extend(model_view([item]))
        if outcome is not None:
            self.journal.attempts(p.position, outcome)
        self.journal.emit(
            events.tool_completed(
                p.position,
                p.name,
                item,
                p.call.idempotency_key if p.call else None,
                outcome.output if outcome else None,
                outcome.error if outcome else None,
                outcome.attempts if outcome else 0,
                outcome.latency_s if outcome else 0.0,
            )
        )
        return item

    def _mcp_item(self, pending: PendingCall, result: ToolResult | None) -> Item:
        item: Item = {
            "type": "mcp_call",
            "id": pending.item_id,
            "server_label": self.state.agent.server_label,
            "name": pending.name,
            "arguments": pending.arguments,
            "output": None,
            "error": None,
            "status": "in_progress",
            "approval_request_id": pending.approval_id,
        }
        if pending.parse_error is not None:
            item.update(status="failed", error=f"invalid_arguments: {pending.parse_error}")
        elif result is not None and result.error is not None:
            item.update(status="failed", error=f"{result.error['code']}: {result.error['message']}")
        elif result is not None:
            output = result.output
            item.update(
                status="completed",
                output=output if isinstance(output, str) else orjson.dumps(output).decode(),
            )
        return item

    async def _finish(
        self, status: str, live: bool, hit: LimitHit | None = None, reason: str | None = None
    ) -> AsyncIterator[Emitted]:
        """Close the run: a final message for a bound, the journal, then the result."""
        state = self.state
        if hit is not None:
            reason = hit.reason
            message = wire.assistant_message(limits.final_message(hit))
            state.output.append(message)
            self.journal.emit(events.limit_hit(hit.reason, hit.message))
            if live:
                for event in item_events(message, len(state.output) - 1):
                    yield event
        state.status = status
        state.incomplete_reason = reason if status == "incomplete" else None
        self.journal.finished(status, state.incomplete_reason)
        await self.journal.finish(status)
        yield ModelResult(
            output=state.output,
            usage=state.usage(),
            status=status,
            incomplete_details={"reason": reason} if status == "incomplete" else None,
            model=self.model.public_model,
            extension=run_extension(state),
        )


def run_extension(state: RunState) -> dict[str, Any]:
    """The ``pilothouse`` object on an agent's response: who ran it and what it cost."""
    return {
        "run_id": state.run_id,
        "agent": state.agent.name,
        "agent_version": state.agent.version,
        "release_id": state.release_id,
        "environment": state.environment,
        "steps": state.step,
        "tool_calls": state.tool_calls,
        "cost_usd": state.cost_usd,
    }


async def _nothing() -> AsyncIterator[Any]:
    """An empty event stream."""
    return
    yield


def _halt(screened: Screened | None) -> Stop | None:
    """Where the guard ends the run: a refusal under ``on_deny: end``, or approvals to
    wait for (the response is complete; a continuation carries the decisions)."""
    if screened is None:
        return None
    if screened.end is not None:
        return Stop("incomplete", screened.end)
    return Stop("completed") if screened.awaiting else None


def _cleared(pending: PendingCall, screened: Screened | None) -> bool:
    """Whether the guard (if any) lets the call run."""
    return screened is None or pending.position in screened.allowed


def _call_started(item: Item, index: int) -> list[StreamEvent]:
    return [
        {"type": "response.output_item.added", "output_index": index, "item": item},
        {
            "type": "response.mcp_call_arguments.delta",
            "output_index": index,
            "item_id": item["id"],
            "delta": item["arguments"],
        },
        {
            "type": "response.mcp_call_arguments.done",
            "output_index": index,
            "item_id": item["id"],
            "arguments": item["arguments"],
        },
        {"type": "response.mcp_call.in_progress", "output_index": index, "item_id": item["id"]},
    ]


def _call_finished(item: Item, index: int) -> list[StreamEvent]:
    outcome = "failed" if item["status"] == "failed" else "completed"
    return [
        {"type": f"response.mcp_call.{outcome}", "output_index": index, "item_id": item["id"]},
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]
