"""The run journal over SQL, sharing the engine and group commit of :class:`SQLStore`."""

from __future__ import annotations

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pilothouse.storage.base import JournalEntry, StoredRun
from pilothouse.storage.sql.group_commit import GroupCommit
from pilothouse.storage.sql.schema import journal, runs, switches


class SQLJournalStore:
    """The :class:`~pilothouse.storage.base.JournalStore` over SQLAlchemy Core."""

    def __init__(self, engine: AsyncEngine, writer: GroupCommit) -> None:
        self.engine = engine
        self.writer = writer

    async def create_run(self, run: StoredRun, entries: list[JournalEntry]) -> None:
        """Insert the run and its first entries in one transaction."""
        row = {
            "id": run.id,
            "tenant": run.tenant,
            "agent": run.agent,
            "agent_version": run.agent_version,
            "status": run.status,
            "created_at": run.created_at,
            "updated_at": run.updated_at,
            "schema_version": run.schema_version,
            "spec": run.spec,
        }

        async def write(conn: AsyncConnection) -> None:
            await conn.execute(insert(runs), row)
            if entries:
                await conn.execute(insert(journal), [_row(e) for e in entries])

        await self.writer.submit(write)

    async def append(
        self, entries: list[JournalEntry], status: tuple[str, str] | None = None
    ) -> None:
        """Append atomically, optionally updating the run's status."""
        rows = [_row(e) for e in entries]
        at = int(entries[-1].at) if entries else 0

        async def write(conn: AsyncConnection) -> None:
            if rows:
                await conn.execute(insert(journal), rows)
            if status is not None:
                await conn.execute(
                    update(runs)
                    .where(runs.c.id == status[0])
                    .values(status=status[1], updated_at=at)
                )

        await self.writer.submit(write)

    async def read(self, run_id: str) -> list[JournalEntry]:
        """Every entry, in order."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(journal).where(journal.c.run_id == run_id).order_by(journal.c.seq)
            )
            return [
                JournalEntry(
                    run_id=r.run_id,
                    seq=r.seq,
                    kind=r.kind,
                    step=r.step,
                    at=r.at,
                    payload=orjson.loads(r.payload),
                    schema_version=r.schema_version,
                )
                for r in result
            ]

    async def get_run(self, tenant: str, run_id: str) -> StoredRun | None:
        """The run header within the tenant."""
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(runs).where(runs.c.id == run_id, runs.c.tenant == tenant)
                    )
                )
                .mappings()
                .first()
            )
        return StoredRun(**row) if row else None

    async def list_runs(self, tenant: str, limit: int) -> list[StoredRun]:
        """Newest first."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(runs)
                    .where(runs.c.tenant == tenant)
                    .order_by(runs.c.created_at.desc())
                    .limit(limit)
                )
            ).mappings()
            return [StoredRun(**row) for row in rows]

    async def set_switch(self, name: str, engaged: bool, reason: str, now: int) -> None:
        """Upsert a switch (update, then insert when there was none)."""
        values = {"engaged": engaged, "reason": reason, "updated_at": now}
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(switches).where(switches.c.name == name).values(**values)
            )
            if result.rowcount == 0:
                await conn.execute(insert(switches), {"name": name, **values})

    async def engaged_switches(self) -> dict[str, str]:
        """Engaged switches and their reasons."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(switches.c.name, switches.c.reason).where(switches.c.engaged.is_(True))
            )
            return {r.name: r.reason for r in rows}


def _row(entry: JournalEntry) -> dict[str, object]:
    return {
        "run_id": entry.run_id,
        "seq": entry.seq,
        "kind": entry.kind,
        "step": entry.step,
        "at": entry.at,
        "schema_version": entry.schema_version,
        "payload": orjson.dumps(entry.payload).decode(),
    }
