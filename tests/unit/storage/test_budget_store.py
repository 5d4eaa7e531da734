"""Budget counters: atomic conditional charges on SQLite and PostgreSQL, also when two
stores (two replicas' connection pools) race for the same budget."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from pilothouse.control.budgets import BudgetLimits
from pilothouse.storage.budgets import Charge, TenantLimits
from pilothouse.storage.sql.store import SQLStore


@pytest.fixture
async def stores(store_url: str) -> AsyncIterator[tuple[SQLStore, SQLStore]]:
    """Two stores on one database, like two replicas."""
    first, second = SQLStore(store_url), SQLStore(store_url)
    await first.start()
    await second.start()
    yield first, second
    await first.close()
    await second.close()


def _scope() -> str:
    return f"test:{uuid.uuid4().hex[:10]}:rpm"


async def test_a_charge_fits_until_the_limit_then_is_refused(
    stores: tuple[SQLStore, SQLStore],
) -> None:
    budgets = stores[0].budgets
    scope = _scope()
    assert await budgets.admit([Charge(scope, 60, 3, 5)]) is None
    assert await budgets.admit([Charge(scope, 60, 2, 5)]) is None
    assert await budgets.admit([Charge(scope, 60, 1, 5)]) == 0
    assert await budgets.used([(scope, 60)]) == {(scope, 60): 5}
    # A new window starts empty and drops the older windows of the scope.
    assert await budgets.admit([Charge(scope, 120, 5, 5)]) is None
    assert await budgets.used([(scope, 60), (scope, 120)]) == {(scope, 120): 5}


async def test_admission_is_all_or_nothing(stores: tuple[SQLStore, SQLStore]) -> None:
    budgets = stores[0].budgets
    key, tenant = _scope(), _scope()
    assert await budgets.admit([Charge(tenant, 0, 9, 10)]) is None
    assert await budgets.admit([Charge(key, 0, 2, 10), Charge(tenant, 0, 2, 10)]) == 1
    assert await budgets.used([(key, 0), (tenant, 0)]) == {(tenant, 0): 9}


async def test_adjustments_settle_and_refund(stores: tuple[SQLStore, SQLStore]) -> None:
    budgets = stores[0].budgets
    scope = _scope()
    assert await budgets.admit([Charge(scope, 0, 100, 100)]) is None
    await budgets.adjust([Charge(scope, 0, -70)])
    assert await budgets.used([(scope, 0)]) == {(scope, 0): 30}
    await budgets.adjust([Charge(scope, 0, 5), Charge(scope, 99, -5)])  # 99: no such window
    assert await budgets.used([(scope, 0), (scope, 99)]) == {(scope, 0): 35}


async def test_racing_replicas_never_overshoot(stores: tuple[SQLStore, SQLStore]) -> None:
    scope = _scope()
    gates = [asyncio.Semaphore(8), asyncio.Semaphore(8)]  # a shared PostgreSQL has few slots

    async def attempt(i: int) -> int | None:
        async with gates[i % 2]:
            return await stores[i % 2].budgets.admit([Charge(scope, 0, 1, 25)])

    outcomes = await asyncio.gather(*(attempt(i) for i in range(60)))
    assert outcomes.count(None) == 25
    assert await stores[1].budgets.used([(scope, 0)]) == {(scope, 0): 25}


async def test_tenant_limits_are_replaced_whole(stores: tuple[SQLStore, SQLStore]) -> None:
    budgets = stores[0].budgets
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    assert await budgets.tenant_limits(tenant) is None
    await budgets.put_tenant_limits(TenantLimits(tenant, BudgetLimits(rpm=5, tpm=100), 1, "k"))
    await budgets.put_tenant_limits(TenantLimits(tenant, BudgetLimits(usd_per_day=2.5), 2, "k"))
    found = await stores[1].budgets.tenant_limits(tenant)
    assert found == TenantLimits(tenant, BudgetLimits(usd_per_day=2.5), 2, "k")
