"""The ledger: budgets as charges against the store's counters, in aligned windows.

Windows are aligned to the clock (a minute starts at a multiple of 60 s, a day at 00:00
UTC), so every replica agrees on the window without talking to the others; the store's
counters are the only shared state. Money is counted in nano-dollars (USD times 10^9, the
precision prices are rounded to): a reservation rounds up and a limit rounds down, so
integer sums never let a fraction of a cent slip past a limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pilothouse.control.budgets import BudgetLimits
from pilothouse.errors import BudgetExceeded
from pilothouse.storage.budgets import BudgetStore, Charge

MINUTE = 60
DAY = 86_400
NANO_PER_USD = 10**9


@dataclass(frozen=True, slots=True)
class Payer:
    """Who a request is charged to: its API key or its tenant, with that one's limits."""

    kind: str  # "key" or "tenant"
    name: str
    limits: BudgetLimits

    def scope(self, dimension: str) -> str:
        """The counter of ``dimension`` (``rpm``, ``tpm``, ``usd``) for this payer."""
        return f"{self.kind}:{self.name}:{dimension}"

    @property
    def label(self) -> str:
        """How messages name the payer (a key's public id, never its secret)."""
        return f"API key {self.name}" if self.kind == "key" else f"tenant '{self.name}'"


@dataclass(frozen=True, slots=True)
class Reservation:
    """What a model call holds until it is settled: ``nano`` reserved from the USD/day
    budget of each payer that has one, in the window of ``day``."""

    minute: int
    day: int
    nano: int
    payers: tuple[Payer, ...]


class Ledger:
    """Charges, reservations and settlements. See the module docstring.

    Args:
        store: Where the counters are.
        clock: Wall-clock seconds (tests freeze it, so windows do not roll over mid-test).
        refused: Told of each refusal: the payer's kind (``key``/``tenant``) and the window
            (``minute``/``day``); the metrics' ``budget_rejections`` (wired in wiring.py).
        usage: Told, after each request counted and each call settled, how much of each
            limit is used: (payer kind, payer name, window, used ÷ limit); the metrics'
            ``budget_usage_ratio``. One read of the counters, only where limits exist.
    """

    def __init__(
        self,
        store: BudgetStore,
        clock: Callable[[], float] = time.time,
        refused: Callable[[str, str], None] | None = None,
        usage: Callable[[str, str, str, float], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.refused = refused
        self.usage = usage

    async def take_request(self, payers: Sequence[Payer]) -> None:
        """Count one request against every requests/min limit, or raise (429)."""
        limited = [p for p in payers if p.limits.rpm is not None]
        if not limited:
            return
        now = self.clock()
        minute = _start(now, MINUTE)
        charges = [Charge(p.scope("rpm"), minute, 1, p.limits.rpm) for p in limited]
        refused = await self.store.admit(charges)
        if refused is not None:
            payer = limited[refused]
            self._tell(payer, "minute")
            raise BudgetExceeded(
                f"Rate limit reached for {payer.label}: {payer.limits.rpm} requests per minute.",
                code="rate_limit_requests",
                retry_after=_until(now, minute + MINUTE),
            )
        await self._report(
            [(p, "rpm", minute, "minute", float(p.limits.rpm or 0)) for p in limited]
        )

    async def reserve(self, payers: Sequence[Payer], worst_usd: float) -> Reservation:
        """Before a model call: the tokens/min windows must have room, and the call's worst
        case must fit every USD/day budget (it is reserved); else raise (429)."""
        now = self.clock()
        minute, day = _start(now, MINUTE), _start(now, DAY)
        nano = math.ceil(worst_usd * NANO_PER_USD)
        charges: list[Charge] = []
        meaning: list[tuple[Payer, str]] = []
        for payer in payers:
            if payer.limits.tpm is not None:
                # "Not spent yet": adding nothing must stay at most one below the limit.
                charges.append(Charge(payer.scope("tpm"), minute, 0, payer.limits.tpm - 1))
                meaning.append((payer, "tpm"))
            if payer.limits.usd_per_day is not None:
                limit = math.floor(payer.limits.usd_per_day * NANO_PER_USD + 1e-6)
                charges.append(Charge(payer.scope("usd"), day, nano, limit))
                meaning.append((payer, "usd"))
        reservation = Reservation(minute, day, nano, tuple(payers))
        if not charges:
            return reservation
        refused = await self.store.admit(charges)
        if refused is not None:
            payer, dimension = meaning[refused]
            self._tell(payer, "minute" if dimension == "tpm" else "day")
            raise _refusal(payer, dimension, now, worst_usd, minute, day)
        return reservation

    def _tell(self, payer: Payer, window: str) -> None:
        if self.refused is not None:
            self.refused(payer.kind, window)

    async def settle(self, reservation: Reservation, tokens: int, cost_usd: float) -> None:
        """After a call: charge its tokens, and turn the reservation into its actual cost."""
        now = self.clock()
        actual = math.ceil(round(cost_usd * NANO_PER_USD, 3))
        minute = _start(now, MINUTE)
        adjustments = [
            Charge(p.scope("usd"), reservation.day, actual - reservation.nano)
            for p in reservation.payers
            if p.limits.usd_per_day is not None
        ] + [
            Charge(p.scope("tpm"), minute, tokens)
            for p in reservation.payers
            if p.limits.tpm is not None
        ]
        if any(c.amount for c in adjustments):
            await self.store.adjust(adjustments)
        await self._report(
            [
                (p, "usd", reservation.day, "day", (p.limits.usd_per_day or 0) * NANO_PER_USD)
                for p in reservation.payers
                if p.limits.usd_per_day is not None
            ]
            + [
                (p, "tpm", minute, "minute", float(p.limits.tpm or 0))
                for p in reservation.payers
                if p.limits.tpm is not None
            ]
        )

    async def _report(self, limits: list[tuple[Payer, str, int, str, float]]) -> None:
        """Tell ``usage`` how much of each (payer, dimension, window start, window name,
        limit) is used."""
        if self.usage is None or not limits:
            return
        found = await self.store.used([(p.scope(dim), start) for p, dim, start, _, _ in limits])
        for payer, dimension, start, window, limit in limits:
            used = found.get((payer.scope(dimension), start), 0)
            self.usage(payer.kind, payer.name, window, used / limit if limit else 1.0)

    async def release(self, reservation: Reservation) -> None:
        """A call that never ran (refused upstream): give its reservation back."""
        refunds = [
            Charge(p.scope("usd"), reservation.day, -reservation.nano)
            for p in reservation.payers
            if p.limits.usd_per_day is not None
        ]
        if reservation.nano and refunds:
            await self.store.adjust(refunds)


def _start(now: float, length: int) -> int:
    return int(now // length) * length


def _until(now: float, end: int) -> float:
    return max(1.0, math.ceil(end - now))


def _refusal(
    payer: Payer, dimension: str, now: float, worst_usd: float, minute: int, day: int
) -> BudgetExceeded:
    if dimension == "tpm":
        return BudgetExceeded(
            f"Rate limit reached for {payer.label}: its {payer.limits.tpm} tokens per minute "
            "are used up.",
            code="rate_limit_tokens",
            retry_after=_until(now, minute + MINUTE),
        )
    return BudgetExceeded(
        f"Budget exceeded for {payer.label}: the next model call could cost up to "
        f"${worst_usd:.6f}, more than is left of its ${payer.limits.usd_per_day:g} per day "
        "(the day resets at 00:00 UTC).",
        code="budget_exceeded_usd",
        retry_after=_until(now, day + DAY),
    )
