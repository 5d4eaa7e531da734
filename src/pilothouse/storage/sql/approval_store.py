"""Approvals over SQL: every state change is one conditional UPDATE, so it holds across
processes sharing the database (see :mod:`pilothouse.storage.approvals`)."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from pilothouse.storage.approvals import StoredApproval
from pilothouse.storage.sql.runner import SqlRunner
from pilothouse.storage.sql.schema import approvals


class SQLApprovalStore:
    """The :class:`~pilothouse.storage.approvals.ApprovalStore` over SQLAlchemy Core."""

    def __init__(self, runner: SqlRunner) -> None:
        self.runner = runner

    async def create_approval(self, approval: StoredApproval) -> None:
        """Insert a new approval."""
        row = asdict(approval)
        await self.runner.transaction(lambda conn: conn.execute(insert(approvals), row))

    async def get_approval(self, tenant: str, approval_id: str) -> StoredApproval | None:
        """One approval of ``tenant``."""
        col = approvals.c

        def read(conn: Connection) -> StoredApproval | None:
            query = select(approvals).where(col.id == approval_id, col.tenant == tenant)
            row = conn.execute(query).mappings().first()
            return StoredApproval(**row) if row else None

        return await self.runner.read(read)

    async def count_pending(self, now: int) -> int:
        """Pending, unexpired approvals of every tenant (for the metrics)."""
        col = approvals.c
        query = select(func.count()).where(col.status == "pending", col.expires_at > now)
        return await self.runner.read(lambda conn: int(conn.execute(query).scalar() or 0))

    async def list_approvals(self, tenant: str, status: str | None) -> list[StoredApproval]:
        """Approvals of ``tenant``, oldest first."""
        col = approvals.c

        def read(conn: Connection) -> list[StoredApproval]:
            query = select(approvals).where(col.tenant == tenant)
            if status is not None:
                query = query.where(col.status == status)
            query = query.order_by(col.created_at, col.id)
            return [StoredApproval(**row) for row in conn.execute(query).mappings()]

        return await self.runner.read(read)

    async def decide_approval(
        self, tenant: str, approval_id: str, status: str, by: str, reason: str, now: int
    ) -> bool:
        """pending → approved|denied, only while unexpired."""
        col = approvals.c
        statement = (
            update(approvals)
            .where(
                col.id == approval_id,
                col.tenant == tenant,
                col.status == "pending",
                col.expires_at > now,
            )
            .values(status=status, decided_by=by, decided_at=now, reason=reason)
        )
        return await self.runner.transaction(lambda conn: conn.execute(statement).rowcount == 1)

    async def consume_approval(self, tenant: str, approval_id: str, run_id: str, now: int) -> bool:
        """approved → used, only while unexpired."""
        col = approvals.c
        statement = (
            update(approvals)
            .where(
                col.id == approval_id,
                col.tenant == tenant,
                col.status == "approved",
                col.expires_at > now,
            )
            .values(status="used", used_by_run=run_id, used_at=now)
        )
        return await self.runner.transaction(lambda conn: conn.execute(statement).rowcount == 1)
