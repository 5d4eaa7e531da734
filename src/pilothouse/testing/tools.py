"""A recording tool gateway for executor tests: calls plain Python functions, records
every call, and applies no protections.

Use it to test the agent loop (limits, journal, wire items) in isolation from the real
gateway; use :class:`~pilothouse.testing.tool_server.FaultyToolServer` with the real
gateway to test tool behaviour.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pilothouse.runtime.tools.base import RunToolBudget, ToolCall, ToolResult


@dataclass
class RecordingToolGateway:
    """Runs ``handlers[name](**arguments)`` (sync or async) and records each call."""

    handlers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    calls: list[ToolCall] = field(default_factory=list)

    async def execute(self, calls: list[ToolCall], budget: RunToolBudget) -> list[ToolResult]:
        """Run the batch concurrently; a handler's exception becomes an error result."""
        self.calls.extend(calls)
        return list(await asyncio.gather(*(self._one(call) for call in calls)))

    async def _one(self, call: ToolCall) -> ToolResult:
        started = time.perf_counter()
        handler = self.handlers.get(call.name)
        if handler is None:
            return ToolResult(call, error={"code": "unknown_tool", "message": call.name})
        try:
            value = handler(**call.arguments)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            return ToolResult(
                call,
                error={"code": "tool_error", "message": str(exc)},
                attempts=1,
                latency_s=time.perf_counter() - started,
            )
        return ToolResult(call, output=value, attempts=1, latency_s=time.perf_counter() - started)

    async def aclose(self) -> None:
        """Nothing to close."""
