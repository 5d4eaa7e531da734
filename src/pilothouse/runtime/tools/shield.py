"""Turning an adapter's unexpected exceptions into ordinary, non-retryable failures.

Adapters signal what went wrong by raising :class:`ToolFailure`. Anything else they raise
is a bug or an unforeseen condition in the adapter or the tool's client library; the
gateway must still answer the model rather than crash the run, so
:class:`ShieldedAdapter` converts it into ``ToolFailure(code="tool_error")``. It is not
retried: nothing says another attempt would fare better.

The log line names the tool, the call and the exception type only. Arguments may hold
secrets or personal data, and exception messages often echo them, so neither is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from pilothouse.runtime.tools.base import ToolAdapter, ToolCall, ToolFailure

logger = logging.getLogger(__name__)


class ShieldedAdapter:
    """Wraps an adapter so that it raises nothing but :class:`ToolFailure`."""

    def __init__(self, inner: ToolAdapter) -> None:
        self._inner = inner

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """One attempt of the inner adapter; unexpected exceptions become ``tool_error``."""
        try:
            return await self._inner.invoke(call, timeout_s)
        except ToolFailure:
            raise
        except Exception as exc:
            logger.error(
                "tool adapter raised unexpectedly",
                extra={"tool": call.name, "call_id": call.call_id, "error": type(exc).__name__},
            )
            raise ToolFailure(
                f"The tool failed unexpectedly ({type(exc).__name__}).",
                retryable=False,
                code="tool_error",
            ) from exc

    async def aclose(self) -> None:
        """Close the inner adapter."""
        await self._inner.aclose()
