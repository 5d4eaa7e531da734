"""The ``python`` adapter: a tool that is an in-process callable.

A binding's ``target`` is ``package.module:function`` (``module:Class.method`` works for
a static or class method). The callable gets the call's arguments as keyword arguments,
plus, when its signature names them:

* ``idempotency_key`` — the same on every attempt of the call; a function with a side
  effect uses it to apply the effect once;
* ``context`` — a :class:`ToolContext` (run id, call id, correlation headers, attempt).

These two names are reserved: when the function takes them, the gateway's values replace
any model-supplied argument of the same name, so a model cannot forge a key.

A coroutine function is awaited on the loop; a plain function runs in a worker thread
(``asyncio.to_thread``) so it cannot block the loop. A timed-out thread cannot be
stopped: the gateway stops waiting for it, and the function runs to its end.

The function's return value is the output (a Pydantic model is dumped to JSON data).
Raising :class:`~pilothouse.runtime.tools.base.ToolFailure` lets a function say whether
another attempt could help; any other exception is a non-retryable ``tool_error`` whose
message is the exception's type and text.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from pilothouse.control.tool_contract import PythonBinding
from pilothouse.runtime.tools.base import ToolCall, ToolFailure

_RESERVED = ("idempotency_key", "context")


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a Python tool may know about the call it serves.

    Attributes:
        run_id: The run (response) id.
        call_id: The model's call id (correlation only).
        headers: Correlation headers (``traceparent``, ``X-Pilothouse-Run-Id``).
        attempt: 1 for the first attempt.
    """

    run_id: str
    call_id: str
    headers: dict[str, str] = field(default_factory=dict)
    attempt: int = 1


def load_target(target: str) -> Callable[..., Any]:
    """Import ``package.module:attribute.path`` and return the callable it names.

    Raises:
        ValueError: The module cannot be imported or the attribute is not callable.
    """
    module_name, _, attribute_path = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import '{module_name}': {exc}") from None
    for part in attribute_path.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ValueError(f"'{target}' does not exist") from None
    if not callable(found):
        raise ValueError(f"'{target}' is not callable")
    function: Callable[..., Any] = found
    return function


class PythonAdapter:
    """Calls an in-process function. See the module docstring."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self._function = function
        self._is_async = inspect.iscoroutinefunction(function)
        parameters = inspect.signature(function).parameters
        self._injected = frozenset(name for name in _RESERVED if name in parameters)

    @classmethod
    def from_binding(cls, binding: PythonBinding) -> PythonAdapter:
        """The adapter for a ``python`` binding (imports the target now).

        Raises:
            ValueError: The target cannot be imported.
        """
        return cls(load_target(binding.target))

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """Call the function with the call's arguments; its return value is the output."""
        kwargs = dict(call.arguments)
        if "idempotency_key" in self._injected:
            kwargs["idempotency_key"] = call.idempotency_key
        if "context" in self._injected:
            kwargs["context"] = ToolContext(
                run_id=call.run_id,
                call_id=call.call_id,
                headers=dict(call.headers),
                attempt=call.attempt,
            )
        try:
            if self._is_async:
                result = await self._function(**kwargs)
            else:
                result = await asyncio.to_thread(self._function, **kwargs)
                if inspect.isawaitable(result):  # e.g. a partial of a coroutine function
                    result = await result
        except ToolFailure:
            raise
        except Exception as exc:
            raise ToolFailure(
                f"{type(exc).__name__}: {exc}", retryable=False, code="tool_error"
            ) from exc
        if isinstance(result, BaseModel):
            return result.model_dump(mode="json")
        return result

    async def aclose(self) -> None:
        """Nothing to release: the function lives in this process."""
