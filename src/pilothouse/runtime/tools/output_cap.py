"""The output size cap: a tool's answer larger than the call's cap is refused.

A tool output goes back into the model's context and into the journal, so an oversized
answer costs tokens, money and storage on every later turn. :class:`OutputSizeCap`
measures the output serialised as compact JSON (what is stored and sent) and fails the
attempt with ``output_too_large`` when it exceeds the cap — ``min(run cap, contract cap)``,
fixed per call by the gateway. An output that cannot be serialised as JSON at all fails
with ``invalid_output``. Neither is retryable: the same request would get the same answer.
"""

from __future__ import annotations

from typing import Any

import orjson

from pilothouse.runtime.tools.base import ToolAdapter, ToolCall, ToolFailure


class OutputSizeCap:
    """Wraps an adapter; outputs over ``max_bytes`` serialised become ``output_too_large``."""

    def __init__(self, inner: ToolAdapter, max_bytes: int) -> None:
        self._inner = inner
        self._max_bytes = max_bytes

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """One attempt of the inner adapter, its serialised output measured."""
        output = await self._inner.invoke(call, timeout_s)
        try:
            size = len(orjson.dumps(output))
        except TypeError as exc:
            raise ToolFailure(
                f"The tool's output is not JSON-serialisable: {exc}.",
                retryable=False,
                code="invalid_output",
            ) from None
        if size > self._max_bytes:
            raise ToolFailure(
                f"The tool's output is {size} bytes, over the cap of {self._max_bytes} bytes.",
                retryable=False,
                code="output_too_large",
            )
        return output

    async def aclose(self) -> None:
        """Close the inner adapter."""
        await self._inner.aclose()
