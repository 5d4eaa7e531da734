"""Budget limits as configuration, and the ledger's reservations and settlements over a
real SQLite store on a frozen clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pilothouse.control.budgets import BudgetLimits
from pilothouse.control.principal import Principal
from pilothouse.errors import BudgetExceeded, InvalidRequest
from pilothouse.runtime.budgets.guard import BudgetGuard
from pilothouse.runtime.budgets.ledger import Ledger, Payer
from pilothouse.settings import Settings
from pilothouse.storage.budgets import TenantLimits
from pilothouse.storage.sql.store import SQLStore
from pilothouse.wiring import build_services

NOON = 1_900_000_000 // 86_400 * 86_400 + 12 * 3600 + 30.0


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        ([1], "limits"),
        ({"rpm": True}, "limits.rpm"),
        ({"rpm": -1}, "limits.rpm"),
        ({"tpm": 2.0}, "limits.tpm"),
        ({"usd_per_day": float("inf")}, "limits.usd_per_day"),
        ({"usd_per_day": -0.5}, "limits.usd_per_day"),
        ({"rpd": 5}, "limits.rpd"),
    ],
)
def test_invalid_limits_name_the_parameter(raw: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        BudgetLimits.parse(raw)
    assert refused.value.param == param


def test_limits_round_trip() -> None:
    limits = BudgetLimits.parse({"rpm": 0, "usd_per_day": 3})
    assert limits == BudgetLimits(rpm=0, usd_per_day=3.0) and not limits.empty
    assert BudgetLimits.parse(limits.to_json()) == limits
    assert BudgetLimits.parse(None).empty and not BudgetLimits(rpm=1).meters_calls


async def test_reservations_hold_until_settled_to_the_actual_cost(store: SQLStore) -> None:
    ledger = Ledger(store.budgets, clock=lambda: NOON)
    tenant = Payer("tenant", "acme", BudgetLimits(usd_per_day=1.0))
    first = await ledger.reserve([tenant], 0.5)
    await ledger.reserve([tenant], 0.4)
    with pytest.raises(BudgetExceeded) as refused:
        await ledger.reserve([tenant], 0.2)  # 0.9 reserved: 0.2 more could pass 1.0
    assert refused.value.code == "budget_exceeded_usd"
    assert refused.value.retry_after == 12 * 3600 - 30  # until 00:00 UTC
    await ledger.settle(first, tokens=100, cost_usd=0.1)  # 0.4 of 0.5 given back
    await ledger.reserve([tenant], 0.5)
    used = await store.budgets.used([(tenant.scope("usd"), int(NOON // 86_400 * 86_400))])
    assert list(used.values()) == [1_000_000_000]  # 0.1 + 0.4 + 0.5, in nano-dollars


async def test_tokens_per_minute_refuse_only_a_spent_window(store: SQLStore) -> None:
    ledger = Ledger(store.budgets, clock=lambda: NOON)
    key = Payer("key", "key_1", BudgetLimits(tpm=100))
    held = await ledger.reserve([key], 0.0)
    await ledger.settle(held, tokens=99, cost_usd=0.0)
    held = await ledger.reserve([key], 0.0)  # 99 < 100: room left
    await ledger.settle(held, tokens=50, cost_usd=0.0)  # a call may overshoot by its size
    with pytest.raises(BudgetExceeded) as refused:
        await ledger.reserve([key], 0.0)
    assert (refused.value.code, refused.value.retry_after) == ("rate_limit_tokens", 30)


async def test_requests_per_minute_charge_key_and_tenant_together(store: SQLStore) -> None:
    ledger = Ledger(store.budgets, clock=lambda: NOON)
    key = Payer("key", "key_2", BudgetLimits(rpm=5))
    tenant = Payer("tenant", "globex", BudgetLimits(rpm=2))
    await ledger.take_request([key, tenant])
    await ledger.take_request([key, tenant])
    with pytest.raises(BudgetExceeded) as refused:
        await ledger.take_request([key, tenant])
    assert "tenant 'globex'" in refused.value.message
    minute = int(NOON // 60 * 60)
    used = await store.budgets.used([(key.scope("rpm"), minute)])
    assert list(used.values()) == [2]  # the refused request charged neither


async def test_tenants_fall_back_to_the_process_defaults(tmp_path: Path) -> None:
    settings = Settings(
        store=f"sqlite:///{tmp_path / 'defaults.db'}",
        default_tenant_limits={"rpm": 600, "usd_per_day": 2.5},
    )
    services = build_services(settings)
    await services.store.start()
    try:
        guard = services.budgets
        assert isinstance(guard, BudgetGuard)
        assert await guard.tenant_limits("new") == BudgetLimits(rpm=600, usd_per_day=2.5)
        own = BudgetLimits(tpm=10)
        await guard.set_tenant_limits(TenantLimits("new", own, 1, "key_x"))
        assert await guard.tenant_limits("new") == own
        principal = Principal("key_y", "new", limits=BudgetLimits(rpm=1))
        payers = await guard.payers(principal)
        assert [(p.kind, p.limits) for p in payers] == [
            ("key", BudgetLimits(rpm=1)),
            ("tenant", own),
        ]
        assert await guard.payers(None) == []
    finally:
        await services.store.close()
