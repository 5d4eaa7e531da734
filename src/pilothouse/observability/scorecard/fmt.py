"""Number formats shared by the Markdown and HTML renderings."""

from __future__ import annotations


def pct(rate: float | None) -> str:
    """A rate as a percentage ("-" when unknown)."""
    return "-" if rate is None else f"{rate * 100:.1f}%"


def ms(value: float | None) -> str:
    """Milliseconds, or seconds above ten thousand."""
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:.0f} ms"


def usd(value: float | None) -> str:
    """Dollars with enough digits for fractions of a cent."""
    if value is None:
        return "-"
    return f"${value:.6f}" if abs(value) < 0.01 else f"${value:.4f}"


def signed(value: float | None, unit: str = "", scale: float = 1.0, digits: int = 1) -> str:
    """A change with its sign (``+3.0 ms``); "-" when unknown."""
    if value is None:
        return "-"
    return f"{value * scale:+.{digits}f}{unit}"
