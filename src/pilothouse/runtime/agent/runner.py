"""An agent run presented as a model provider.

The response service calls providers; :class:`AgentRunner` is one for a single run of one
agent. It builds the run's state from the request, records the run (journal first), and
drives the :class:`~pilothouse.runtime.agent.executor.Executor`. Streaming, background
runs, idempotency and persistence of the response are the service's, unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from pilothouse.control.agent import Limits
from pilothouse.control.pricing import Pricing
from pilothouse.control.principal import Principal
from pilothouse.control.tool_contract import ToolContract
from pilothouse.errors import InvalidRequest, PermissionDenied
from pilothouse.runtime.agent.cost import CostMeter
from pilothouse.runtime.agent.directory import Target
from pilothouse.runtime.agent.executor import BoundModel, Executor
from pilothouse.runtime.agent.journal import RunJournal
from pilothouse.runtime.agent.memo import IdentityMemo
from pilothouse.runtime.agent.observer import RunObserver, Unobserved
from pilothouse.runtime.agent.policy_gate import (
    PolicyGate,
    principal_from_json,
    principal_to_json,
)
from pilothouse.runtime.agent.state import RunState, tool_budget
from pilothouse.runtime.agent.switches import SwitchBoard
from pilothouse.runtime.agent.tool_guard import Classifier, ToolGuard, no_data_classes
from pilothouse.runtime.approvals import ApprovalService
from pilothouse.runtime.guardrails import POLICY_EVENT, ContentFilters, ReleaseGuardrails
from pilothouse.runtime.history import model_view, upstream_items
from pilothouse.runtime.providers.base import ModelRequest, ModelResult, StreamEvent
from pilothouse.runtime.providers.filtered import FilteredProvider
from pilothouse.runtime.providers.router import ModelRouter
from pilothouse.runtime.tools.base import ToolGateway
from pilothouse.storage.base import JournalStore

# Options that are ours to enforce, not the model's.
_OWN_OPTIONS = ("max_tool_calls",)


_DUMPS_KEPT = 1024
"""Dumped definitions a runtime keeps (then it starts afresh)."""


@dataclass(slots=True)
class AgentRuntime:
    """What every run shares: models, tools, prices, the journal and the kill switches."""

    router: ModelRouter
    gateway: ToolGateway
    pricing: Pricing
    tools: dict[str, ToolContract]
    journal: JournalStore | None
    switches: SwitchBoard = field(default_factory=lambda: SwitchBoard(None))
    release_id: str | None = None
    environment: str | None = None
    guardrails: ReleaseGuardrails | None = None

    def plain_filters(self) -> ContentFilters | None:
        """The content filters of plain model requests served alongside this release."""
        return self.guardrails.for_models() if self.guardrails is not None else None

    policy: PolicyGate | None = None
    approvals: ApprovalService | None = None
    classify: Classifier = no_data_classes  # data classes in a call's arguments (policy context)

    def guard(
        self, principal: Principal, state: RunState, journal: RunJournal, raw: list[Any]
    ) -> ToolGuard | None:
        """The policy gate of one run's model and tool calls (None without policies)."""
        if self.policy is None:
            return None
        return ToolGuard(self.policy, self.approvals, principal, state, journal, raw, self.classify)

    def authorize_invoke(self, principal: Principal, agent: str) -> Any:
        """``invoke_agent`` before anything runs or is stored; a denial is a 403."""
        if self.policy is None:
            return None
        decision = self.policy.authorize(principal, "invoke_agent", ("agent", agent), agent=agent)
        if not decision.allowed:
            raise PermissionDenied(
                f"Policy does not allow this key to invoke agent '{agent}': {decision.reason}",
                param="model",
                code="policy_denied",
            )
        return decision

    observer: RunObserver = field(default_factory=Unobserved)
    _dumps: IdentityMemo[dict[str, Any]] = field(
        default_factory=lambda: IdentityMemo(_DUMPS_KEPT), init=False, repr=False
    )

    def dumped(self, definition: BaseModel) -> dict[str, Any]:
        """``definition.model_dump()`` of a frozen definition (an agent, its limits), made
        once per object: every run of an agent stores the same definition in its spec.
        The dump is only serialised, never changed."""
        return self._dumps.get(definition, None, definition.model_dump)

    def runner(
        self,
        target: Target,
        *,
        run_id: str,
        tenant: str,
        requested_limits: dict[str, Any],
        request_body: dict[str, Any] | None = None,
        principal: Principal | None = None,
    ) -> AgentRunner:
        """A runner for one run; checks what must hold before anything runs."""
        assert target.agent is not None
        agent = target.agent
        principal_id = principal.key_id if principal is not None else None
        principal = principal or principal_from_json(None, tenant)
        admitted = self.authorize_invoke(principal, agent.name)
        reason = self.switches.reason(agent.name)
        if reason is not None:
            from pilothouse.errors import ServiceUnavailable

            raise ServiceUnavailable(
                f"Agent '{agent.name}' is stopped: {reason}.",
                code="kill_switch_engaged",
                retry_after=30,
            )
        try:
            limits = agent.limits.lowered_by(requested_limits)
        except (TypeError, ValidationError) as exc:
            raise InvalidRequest(
                f"Invalid 'limits': {exc}.", param="limits", code="invalid_value"
            ) from None
        meter = CostMeter(self.pricing, limits.max_cost_usd)
        meter.require_prices([agent.model, *agent.fallbacks])
        resolved = self.router.resolve_chain([agent.model, *agent.fallbacks])
        model = BoundModel(resolved.provider, resolved.upstream_model, agent.model)
        runner = AgentRunner(
            self,
            target,
            run_id,
            tenant,
            limits,
            meter,
            model,
            request_body or {},
            principal_id,
        )
        runner.principal, runner.admitted = principal, admitted
        return runner


