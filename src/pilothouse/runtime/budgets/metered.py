"""A model provider that pays for each call out of a key's and a tenant's budgets.

:class:`MeteredProvider` wraps the provider a response (or an agent's step) calls:

    reserve (tokens/min has room, worst case fits USD/day) → call → settle (actual)

The worst case is the one :class:`~pilothouse.runtime.agent.cost.CostMeter` computes for
an agent's own ceiling, and for it to be a bound the call's ``max_output_tokens`` is set
(to the same default) when the client set none. A call refused upstream gives its
reservation back; a call abandoned midway keeps it (its cost is unknown, so the ledger
errs on the side of the budget).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence

from pilothouse.control.pricing import ModelPrice, Pricing
from pilothouse.errors import PilothouseError
from pilothouse.runtime.agent.cost import DEFAULT_OUTPUT_CAP, CostMeter
from pilothouse.runtime.budgets.ledger import Ledger, Payer, Reservation
from pilothouse.runtime.providers.base import (
    ModelProvider,
    ModelRequest,
    ModelResult,
    StreamEvent,
)

_BOUNDS = CostMeter(Pricing(), None)


class MeteredProvider:
    """``inner``, with every call reserved and settled in the ledger."""

    def __init__(
        self,
        inner: ModelProvider,
        ledger: Ledger,
        payers: Sequence[Payer],
        price: ModelPrice | None,
    ) -> None:
        self.inner = inner
        self.ledger = ledger
        self.payers = tuple(payers)
        self.price = price
        self.name = inner.name
        self._spends = any(p.limits.usd_per_day is not None for p in self.payers)

    async def complete(self, request: ModelRequest) -> ModelResult:
        """One call, paid for."""
        request = self._bounded(request)
        reservation = await self._reserve(request)
        try:
            result = await self.inner.complete(request)
        except PilothouseError:
            await self.ledger.release(reservation)
            raise
        await self._settle(reservation, result)
        return result

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        """One streamed call, paid for when its result arrives."""
        request = self._bounded(request)
        reservation = await self._reserve(request)
        started = False
        try:
            async for event in self.inner.stream(request):
                if isinstance(event, ModelResult):
                    await self._settle(reservation, event)
                started = True
                yield event
        except PilothouseError:
            if not started:
                await self.ledger.release(reservation)
            raise

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """Counting is free."""
        return await self.inner.count_input_tokens(request)

    async def aclose(self) -> None:
        """The inner provider belongs to the router, which closes it."""

    def _bounded(self, request: ModelRequest) -> ModelRequest:
        """With a USD budget, the output must be capped for the worst case to hold."""
        if not self._spends or request.options.get("max_output_tokens"):
            return request
        options = {**request.options, "max_output_tokens": DEFAULT_OUTPUT_CAP}
        return dataclasses.replace(request, options=options)

    async def _reserve(self, request: ModelRequest) -> Reservation:
        worst = _BOUNDS.worst_case(self.price, request) if self._spends else 0.0
        return await self.ledger.reserve(self.payers, worst)

    async def _settle(self, reservation: Reservation, result: ModelResult) -> None:
        usage = result.usage or {}
        tokens = int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
        cost = self.price.cost(usage) if self.price is not None else 0.0
        await self.ledger.settle(reservation, tokens, cost)
