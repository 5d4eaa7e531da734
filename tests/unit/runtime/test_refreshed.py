"""Values re-read in the background: from half ``refresh_s`` callers do not wait, a value
``refresh_s`` old is never answered, a reload is never undone by an older read, and a failed
re-read keeps the last value. The switch board and the budget guard over a real SQLite
store, as another replica would change them."""

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
    """Hands out 1, 2, 3 … ; read N waits for ``gates[N]`` when there is one."""

    def __init__(self) -> None:
        self.reads = 0
        self.gates: dict[int, asyncio.Event] = {}
        self.fail = False

    async def read(self) -> int:
        self.reads += 1
        number = self.reads
        if number in self.gates:
            await self.gates[number].wait()
        if self.fail:
            raise OSError("the store is down")
        return number


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def read_once() -> tuple[Source, Clock, Refreshed[int]]:
    """A value read once (1), on a clock the test moves."""
    source, clock = Source(), Clock()
    value = Refreshed(source.read, 1.0, "a number", clock)
    assert value.current() is None
    assert await value.get() == 1
    return source, clock, value


async def test_a_value_younger_than_half_refresh_s_is_answered_without_a_read() -> None:
    source, clock, value = await read_once()
    clock.now += 0.4
    assert await value.get() == 1
    await settle()
    assert source.reads == 1


async def test_from_half_refresh_s_the_value_is_re_read_in_the_background() -> None:
    source, clock, value = await read_once()
    source.gates[2] = asyncio.Event()
    clock.now += 0.5
    assert await value.get() == 1  # not waiting for the re-read
    assert await value.get() == 1  # and only one re-read under way
    await settle()
    assert source.reads == 2
    source.gates[2].set()
    await settle()
    assert await value.get() == 2 and value.current() == 2
    assert source.reads == 2  # fresh again


async def test_a_value_refresh_s_old_is_never_answered() -> None:
    source, clock, value = await read_once()
    source.gates[2] = asyncio.Event()
    clock.now += 1.0  # an idle spell: no re-read ran
    waiting = asyncio.create_task(value.get())
    await settle()
    assert not waiting.done()  # the caller waits for the fresh read
    source.gates[2].set()
    assert await waiting == 2


async def test_a_re_read_begun_before_a_reload_never_replaces_its_value() -> None:
    source, clock, value = await read_once()
    source.gates[2] = asyncio.Event()
    clock.now += 0.5
    await value.get()  # re-read 2 begins and waits
    await settle()
    assert await value.reload() == 3  # read 3 begins after it and ends first
    source.gates[2].set()  # now read 2 ends, with an older value
    await settle()
    assert source.reads == 3 and value.current() == 3


async def test_a_failed_re_read_keeps_the_last_value_until_refresh_s(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source, clock, value = await read_once()
    source.fail = True
    clock.now += 0.5
    with caplog.at_level(logging.WARNING, logger="pilothouse.runtime.refreshed"):
        assert await value.get() == 1
        await settle()
    assert value.current() == 1
    assert "re-reading a number failed" in caplog.text
    clock.now += 0.5  # now refresh_s old: a read is waited for, and its failure raised
    with pytest.raises(OSError):
        await value.get()
    source.fail = False
    assert await value.get() == 4


async def test_a_failed_first_read_raises_and_is_tried_again() -> None:
    source = Source()
    source.fail = True
    value = Refreshed(source.read, 1.0, "a number", Clock())
    with pytest.raises(OSError):
        await value.get()
    source.fail = False
    assert await value.get() == 2


async def test_a_switch_engaged_by_another_replica_stops_steps_within_refresh_s(
    store: SQLStore,
) -> None:
    here, elsewhere = SwitchBoard(store.journal, refresh_s=0.2), SwitchBoard(store.journal)
    await here.refresh()
    assert here.reason("desk") is None
    await elsewhere.set("desk", True, "incident 42")
    await asyncio.sleep(0.25)  # no step here meanwhile: the next one reads before deciding
    await here.refresh()
    assert here.reason("desk") == "incident 42"
    await here.set("desk", False, "resolved")  # through this process: at once
    assert here.reason("desk") is None and here.engaged() == {}


async def test_settings_switches_hold_whatever_the_store_says(store: SQLStore) -> None:
    board = SwitchBoard(store.journal, fixed=["*"])
    await board.refresh()
    assert board.reason("desk") == "engaged in settings"
    await board.set("*", False, "released in the store only")
    assert board.reason("desk") == "engaged in settings"


async def test_tenant_limits_changed_by_another_replica_apply_within_refresh_s(
    store: SQLStore,
) -> None:
    defaults = BudgetLimits(rpm=600)
    here = BudgetGuard(store.budgets, defaults=defaults, refresh_s=0.2)
    elsewhere = BudgetGuard(store.budgets, defaults=defaults)
    assert await here.tenant_limits("acme") == defaults
    own = BudgetLimits(rpm=5, usd_per_day=1.0)
    await elsewhere.set_tenant_limits(TenantLimits("acme", own, 1, "key_x"))
    await asyncio.sleep(0.25)
    assert await here.tenant_limits("acme") == own
    await elsewhere.set_tenant_limits(TenantLimits("acme", defaults, 2, "key_x"))
    assert await elsewhere.tenant_limits("acme") == defaults  # its own change: at once
