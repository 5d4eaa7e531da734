"""Values re-read in the background: the first read is waited for, later ones are not, a
reload is never undone by an older read, and a failed re-read keeps the last value. The
switch board and the budget guard over a real SQLite store, as another replica would
change them."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pilothouse.control.budgets import BudgetLimits
from pilothouse.runtime.agent.switches import SwitchBoard
from pilothouse.runtime.budgets.guard import BudgetGuard
from pilothouse.runtime.refreshed import Refreshed
from pilothouse.storage.budgets import TenantLimits
from pilothouse.storage.sql.store import SQLStore


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Source:
    """Hands out 1, 2, 3 … ; each read waits for ``gate`` when one is set."""

    def __init__(self) -> None:
        self.reads = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def read(self) -> int:
        self.reads += 1
        number = self.reads
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise OSError("the store is down")
        return number


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_first_read_is_waited_for_and_then_kept_for_refresh_s() -> None:
    source, clock = Source(), Clock()
    value = Refreshed(source.read, 1.0, "a number", clock)
    assert value.current() is None
    assert await value.get() == 1
    clock.now += 0.5
    assert await value.get() == 1
    await settle()
    assert source.reads == 1


async def read_then_stale() -> tuple[Source, Refreshed[int]]:
    """A value read once (1) and now refresh_s old, whose next reads wait for a gate."""
    source, clock = Source(), Clock()
    value = Refreshed(source.read, 1.0, "a number", clock)
    await value.get()
    source.gate = asyncio.Event()
    clock.now += 1.0
    return source, value


async def test_a_stale_value_is_returned_while_the_new_one_is_read() -> None:
    source, value = await read_then_stale()
    assert source.gate is not None
    assert await value.get() == 1  # not waiting for the re-read
    assert await value.get() == 1  # and only one re-read under way
    await settle()
    assert source.reads == 2
    source.gate.set()
    await settle()
    assert await value.get() == 2 and value.current() == 2
    assert source.reads == 2  # fresh again for refresh_s


async def test_a_reload_is_not_undone_by_a_re_read_begun_before_it() -> None:
    source, value = await read_then_stale()
    assert source.gate is not None
    await value.get()  # re-read 2 begins and waits
    await settle()
    reload = asyncio.create_task(value.reload())  # read 3 begins after it
    await settle()
    source.gate.set()
    assert await reload == 3
    await settle()
    assert value.current() == 3


async def test_a_failed_re_read_keeps_the_last_value(caplog: pytest.LogCaptureFixture) -> None:
    source, clock = Source(), Clock()
    value = Refreshed(source.read, 1.0, "a number", clock)
    await value.get()
    source.fail = True
    clock.now += 1.0
    with caplog.at_level(logging.WARNING, logger="pilothouse.runtime.refreshed"):
        assert await value.get() == 1
        await settle()
    assert value.current() == 1
    assert "re-reading a number failed" in caplog.text
    source.fail = False
    clock.now += 1.0
    await value.get()
    await settle()
    assert value.current() == 3  # tried again refresh_s later


async def test_a_failed_first_read_raises_and_is_tried_again() -> None:
    source = Source()
    source.fail = True
    value = Refreshed(source.read, 1.0, "a number", Clock())
    with pytest.raises(OSError):
        await value.get()
    source.fail = False
    assert await value.get() == 2


async def test_a_switch_engaged_by_another_replica_stops_steps_after_refresh_s(
    store: SQLStore,
) -> None:
    here, elsewhere = SwitchBoard(store.journal, refresh_s=0.05), SwitchBoard(store.journal)
    await here.refresh()
    assert here.reason("desk") is None
    await elsewhere.set("desk", True, "incident 42")
    await here.refresh()
    assert here.reason("desk") is None  # read less than refresh_s ago
    await asyncio.sleep(0.06)
    await here.refresh()  # starts the re-read, does not wait for it
    for _ in range(1000):
        if here.reason("desk") is not None:
            break
        await asyncio.sleep(0.005)
    assert here.reason("desk") == "incident 42"
    await here.set("desk", False, "resolved")  # through this process: at once
    assert here.reason("desk") is None and here.engaged() == {}


async def test_settings_switches_hold_whatever_the_store_says(store: SQLStore) -> None:
    board = SwitchBoard(store.journal, fixed=["*"])
    await board.refresh()
    assert board.reason("desk") == "engaged in settings"
    await board.set("*", False, "released in the store only")
    assert board.reason("desk") == "engaged in settings"


async def test_tenant_limits_changed_by_another_replica_apply_after_refresh_s(
    store: SQLStore,
) -> None:
    defaults = BudgetLimits(rpm=600)
    here = BudgetGuard(store.budgets, defaults=defaults, refresh_s=0.05)
    elsewhere = BudgetGuard(store.budgets, defaults=defaults)
    assert await here.tenant_limits("acme") == defaults
    own = BudgetLimits(rpm=5, usd_per_day=1.0)
    await elsewhere.set_tenant_limits(TenantLimits("acme", own, 1, "key_x"))
    assert await here.tenant_limits("acme") == defaults  # answered at once, not re-read
    await asyncio.sleep(0.06)
    for _ in range(1000):  # a re-read starts once refresh_s has passed
        if await here.tenant_limits("acme") == own:
            break
        await asyncio.sleep(0.005)
    assert await here.tenant_limits("acme") == own
    await elsewhere.set_tenant_limits(TenantLimits("acme", defaults, 2, "key_x"))
    assert await elsewhere.tenant_limits("acme") == defaults  # its own change: at once
