"""Python tools that the adapter tests bind to by ``module:function`` target."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from pydantic import BaseModel

from pilothouse.runtime.tools.base import ToolFailure
from pilothouse.runtime.tools.python import ToolContext


def add(a: int, b: int) -> dict[str, Any]:
    """A sync tool: runs in a worker thread."""
    return {"sum": a + b, "thread": threading.get_ident()}


async def greet(name: str) -> dict[str, Any]:
    """An async tool: awaited on the loop."""
    await asyncio.sleep(0)
    return {"greeting": f"hello {name}", "thread": threading.get_ident()}


def record_note(text: str, idempotency_key: str, context: ToolContext) -> dict[str, Any]:
    """A tool that takes the injected key and context."""
    return {
        "text": text,
        "key": idempotency_key,
        "run_id": context.run_id,
        "call_id": context.call_id,
        "traceparent": context.headers.get("traceparent"),
        "attempt": context.attempt,
    }


def broken(**_: Any) -> None:
    """A tool with a bug."""
    raise KeyError("secret-value-in-message")


def overloaded() -> None:
    """A tool that says another attempt may help."""
    raise ToolFailure("busy, try later", retryable=True, code="busy", retry_after=0.5)


class Ticket(BaseModel):
    """A Pydantic output."""

    ticket_id: str
    status: str


def ticket(ticket_id: str) -> Ticket:
    """A tool answering a Pydantic model."""
    return Ticket(ticket_id=ticket_id, status="open")


class Tools:
    """Static methods are reachable as ``module:Class.method``."""

    @staticmethod
    def double(x: int) -> int:
        return 2 * x


NOT_CALLABLE = 42
