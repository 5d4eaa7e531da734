"""Budget counters and tenant limits over SQL (see :mod:`pilothouse.storage.budgets`).

Each charge is one conditional ``UPDATE … WHERE used + :amount <= :limit``; its row count
says whether it fitted. Only when no row matched (a new window, or a full one) does the
charge insert the window's row ("insert or ignore": ``ON CONFLICT DO NOTHING`` on both
dialects), drop the scope's older windows, and try once more. On PostgreSQL, a concurrent
update of the same row waits for the row lock and then re-evaluates the condition against
the committed value; on SQLite, writers are serialised. Either way no two replicas can
both take the last unit of a budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, select, tuple_, update
from sqlalchemy.engine import Connection

from pilothouse.control.budgets import BudgetLimits
from pilothouse.storage.budgets import Charge, TenantLimits
from pilothouse.storage.sql.runner import SqlRunner
from pilothouse.storage.sql.schema import budget_counters, tenant_limits

_c = budget_counters.c
_ROW = (_c.scope == bindparam("s")) & (_c.window_start == bindparam("w"))
_ADD_IF_ROOM = (
    update(budget_counters)
    .where(_ROW, _c.used + bindparam("n") <= bindparam("limit"))
    .values(used=_c.used + bindparam("n"))
)
_ADD = update(budget_counters).where(_ROW).values(used=_c.used + bindparam("n"))
_PRUNE = delete(budget_counters).where(_c.scope == bindparam("s"), _c.window_start < bindparam("w"))


class _Refused(Exception):
    """Rolls back an admission whose charge at ``position`` did not fit."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


class SQLBudgetStore:
    """The :class:`~pilothouse.storage.budgets.BudgetStore` over SQLAlchemy Core."""

    def __init__(self, runner: SqlRunner) -> None:
        self.runner = runner

    async def admit(self, charges: Sequence[Charge]) -> int | None:
        """All charges in one transaction, or none (the position of the first refused)."""

        def write(conn: Connection) -> None:
            for position, charge in enumerate(charges):
                if not _charge(conn, charge):
                    raise _Refused(position)

        try:
            await self.runner.transaction(write)
        except _Refused as refused:
            return refused.position
        return None

    async def adjust(self, charges: Sequence[Charge]) -> None:
        """Unconditional deltas, in one transaction (group-committed: they cannot fail on
        a limit, so they may share a commit with other writes)."""

        def write(conn: Connection) -> None:
            for charge in charges:
                if charge.amount:
                    _charge(conn, Charge(charge.scope, charge.window, charge.amount))

        await self.runner.write(write)

    async def used(self, counters: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Current values of the named counters."""
        if not counters:
            return {}

        def read(conn: Connection) -> dict[tuple[str, int], int]:
            query = select(_c.scope, _c.window_start, _c.used).where(
                tuple_(_c.scope, _c.window_start).in_(list(counters))
            )
            return {(row.scope, row.window_start): int(row.used) for row in conn.execute(query)}

        return await self.runner.read(read)

    async def tenant_limits(self, tenant: str) -> TenantLimits | None:
        """The tenant's own limits, if it has any."""

        def read(conn: Connection) -> TenantLimits | None:
            query = select(tenant_limits).where(tenant_limits.c.tenant == tenant)
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            limits = BudgetLimits(row["rpm"], row["tpm"], row["usd_per_day"])
            return TenantLimits(tenant, limits, int(row["updated_at"]), row["updated_by"])

        return await self.runner.read(read)

    async def put_tenant_limits(self, record: TenantLimits) -> None:
        """Replace the tenant's limits (delete and insert in one transaction)."""
        row: dict[str, Any] = {
            "tenant": record.tenant,
            **record.limits.to_json(),
            "updated_at": record.updated_at,
            "updated_by": record.updated_by,
        }

        def write(conn: Connection) -> None:
            conn.execute(delete(tenant_limits).where(tenant_limits.c.tenant == record.tenant))
            conn.execute(tenant_limits.insert(), row)

        await self.runner.transaction(write)


def _charge(conn: Connection, charge: Charge) -> bool:
    """Add ``charge`` to its counter (within its limit, if it has one); whether it did."""
    statement = _ADD if charge.limit is None else _ADD_IF_ROOM
    params = {"s": charge.scope, "w": charge.window, "n": charge.amount, "limit": charge.limit}
    if conn.execute(statement, params).rowcount:
        return True
    if charge.limit is None and charge.amount < 0:
        return True  # a refund to a window already pruned: nothing left to give back
    # No row matched: a new window (insert it), or a full one. Insert-or-ignore also waits
    # out a concurrent insert of the same row, so the second try sees the committed row.
    _open_window(conn, charge.scope, charge.window)
    return bool(conn.execute(statement, params).rowcount)


def _open_window(conn: Connection, scope: str, window: int) -> None:
    """Insert the window's row unless it exists; a new window drops the scope's older ones."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    statement = dialect.insert(budget_counters).values(scope=scope, window_start=window, used=0)
    created = conn.execute(statement.on_conflict_do_nothing()).rowcount
    if created:
        conn.execute(_PRUNE, {"s": scope, "w": window})
