"""The per-attempt timeout: an attempt that takes too long is cancelled and retryable.

The gateway passes each attempt its timeout (``min(run timeout, contract timeout)``, capped
by what remains of the run's tool-time budget); :class:`AttemptTimeout` enforces it with
``asyncio.timeout`` so a tool that hangs cannot hold the run. The adapter also receives the
figure, to set a transport timeout a little longer as a second line of defence.

A timeout is retryable (``code="timeout"``): the tool may have been briefly overloaded, and
the idempotency key makes a repeated side effect safe.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pilothouse.runtime.tools.base import ToolAdapter, ToolCall, ToolFailure


class AttemptTimeout:
    """Wraps an adapter; an attempt longer than its timeout becomes ``timeout``."""

    def __init__(self, inner: ToolAdapter) -> None:
        self._inner = inner

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """One attempt of the inner adapter, cancelled after ``timeout_s`` seconds."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._inner.invoke(call, timeout_s)
        except TimeoutError:
            raise ToolFailure(
                f"The tool did not answer within {timeout_s:g} s.", retryable=True, code="timeout"
            ) from None

    async def aclose(self) -> None:
        """Close the inner adapter."""
        await self._inner.aclose()
