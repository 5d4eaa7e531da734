"""The budget boundary: counters per (scope, window) and the tenants' configured limits.

Budgets must hold across every process and replica that shares a store, so nothing is
counted in memory: each charge is one atomic conditional update in the store,

    UPDATE budget_counters SET used = used + :amount
     WHERE scope = :scope AND window_start = :window AND used + :amount <= :limit

whose row count says whether it fitted (the row of a new window is inserted first, with
"insert or ignore"). No read-modify-write: two replicas racing for the last unit of a
budget resolve in the database to exactly one winner, on SQLite and PostgreSQL alike.

Contract for implementers:

* :meth:`BudgetStore.admit` applies all its charges or none (one transaction).
* :meth:`BudgetStore.adjust` applies unconditional deltas (settlements, refunds, actual
  token usage); a negative delta for a window that no longer exists is dropped.
* Amounts are integers: requests, tokens, or nano-dollars (USD times 10^9), so that sums are
  exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pilothouse.control.budgets import BudgetLimits


@dataclass(frozen=True, slots=True)
class Charge:
    """One amount against one counter.

    Attributes:
        scope: The counter, e.g. ``tenant:acme:usd`` or ``key:key_3f…:rpm``.
        window: The window's start (epoch seconds, aligned to its length).
        amount: What to add (negative: give back).
        limit: With :meth:`BudgetStore.admit`, the most the counter may hold afterwards.
    """

    scope: str
    window: int
    amount: int
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class TenantLimits:
    """A tenant's configured limits and who set them."""

    tenant: str
    limits: BudgetLimits
    updated_at: int
    updated_by: str


class BudgetStore(Protocol):
    """Counters and tenant limits. See the module docstring for the contract."""

    async def admit(self, charges: Sequence[Charge]) -> int | None:
        """Apply every charge if each fits under its limit; else none, and return the
        position of the first that did not fit."""
        ...

    async def adjust(self, charges: Sequence[Charge]) -> None:
        """Apply unconditional deltas."""
        ...

    async def used(self, counters: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """What the given (scope, window) counters hold (absent ones are left out)."""
        ...

    async def tenant_limits(self, tenant: str) -> TenantLimits | None:
        """The tenant's configured limits, or None when it has none of its own."""
        ...

    async def put_tenant_limits(self, record: TenantLimits) -> None:
        """Set (replace) the tenant's limits."""
        ...
