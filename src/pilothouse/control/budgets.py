"""Budgets and rate limits as configuration: requests/min, tokens/min and USD/day.

A :class:`BudgetLimits` is what an API key (set when the key is created) or a tenant (set
through ``PUT /admin/v1/tenants/{tenant}/limits``, or the process defaults in settings)
may spend. ``None`` in a dimension means "not limited"; zero means "nothing at all" (a way
to block a tenant without revoking its keys). These limits sit on top of an agent's own
per-run ceilings (``max_cost_usd`` and the rest in ``control/agent.py``): a call must fit
every one of them.

The enforcement lives in :mod:`pilothouse.runtime.budgets`; this module is plain data and
its validation, so that keys and the admin API can use it without loading the runtime.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pilothouse.errors import InvalidRequest

FIELDS = ("rpm", "tpm", "usd_per_day")


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """What one key or one tenant may use.

    Attributes:
        rpm: Requests per minute (creates of responses, conversation writes).
        tpm: Tokens per minute (input + output of every model call).
        usd_per_day: Spend per UTC day, priced by the release's ``pricing.yaml``.
    """

    rpm: int | None = None
    tpm: int | None = None
    usd_per_day: float | None = None

    @property
    def empty(self) -> bool:
        """Whether nothing is limited (then nothing is counted either)."""
        return self.rpm is None and self.tpm is None and self.usd_per_day is None

    @property
    def meters_calls(self) -> bool:
        """Whether model calls are counted (tokens or spend)."""
        return self.tpm is not None or self.usd_per_day is not None

    def to_json(self) -> dict[str, Any]:
        """Every dimension, ``null`` where unlimited."""
        return {"rpm": self.rpm, "tpm": self.tpm, "usd_per_day": self.usd_per_day}

    @classmethod
    def parse(cls, raw: Any, param: str = "limits") -> BudgetLimits:
        """Validate a client's ``{rpm?, tpm?, usd_per_day?}``; a clear 400 otherwise."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise InvalidRequest(
                f"'{param}' must be an object with 'rpm', 'tpm' and/or 'usd_per_day'.",
                param=param,
                code="invalid_type",
            )
        unknown = sorted(set(raw) - set(FIELDS))
        if unknown:
            raise InvalidRequest(
                f"Unknown limit '{unknown[0]}'; expected 'rpm', 'tpm' or 'usd_per_day'.",
                param=f"{param}.{unknown[0]}",
                code="invalid_value",
            )
        return cls(
            rpm=_count(raw.get("rpm"), f"{param}.rpm"),
            tpm=_count(raw.get("tpm"), f"{param}.tpm"),
            usd_per_day=_amount(raw.get("usd_per_day"), f"{param}.usd_per_day"),
        )


def _count(value: Any, param: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**12:
        raise InvalidRequest(
            f"'{param}' must be a whole number between 0 and 10^12, or null.",
            param=param,
            code="invalid_value",
        )
    return value


def _amount(value: Any, param: str) -> float | None:
    if value is None:
        return None
    valid = isinstance(value, int | float) and not isinstance(value, bool)
    if not valid or not math.isfinite(value) or not 0 <= value <= 10**9:
        raise InvalidRequest(
            f"'{param}' must be an amount in USD between 0 and 10^9, or null.",
            param=param,
            code="invalid_value",
        )
    return float(value)
