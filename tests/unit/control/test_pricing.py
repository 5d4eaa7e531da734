"""The cost of a model call: exact arithmetic, whichever way a price is written."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pilothouse.control.pricing import ModelPrice, Pricing

PRICES = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False).map(float)
TOKENS = st.integers(min_value=0, max_value=10_000_000)


def decimal_cost(price: ModelPrice, fresh: int, cached: int, out: int) -> float:
    """The cost as Decimal arithmetic computes it from the prices as written."""
    reused = price.cached_input if price.cached_input is not None else price.input
    amount = (
        fresh * Decimal(str(price.input))
        + cached * Decimal(str(reused))
        + out * Decimal(str(price.output))
    ) / Decimal(1_000_000)
    return round(float(amount), 9)


@given(PRICES, PRICES, st.none() | PRICES, TOKENS, TOKENS, TOKENS)
def test_cost_is_the_exact_decimal_cost_rounded_to_a_nanodollar(
    input_price: float,
    output_price: float,
    cached_price: float | None,
    input_tokens: int,
    cached_tokens: int,
    output_tokens: int,
) -> None:
    price = ModelPrice(input=input_price, output=output_price, cached_input=cached_price)
    usage = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens},
    }
    cached = min(cached_tokens, input_tokens)
    expected = decimal_cost(price, input_tokens - cached, cached, output_tokens)
    assert price.cost(usage) == expected


def test_prices_finer_than_the_integer_scale_are_still_exact() -> None:
    price = ModelPrice(input=1.23456789012345e-3, output=2.0)
    usage = {"input_tokens": 1_000_000, "output_tokens": 0}
    assert price.cost(usage) == round(float(Decimal("1.23456789012345e-3")), 9)


def test_known_prices() -> None:
    pricing = Pricing(
        models={"gpt-4o-mini": ModelPrice(input=0.15, cached_input=0.075, output=0.6)}
    )
    price = pricing.price("gpt-4o-mini")
    assert price is not None
    usage = {
        "input_tokens": 1200,
        "output_tokens": 300,
        "input_tokens_details": {"cached_tokens": 200},
    }
    # 1000 * 0.15 + 200 * 0.075 + 300 * 0.6 = 150 + 15 + 180 = 345 per million
    assert price.cost(usage) == 0.000345
    assert price.worst_case(1000, 1000) == 0.00075
    assert pricing.price("unknown") is None
