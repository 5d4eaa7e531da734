"""Helpers for the tool gateway's unit tests."""

from __future__ import annotations

from typing import Any

from pilothouse.runtime.tools.base import ToolCall


def make_call(name: str, arguments: dict[str, Any] | None = None, **extra: Any) -> ToolCall:
    """A call with predictable ids."""
    fields: dict[str, Any] = {
        "call_id": "call_1",
        "idempotency_key": "run_1:1:0",
        "run_id": "run_1",
        "headers": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    }
    fields.update(extra)
    return ToolCall(name=name, arguments=arguments or {}, **fields)


class ScriptedAdapter:
    """An adapter that plays back outcomes (a value, or a ToolFailure to raise) in order,
    repeating the last one, and records the calls it saw."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.seen: list[tuple[str, int, float]] = []
        self.closed = 0

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        self.seen.append((call.idempotency_key, call.attempt, timeout_s))
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def aclose(self) -> None:
        self.closed += 1
