"""Content filters around a model provider: nothing blocked reaches the model or the caller.

:class:`FilteredProvider` wraps the provider of one run (or one plain request) with a
release's :class:`~pilothouse.runtime.guardrails.ContentFilters`:

* input rules run before the first model call; a hit answers without calling the model;
* output rules run on each model output before anything acts on it: the executor only
  runs the tool calls of a ``completed`` result, and a hit turns the result into an
  ``incomplete`` one whose only item is a short assistant message, so neither the blocked
  text nor the blocked tool calls go anywhere.

Either way the result is ``incomplete`` with ``incomplete_details.reason =
"content_filter"``, and ``on_hit`` is told which rule fired (the agent runner journals it
as a policy event; plain requests log it).

Streaming: with output rules, the events of a model call are held back until its result
has been checked, then released (or replaced by the notice's events). Text therefore
reaches a streaming client one model call at a time rather than token by token — the
price of checking output before it is returned. Without output rules, events pass
through as they come.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from pilothouse.protocol.events import item_events
from pilothouse.protocol.items import assistant_message
from pilothouse.runtime.guardrails import CONTENT_FILTER, ContentFilters, FilterHit
from pilothouse.runtime.providers.base import (
    ModelProvider,
    ModelRequest,
    ModelResult,
    StreamEvent,
)
from pilothouse.runtime.providers.router import Resolved

log = logging.getLogger(__name__)

NOTICE = "This response was stopped by a content filter."
"""The assistant message that stands in for blocked content."""

OnHit = Callable[[FilterHit], None]


class FilteredProvider:
    """Applies content filters around ``inner``. See the module docstring.

    Args:
        inner: The provider to call.
        filters: The rules to apply.
        on_hit: Told about every hit (journal, log); must not raise.
    """

    def __init__(self, inner: ModelProvider, filters: ContentFilters, on_hit: OnHit) -> None:
        self.inner = inner
        self.filters = filters
        self.on_hit = on_hit
        self.name = inner.name
        self._input_checked = False

    async def complete(self, request: ModelRequest) -> ModelResult:
        """The inner result, or a content-filter notice instead of it."""
        hit = await self._check_input(request)
        if hit is not None:
            return self._blocked(hit, None)
        result = await self.inner.complete(request)
        return await self._checked(result)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        """The inner stream; held back per call when output rules apply."""
        hit = await self._check_input(request)
        if hit is not None:
            blocked = self._blocked(hit, None)
            for notice in self._notice_events(blocked):
                yield notice
            yield blocked
            return
        if not self.filters.checks_output:
            async for passed in self.inner.stream(request):
                yield passed
            return
        held: list[StreamEvent] = []
        async for event in self.inner.stream(request):
            if not isinstance(event, ModelResult):
                held.append(event)
                continue
            checked = await self._checked(event)
            released = held if checked is event else self._notice_events(checked)
            for item in released:
                yield item
            yield checked
            return

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """The inner provider's count (filters do not change the input)."""
        return await self.inner.count_input_tokens(request)

    async def aclose(self) -> None:
        """The inner provider is shared; its owner closes it."""

    async def _check_input(self, request: ModelRequest) -> FilterHit | None:
        """Input rules, once per run: later steps carry the same client input."""
        if self._input_checked or not self.filters.checks_input:
            return None
        self._input_checked = True
        return await self.filters.check_input(request.input)

    async def _checked(self, result: ModelResult) -> ModelResult:
        if not self.filters.checks_output or result.status == "failed":
            return result
        hit = await self.filters.check_output(result.output)
        return result if hit is None else self._blocked(hit, result)

    def _blocked(self, hit: FilterHit, result: ModelResult | None) -> ModelResult:
        self.on_hit(hit)
        return ModelResult(
            output=[assistant_message(NOTICE)],
            usage=result.usage if result is not None else None,
            status="incomplete",
            incomplete_details={"reason": CONTENT_FILTER},
            model=result.model if result is not None else None,
        )

    @staticmethod
    def _notice_events(result: ModelResult) -> list[StreamEvent]:
        return list(item_events(result.output[0], 0))


def log_hit(hit: FilterHit) -> None:
    """``on_hit`` of plain model requests, which have no journal: a policy log line."""
    log.warning("content filter stopped a response", extra={"policy_event": hit.payload()})


def for_plain_request(resolved: Resolved, filters: ContentFilters | None) -> Resolved:
    """``resolved`` behind ``filters`` (a fresh wrapper: it remembers its input check)."""
    if filters is None:
        return resolved
    return Resolved(FilteredProvider(resolved.provider, filters, log_hit), resolved.upstream_model)
