"""The run's tool-time budget: the total time a run may spend waiting on its tools.

:class:`~pilothouse.runtime.tools.base.RunToolBudget` carries ``time_budget_s`` (None:
unbounded) and ``spent_s``. The run's tool time is the wall-clock time spent inside
``ToolGateway.execute``: calls of one batch run concurrently, so a batch costs what it
takes to finish, not the sum of its calls. A :class:`ToolTimeWindow` is one batch's view:
it tells what remains while the batch runs, and adds the batch's duration to ``spent_s``
when it closes.

:class:`TimeBudgetedAdapter` applies it to every attempt: an attempt that cannot start
because nothing remains fails with ``tool_time_budget_exhausted`` (never retried), and an
attempt's timeout is capped by what remains, so no attempt outlives the budget.
"""

from __future__ import annotations

from typing import Any

from pilothouse.runtime.tools.base import RunToolBudget, ToolAdapter, ToolCall, ToolFailure
from pilothouse.runtime.tools.clock import Clock


class ToolTimeWindow:
    """One batch's share of a run's tool-time budget."""

    def __init__(self, budget: RunToolBudget, clock: Clock) -> None:
        self._budget = budget
        self._clock = clock
        self._started = clock.now()
        self._closed = False

    def remaining(self) -> float | None:
        """Seconds of tool time left now (None when the run has no such budget)."""
        if self._budget.time_budget_s is None:
            return None
        elapsed = self._clock.now() - self._started
        return self._budget.time_budget_s - self._budget.spent_s - elapsed

    def close(self) -> float:
        """End the batch: add its duration to the run's ``spent_s`` and return it."""
        if self._closed:
            return 0.0
        self._closed = True
        elapsed = max(0.0, self._clock.now() - self._started)
        self._budget.spent_s += elapsed
        return elapsed


class TimeBudgetedAdapter:
    """Wraps an adapter; attempts start only with tool time left and end within it."""

    def __init__(self, inner: ToolAdapter, window: ToolTimeWindow) -> None:
        self._inner = inner
        self._window = window

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """One attempt, its timeout capped by the tool time that remains."""
        left = self._window.remaining()
        if left is not None:
            if left <= 0:
                raise ToolFailure(
                    "The run has spent its tool time budget; the tool was not called.",
                    retryable=False,
                    code="tool_time_budget_exhausted",
                )
            timeout_s = min(timeout_s, left)
        return await self._inner.invoke(call, timeout_s)

    async def aclose(self) -> None:
        """Close the inner adapter."""
        await self._inner.aclose()