class AgentRunner:
    """One run of one agent, as a :class:`ModelProvider`."""

    name = "agent"
    raw_history = True  # the executor needs its earlier mcp_* items (see Turn.model_request)

    def __init__(
        self,
        runtime: AgentRuntime,
        target: Target,
        run_id: str,
        tenant: str,
        limits: Limits,
        meter: CostMeter,
        model: BoundModel,
        request_body: dict[str, Any],
        principal_id: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.target = target
        self.run_id = run_id
        self.tenant = tenant
        self.limits = limits
        self.meter = meter
        self.model = model
        self.request_body = request_body
        self.principal_id = principal_id
        self.principal: Principal = principal_from_json(None, tenant)
        self.admitted: Any = None  # the invoke_agent decision, journaled when the run starts

    async def complete(self, request: ModelRequest) -> ModelResult:
        """Run to the end without stream events."""
        result: ModelResult | None = None
        async with contextlib.aclosing(self._run(request, live=False)) as events:
            async for event in events:
                if isinstance(event, ModelResult):
                    result = event
        assert result is not None
        return result

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        """Run to the end, yielding stream events."""
        async with contextlib.aclosing(self._run(request, live=True)) as events:
            async for event in events:
                yield event

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """Input tokens of the first step (instructions and governed tools included)."""
        state = self._state(request)
        first = ModelRequest(
            model=self.model.upstream_model,
            input=state.history,
            instructions=state.instructions,
            tools=[t.as_function_tool() for t in state.tools.values()] + state.client_tools,
            options=state.options,
        )
        return await self.model.provider.count_input_tokens(first)

    async def aclose(self) -> None:
        """Runs share their resources; nothing to release."""

    def _state(self, request: ModelRequest) -> RunState:
        agent = self.target.agent
        assert agent is not None
        tools = {name: self.runtime.tools[name] for name in agent.tools}
        raw = list(request.input)
        listed = any(
            item.get("type") == "mcp_list_tools" and item.get("server_label") == agent.server_label
            for item in raw
        )
        clashes = [t.get("name") for t in request.tools if t.get("name") in tools]
        if clashes:
            raise InvalidRequest(
                f"Client tool '{clashes[0]}' has the name of a governed tool of this agent.",
                param="tools",
                code="tool_name_conflict",
            )
        instructions = (
            "\n\n".join(
                part for part in (self.target.instructions, _text(request.instructions)) if part
            )
            or None
        )
        options = {k: v for k, v in request.options.items() if k not in _OWN_OPTIONS}
        if agent.temperature is not None:
            options.setdefault("temperature", agent.temperature)
        limits = self.limits
        return RunState(
            run_id=self.run_id,
            tenant=self.tenant,
            agent=agent,
            limits=limits,
            tools=tools,
            instructions=instructions,
            history=upstream_items(model_view(raw)),
            tools_listed=listed,
            client_tools=list(request.tools),
            options=options,
            headers=dict(request.headers),
            model=agent.model,
            release_id=self.runtime.release_id,
            environment=self.runtime.environment,
            tool_budget=tool_budget(limits),
            principal_id=self.principal_id,
        )

    async def _run(self, request: ModelRequest, live: bool) -> AsyncGenerator[Any, None]:
        state = self._state(request)
        journal = RunJournal(self.runtime.journal, state)
        price = self.meter.price_for(self.model.public_model, self.model.upstream_model)
        observed = self.runtime.observer.observe(
            state, self._filtered(state, journal), self.runtime.gateway, price
        )
        journal.start(
            run_spec_value(
                state,
                self.request_body,
                self.target.model,
                self.principal,
                dump=self.runtime.dumped,
            )
        )
        if self.admitted is not None and self.runtime.policy is not None:
            self.runtime.policy.record(journal, self.admitted, ("agent", state.agent.name))
        guard = self.runtime.guard(self.principal, state, journal, list(request.input))
        executor = Executor(
            state,
            observed.model,
            observed.gateway,
            self.meter,
            journal,
            self.runtime.switches,
            guard,
        )
        try:
            async for event in executor.run(live):
                yield event
        except BaseException as exc:
            observed.end(state, exc)
            if isinstance(exc, asyncio.CancelledError | GeneratorExit):
                await self._close_cancelled(journal, state)
            raise
        observed.end(state, None)

    @staticmethod
    async def _close_cancelled(journal: RunJournal, state: RunState) -> None:
        # Cancelled (a background run's cancel, shutdown) or abandoned (the client of a
        # stream went away): close the journal so the run does not look in progress
        # forever. A stream closed after the run finished (its consumer stops at the
        # final result) is not a cancellation: the run keeps its status.
        if not journal.closed:
            journal.finished("cancelled", "cancelled")
            await asyncio.shield(journal.flush(status="cancelled"))

    def _filtered(self, state: RunState, journal: RunJournal) -> BoundModel:
        """The run's model behind the agent's content filters, hits journaled as policy
        events (:mod:`pilothouse.runtime.providers.filtered`)."""
        guardrails = self.runtime.guardrails
        filters = guardrails.for_agent(state.agent.name) if guardrails is not None else None
        if filters is None:
            return self.model
        provider = FilteredProvider(
            self.model.provider, filters, lambda hit: journal.record(POLICY_EVENT, **hit.payload())
        )
        return replace(self.model, provider=provider)


def run_spec_value(
    state: RunState,
    request_body: dict[str, Any],
    public_model: str,
    principal: Principal | None = None,
    dump: Callable[[BaseModel], dict[str, Any]] = BaseModel.model_dump,
) -> dict[str, Any]:
    """What resume needs to rebuild a run's starting state (the journal has the rest),
    and the request it answers (to store its response when it is resumed); stored as
    JSON (:meth:`RunJournal.start`)."""
    return {
        "request": request_body,
        "public_model": public_model,
        "release_id": state.release_id,
        "environment": state.environment,
        "agent": dump(state.agent),
        "limits": (
            dump(state.limits) if state.limits is state.agent.limits else state.limits.model_dump()
        ),
        "instructions": state.instructions,
        "history": list(state.history),  # copies: the run goes on changing its state
        "client_tools": list(state.client_tools),
        "options": dict(state.options),
        "headers": dict(state.headers),
        "model": state.model,
        "started_at": state.started_at,
        "principal_id": state.principal_id,
        "principal": principal_to_json(principal),
    }


def _text(instructions: str | list[Any] | None) -> str | None:
    if instructions is None or isinstance(instructions, str):
        return instructions
    return orjson.dumps(instructions).decode()
