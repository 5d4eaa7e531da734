"""Cost of model calls: reserve the worst case before a call, settle the actual after.

With a ceiling (``max_cost_usd``), a call may start only if what the run has spent plus the
most the call can cost stays within it. The worst case is an upper bound: every token is at
least one byte, so the request's serialised size (plus per-item framing) bounds its input
tokens, and ``max_output_tokens`` — always sent upstream when a ceiling is set — bounds
its output. A model without a price cannot be bounded, so with a ceiling it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from pilothouse.control.pricing import ModelPrice, Pricing
from pilothouse.errors import InvalidRequest
from pilothouse.runtime.providers.base import ModelRequest

# Output tokens assumed (and enforced upstream) when a ceiling is set but no output cap.
DEFAULT_OUTPUT_CAP = 4096
_FRAMING_TOKENS_PER_ITEM = 8
_FRAMING_TOKENS = 64


@dataclass(slots=True)
class CostMeter:
    """Prices one run's model calls against its ceiling."""

    pricing: Pricing
    ceiling_usd: float | None

    def price_for(self, *models: str) -> ModelPrice | None:
        """The first price found among ``models`` (public name, then upstream name)."""
        for model in models:
            price = self.pricing.price(model)
            if price is not None:
                return price
        return None

    def require_prices(self, models: list[str]) -> None:
        """Refuse a run whose models cannot be priced while a ceiling is set."""
        if self.ceiling_usd is None:
            return
        for model in models:
            if self.pricing.price(model) is None:
                raise InvalidRequest(
                    f"Model '{model}' has no price in pricing.yaml, so the run's cost ceiling "
                    "(max_cost_usd) could not be enforced.",
                    param="model",
                    code="model_price_unknown",
                )

    def worst_case(self, price: ModelPrice | None, request: ModelRequest) -> float:
        """The most this call can cost."""
        if price is None:
            return 0.0
        body = orjson.dumps([request.instructions, request.input, request.tools])
        input_bound = len(body) + _FRAMING_TOKENS + _FRAMING_TOKENS_PER_ITEM * len(request.input)
        output_bound = int(request.options.get("max_output_tokens") or DEFAULT_OUTPUT_CAP)
        return price.worst_case(input_bound, output_bound)

    def admits(self, spent: float, worst_case: float) -> bool:
        """Whether a call with this worst case fits under the ceiling."""
        return self.ceiling_usd is None or spent + worst_case <= self.ceiling_usd
