"""The tool gateway: every governed tool call passes through here (DESIGN §4).

:class:`DefaultToolGateway` implements :class:`~pilothouse.runtime.tools.base.ToolGateway`
by composing small wrappers around each tool's adapter. For every call::

    unknown tool?                 → unknown_tool                 (no dispatch)
    arguments fit input_schema?   → invalid_arguments            (no dispatch)
    (wait for a parallel slot)
    tool time left?               → tool_time_budget_exhausted   (no dispatch)
    RetryingAdapter               retries, retry budget          retry.py, retry_budget.py
     └ TimeBudgetedAdapter        run's tool time                time_budget.py
        └ BreakerAdapter          per-tool circuit               breaker.py
           └ OutputValidation     output_schema                  validation.py
              └ OutputSizeCap     serialised size                output_cap.py
                 └ (attempts counted)
                    └ AttemptTimeout      per-attempt timeout    timeout.py
                       └ ShieldedAdapter  unexpected → tool_error  shield.py
                          └ the adapter   python | http | mcp | openapi

so checks that concern one attempt's answer run innermost, the breaker sees every attempt
(and nothing the time budget refused), and retries wrap it all. ``ToolResult.attempts``
counts the attempts that reached the adapter: a call refused by an open circuit or by an
exhausted time budget reports 0. Calls of a batch run concurrently, at most
``budget.max_parallel`` at once, and results come back in call order.

Per-tool state outlives a batch and belongs to the gateway: circuit breakers, retry
buckets and compiled validators. Per-run state is the caller's
:class:`~pilothouse.runtime.tools.base.RunToolBudget` (the gateway adds each batch's
duration to ``spent_s``). ``execute`` never raises for a tool's failure; each failure is
a :class:`ToolResult` whose ``error`` is ``{code, message}``. Logs name tools, call ids and
error codes, never argument values (they may hold secrets or personal data).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pilothouse.control.agent import RetryBudget
from pilothouse.control.tool_contract import ToolContract
from pilothouse.runtime.tools.base import (
    Attempt,
    RunToolBudget,
    ToolAdapter,
    ToolCall,
    ToolFailure,
    ToolResult,
)
from pilothouse.runtime.tools.breaker import BreakerAdapter, BreakerPolicy, CircuitBreaker
from pilothouse.runtime.tools.clock import Clock, SystemClock
from pilothouse.runtime.tools.output_cap import OutputSizeCap
from pilothouse.runtime.tools.retry import RetryingAdapter, RetryPolicy
from pilothouse.runtime.tools.retry_budget import RetryBucket
from pilothouse.runtime.tools.shield import ShieldedAdapter
from pilothouse.runtime.tools.time_budget import TimeBudgetedAdapter, ToolTimeWindow
from pilothouse.runtime.tools.timeout import AttemptTimeout
from pilothouse.runtime.tools.validation import OutputValidation, SchemaValidators

logger = logging.getLogger(__name__)


class DefaultToolGateway:
    """Runs batches of tool calls with every protection applied. See the module docstring.

    Args:
        contracts: The governed tools, by name.
        adapters: One adapter per contract name (several names may share one adapter).
        clock: Time for breakers, budgets and retry waits (the system clock by default).
        retry_policy: Backoff settings.
        retry_budget: Each tool's retry token bucket (an agent's ``Limits.retry_budget``).
        breaker_policy: When a tool's circuit opens and for how long.

    Raises:
        ValueError: A contract has no adapter, or one of its schemas is invalid.
    """

    def __init__(
        self,
        contracts: Mapping[str, ToolContract],
        adapters: Mapping[str, ToolAdapter],
        *,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        breaker_policy: BreakerPolicy | None = None,
    ) -> None:
        missing = sorted(set(contracts) - set(adapters))
        if missing:
            raise ValueError(f"No adapter for the tools: {', '.join(missing)}")
        self._contracts = dict(contracts)
        self._raw_adapters = dict(adapters)
        self._clock: Clock = clock or SystemClock()
        self._retry_policy = retry_policy or RetryPolicy()
        self._validators = SchemaValidators(self._contracts.values())
        budget = retry_budget or RetryBudget()
        policy = breaker_policy or BreakerPolicy()
        self._buckets = {name: RetryBucket(budget, self._clock) for name in self._contracts}
        self._breakers = {name: CircuitBreaker(policy, self._clock) for name in self._contracts}
        self._attempt_chains = {
            name: AttemptTimeout(ShieldedAdapter(adapters[name])) for name in self._contracts
        }

    @property
    def contracts(self) -> Mapping[str, ToolContract]:
        """The governed tools, by name."""
        return self._contracts

    def breaker(self, name: str) -> CircuitBreaker:
        """The circuit breaker of the tool ``name`` (for health views and tests)."""
        return self._breakers[name]

    def retry_bucket(self, name: str) -> RetryBucket:
        """The retry token bucket of the tool ``name``."""
        return self._buckets[name]

    async def execute(self, calls: list[ToolCall], budget: RunToolBudget) -> list[ToolResult]:
        """Run ``calls`` concurrently (up to ``budget.max_parallel``); one result each, in
        call order. Adds the batch's duration to ``budget.spent_s``."""
        window = ToolTimeWindow(budget, self._clock)
        limit = asyncio.Semaphore(max(1, budget.max_parallel))
        try:
            results = await asyncio.gather(
                *(self._run(call, budget, window, limit) for call in calls)
            )
        finally:
            window.close()
        return list(results)

    async def aclose(self) -> None:
        """Close every adapter once (adapters shared by several tools included)."""
        seen: set[int] = set()
        for name, adapter in self._raw_adapters.items():
            if id(adapter) in seen:
                continue
            seen.add(id(adapter))
            try:
                await adapter.aclose()
            except Exception as exc:
                logger.warning(
                    "closing a tool adapter failed",
                    extra={"tool": name, "error": type(exc).__name__},
                )

    async def _run(
        self,
        call: ToolCall,
        budget: RunToolBudget,
        window: ToolTimeWindow,
        limit: asyncio.Semaphore,
    ) -> ToolResult:
        contract = self._contracts.get(call.name)
        if contract is None:
            return _failed(call, "unknown_tool", f"There is no governed tool named '{call.name}'.")
        problem = self._validators.check_arguments(call.name, call.arguments)
        if problem is not None:
            return _failed(
                call,
                "invalid_arguments",
                f"The arguments do not match the tool's schema: {problem}",
            )
        async with limit:
            left = window.remaining()
            if left is not None and left <= 0:  # possibly spent while this call queued
                return _failed(
                    call,
                    "tool_time_budget_exhausted",
                    "The run has spent its tool time budget; the tool was not called.",
                )
            return await self._dispatch(call, contract, budget, window)

    async def _dispatch(
        self, call: ToolCall, contract: ToolContract, budget: RunToolBudget, window: ToolTimeWindow
    ) -> ToolResult:
        """Run the call through its wrappers; ``attempts`` counts those that were sent."""
        sent = _SentAttempts(self._attempt_chains[contract.name], self._clock)
        chain = self._chain(contract, sent, budget, window)
        started = self._clock.now()
        try:
            output = await chain.invoke(
                replace(call, attempt=0), _lowest(budget.timeout_s, contract.timeout_s)
            )
        except ToolFailure as failure:
            logger.info(
                "tool call failed",
                extra={
                    "tool": call.name,
                    "call_id": call.call_id,
                    "code": failure.code,
                    "attempts": sent.count,
                },
            )
            failed = _failed(
                call, failure.code, failure.message, sent.count, self._clock.now() - started
            )
            failed.attempt_log = sent.log
            return failed
        except Exception as exc:  # a bug in a wrapper must not take the run down
            logger.exception(
                "tool gateway error", extra={"tool": call.name, "call_id": call.call_id}
            )
            message = f"The tool call failed inside the gateway ({type(exc).__name__})."
            failed = _failed(call, "tool_error", message, sent.count, self._clock.now() - started)
            failed.attempt_log = sent.log
            return failed
        return ToolResult(
            call=call,
            output=output,
            attempts=sent.count,
            latency_s=self._clock.now() - started,
            attempt_log=sent.log,
        )

    def _chain(
        self,
        contract: ToolContract,
        sent: ToolAdapter,
        budget: RunToolBudget,
        window: ToolTimeWindow,
    ) -> ToolAdapter:
        """The wrappers of one call around ``sent``, outermost first (see the module
        docstring)."""
        name = contract.name
        max_bytes = int(_lowest(budget.max_output_bytes, contract.max_output_bytes))
        attempt: ToolAdapter = OutputSizeCap(sent, max_bytes)
        if self._validators.has_output_schema(name):
            attempt = OutputValidation(attempt, self._validators)
        attempt = TimeBudgetedAdapter(BreakerAdapter(attempt, self._breakers[name]), window)
        return RetryingAdapter(
            attempt,
            max_attempts=int(_lowest(budget.max_attempts, contract.max_attempts)),
            bucket=self._buckets[name],
            clock=self._clock,
            policy=self._retry_policy,
            time_left=window.remaining,
        )


class _SentAttempts:
    """Counts and times the attempts of one call that reached the adapter (not those a
    breaker or the time budget refused), for ``ToolResult.attempts`` and ``attempt_log``."""

    def __init__(self, inner: ToolAdapter, clock: Clock) -> None:
        self._inner = inner
        self._clock = clock
        self.count = 0
        self.log: list[Attempt] = []

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        self.count += 1
        number, began, wall = self.count, self._clock.now(), time.time()
        try:
            output = await self._inner.invoke(call, timeout_s)
        except ToolFailure as failure:
            took = self._clock.now() - began
            self.log.append(Attempt(number, wall, took, failure.code, failure.retryable))
            raise
        self.log.append(Attempt(number, wall, self._clock.now() - began))
        return output

    async def aclose(self) -> None:
        await self._inner.aclose()


def _lowest(run_value: float, contract_value: float | None) -> float:
    return min(run_value, contract_value if contract_value is not None else math.inf)


def _failed(
    call: ToolCall, code: str, message: str, attempts: int = 0, latency_s: float = 0.0
) -> ToolResult:
    return ToolResult(
        call=call,
        error={"code": code, "message": message},
        attempts=attempts,
        latency_s=latency_s,
    )
