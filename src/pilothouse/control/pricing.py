"""Model prices (``pricing.yaml``) and the cost of a model call.

Prices are USD per one million tokens: input, cached input and output. Cost is computed
exactly — in integers of 1e-12 USD per 1M tokens (every price written with up to twelve
decimals), else with :class:`~decimal.Decimal` — and reported as float USD rounded to 1e-9,
so that sums over many steps do not drift.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_MILLION = Decimal(1_000_000)


class ModelPrice(BaseModel):
    """USD per 1M tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    output: float = Field(ge=0)

    def cost(self, usage: dict[str, Any]) -> float:
        """The USD cost of one call's usage."""
        total_in = int(usage.get("input_tokens") or 0)
        cached = int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0)
        cached = min(cached, total_in)
        out = int(usage.get("output_tokens") or 0)
        cached_price = self.cached_input if self.cached_input is not None else self.input
        fresh, reused, made = _scaled(self.input), _scaled(cached_price), _scaled(self.output)
        if fresh is not None and reused is not None and made is not None:
            units = (total_in - cached) * fresh + cached * reused + out * made
            return round(units / _UNITS_PER_USD, 9)  # int / int is correctly rounded
        amount = (
            (total_in - cached) * _exact(self.input)
            + cached * _exact(cached_price)
            + out * _exact(self.output)
        ) / _MILLION
        return round(float(amount), 9)

    def worst_case(self, input_tokens: int, output_tokens: int) -> float:
        """The most a call with at most these token counts can cost (no cache discount)."""
        return self.cost({"input_tokens": input_tokens, "output_tokens": output_tokens})


_SCALE = 10**12
"""Prices are kept as integers of 1e-12 USD per 1M tokens where they are that exact."""

_UNITS_PER_USD = _SCALE * 1_000_000


@lru_cache(maxsize=1024)
def _scaled(price: float) -> int | None:
    """A price as an integer number of 1e-12 USD per 1M tokens, or None when the price
    has more decimals than that (then :func:`_exact` prices it)."""
    units = _exact(price) * _SCALE
    return int(units) if units == units.to_integral_value() else None


@lru_cache(maxsize=1024)
def _exact(price: float) -> Decimal:
    """A price as the decimal it was written as (``0.15``, not the float's binary
    expansion); cached, since a price list has few distinct prices and every model call
    is priced twice."""
    return Decimal(str(price))


class Pricing(BaseModel):
    """The price list of a bundle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = "USD"
    models: dict[str, ModelPrice] = Field(default_factory=dict)

    def price(self, model: str) -> ModelPrice | None:
        """The price of ``model``, or None when it has none."""
        return self.models.get(model)
