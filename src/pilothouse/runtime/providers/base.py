"""The model-provider boundary.

A :class:`ModelProvider` turns one :class:`ModelRequest` (a complete Responses-API turn:
the whole input history, instructions, tools and sampling settings) into one
:class:`ModelResult`, either at once (:meth:`ModelProvider.complete`) or as a stream of
item-level events ending with the result (:meth:`ModelProvider.stream`).

Contract for implementers:

* Output items use the wire shapes of the Responses API; output indexes in stream events
  count from 0 within this one call (the caller shifts them into the response).
* Stream events are the ``response.output_item.*``, ``response.content_part.*``,
  ``response.*.delta``/``.done`` events, without ``sequence_number``; the lifecycle events
  (``response.created`` …) are the caller's. The last thing yielded is the ModelResult.
* Failures raise :class:`~pilothouse.errors.UpstreamError` (with the upstream's status and
  ``retry_after``); a response the model itself ended as failed or incomplete is a
  ModelResult with that status, not an exception.
* Providers never persist anything and never log secrets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

Item = dict[str, Any]
StreamEvent = dict[str, Any]

# Request keys forwarded upstream verbatim when the client set them.
FORWARDED = (
    "tool_choice",
    "parallel_tool_calls",
    "text",
    "reasoning",
    "max_output_tokens",
    "max_tool_calls",
    "temperature",
    "top_p",
    "top_logprobs",
    "presence_penalty",
    "frequency_penalty",
    "truncation",
    "include",
    "service_tier",
    "prompt_cache_key",
    "safety_identifier",
    "user",
)


@dataclass(slots=True)
class ModelRequest:
    """One model turn, provider-neutral.

    Attributes:
        model: The upstream model name (on Azure, the deployment name).
        input: The full input history, oldest first.
        instructions: The system/developer instructions for this turn only.
        tools: Tools the model may call, in Responses wire shape.
        options: Sampling and format settings the client set (keys of ``FORWARDED``).
        extra: Unknown request keys the client sent (``extra_body``), forwarded as-is.
        headers: Correlation headers to send upstream (``traceparent``, ``x-request-id``).
    """

    model: str
    input: list[Item]
    instructions: str | list[Item] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def to_body(self, *, stream: bool) -> dict[str, Any]:
        """The Responses API body to send upstream. Pilothouse is the store, so ``store``
        is false upstream."""
        body: dict[str, Any] = {**self.extra, "model": self.model, "input": self.input}
        if self.instructions is not None:
            body["instructions"] = self.instructions
        if self.tools:
            body["tools"] = self.tools
        body.update(self.options)
        body["store"] = False
        if stream:
            body["stream"] = True
        return body


@dataclass(slots=True)
class ModelResult:
    """What one model call produced."""

    output: list[Item]
    usage: dict[str, Any] | None
    status: str = "completed"
    incomplete_details: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    model: str | None = None
    extension: dict[str, Any] | None = None


class ModelProvider(Protocol):
    """One upstream (or offline) model service. See the module docstring for the contract."""

    name: str

    async def complete(self, request: ModelRequest) -> ModelResult:
        """Run the turn and return its result."""
        ...

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        """Run the turn, yielding item events and finally the ModelResult."""
        ...

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """How many input tokens ``request`` would consume."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
