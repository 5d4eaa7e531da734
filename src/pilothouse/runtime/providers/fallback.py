"""Fallback chains: when a model is throttled or down, ask the next one.

:class:`FallbackProvider` holds candidates — a provider and the upstream model name to ask
it for — and tries them in order. Each candidate gets the request with ``model``
rewritten to its own upstream name. The next candidate is tried only after a transient
failure (see :mod:`.transient`): throttling, 5xx, timeouts, connection errors, and an
open circuit (``provider_unavailable``). Any other 4xx (a bad request, a bad key, an
unknown model) is raised at once: it is about the request or the configuration, and
hiding it behind another model would make it harder to see and fix.

``stream`` falls back only while nothing has been yielded (see :mod:`.stream_start`).
The result records which candidate served: ``ModelResult.model`` is set to the serving
candidate's upstream model name (the one sent to it), whatever the upstream reported.
When every candidate fails, the last failure is raised, with a note per earlier one.

Retries and breakers are per provider and go inside: a chain is
``FallbackProvider([(RetryingProvider(BreakerProvider(p)), "model"), …])``, so a
candidate whose circuit is open is skipped at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.base import ModelProvider, ModelRequest, ModelResult
from pilothouse.runtime.providers.stream_start import (
    StartedStream,
    Streamed,
    aclose_stream,
    start_stream,
)
from pilothouse.runtime.providers.transient import is_transient

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """One link of a chain: a provider and the upstream model name to ask it for."""

    provider: ModelProvider
    model: str


class FallbackProvider:
    """Tries candidates in order. See the module docstring.

    Args:
        candidates: ``(provider, upstream_model)`` pairs, most preferred first.
        name: This chain's name (by default the candidates' provider names joined).

    Raises:
        ValueError: No candidates were given.
    """

    def __init__(
        self, candidates: Sequence[tuple[ModelProvider, str]], *, name: str | None = None
    ) -> None:
        if not candidates:
            raise ValueError("A fallback chain needs at least one candidate.")
        self.candidates = [Candidate(provider, model) for provider, model in candidates]
        self.name = name or "fallback(" + ",".join(c.provider.name for c in self.candidates) + ")"

    async def complete(self, request: ModelRequest) -> ModelResult:
        """The first candidate's result that does not fail transiently."""

        async def call(candidate: Candidate) -> ModelResult:
            result = await candidate.provider.complete(_for(request, candidate))
            result.model = candidate.model
            return result

        return await self._first_success(call)

    async def stream(self, request: ModelRequest) -> AsyncIterator[Streamed]:
        """The first candidate's stream that starts; once it has, it is relayed as is."""

        async def start(candidate: Candidate) -> tuple[Candidate, StartedStream]:
            stream = candidate.provider.stream(_for(request, candidate))
            return candidate, await start_stream(stream)

        serving, started = await self._first_success(start)
        try:
            yield _served_by(started.first, serving)
            async for item in started.rest:
                yield _served_by(item, serving)
        finally:
            await aclose_stream(started.rest)

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """The count of the first candidate that answers (each counts by its own model)."""

        async def count(candidate: Candidate) -> int:
            return await candidate.provider.count_input_tokens(_for(request, candidate))

        return await self._first_success(count)

    async def aclose(self) -> None:
        """Close each distinct candidate provider once.

        Only for a chain that owns its candidates. A chain built over providers that the
        router owns (and closes) is a view of them and must not be closed itself.
        """
        seen: set[int] = set()
        for candidate in self.candidates:
            if id(candidate.provider) not in seen:
                seen.add(id(candidate.provider))
                await candidate.provider.aclose()

    async def _first_success(self, attempt: Callable[[Candidate], Awaitable[T]]) -> T:
        failures: list[tuple[Candidate, UpstreamError]] = []
        for candidate in self.candidates:
            try:
                return await attempt(candidate)
            except UpstreamError as exc:
                if not is_transient(exc):
                    raise
                failures.append((candidate, exc))
        last = failures[-1][1]
        for candidate, earlier in failures[:-1]:
            last.add_note(
                f"Fallback: {candidate.provider.name} ({candidate.model}) failed first with "
                f"HTTP {earlier.status} {earlier.code}: {earlier.message}"
            )
        raise last


def _for(request: ModelRequest, candidate: Candidate) -> ModelRequest:
    """``request`` addressed to ``candidate``'s model (a shallow copy; the input is shared)."""
    return dataclasses.replace(request, model=candidate.model)


def _served_by(item: Streamed, candidate: Candidate) -> Streamed:
    """``item``, with the serving model recorded when it is the result."""
    if isinstance(item, ModelResult):
        item.model = candidate.model
    return item
