"""The run journal over SQL, sharing the runner (and group commit) of :class:`SQLStore`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from pilothouse.storage.base import JournalEntry, StoredRun
from pilothouse.storage.sql.direct import DirectStatement
from pilothouse.storage.sql.runner import Atomic, SqlRunner
from pilothouse.storage.sql.schema import journal, runs, switches

# Built once: SQLAlchemy then reuses their compiled form (a statement built per call costs
# more than running it).
_INSERT_ENTRIES = DirectStatement(insert(journal))
_INSERT_RUN = DirectStatement(insert(runs))
_SET_STATUS = DirectStatement(
    update(runs)
    .where(runs.c.id == bindparam("run_id"))
    .values(status=bindparam("status"), updated_at=bindparam("updated_at"))
)


class SQLJournalStore:
    """The :class:`~pilothouse.storage.base.JournalStore` over SQLAlchemy Core."""

    def __init__(self, runner: SqlRunner) -> None:
        self.runner = runner

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
        rows = [_row(e) for e in entries]

        def write(conn: Connection) -> None:
            _INSERT_RUN.execute(conn, row)
            if rows:
                _INSERT_ENTRIES.execute(conn, rows)

        await self.runner.write(write)

    async def append(
        self, entries: list[JournalEntry], status: tuple[str, str] | None = None
    ) -> None:
        """Append atomically, optionally updating the run's status."""
        await self.runner.write(_appending(entries, status))

    def append_soon(
        self, entries: list[JournalEntry], status: tuple[str, str] | None = None
    ) -> asyncio.Future[None]:
        """Like :meth:`append`, in the store's next transaction, without waiting."""
        return self.runner.write_soon(_appending(entries, status))

    async def read(self, run_id: str) -> list[JournalEntry]:
        """Every entry, in order."""

        def read(conn: Connection) -> list[JournalEntry]:
            result = conn.execute(
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

        return await self.runner.read(read)

    async def get_run(self, tenant: str, run_id: str) -> StoredRun | None:
        """The run header within the tenant."""

        def read(conn: Connection) -> StoredRun | None:
            row = (
                conn.execute(select(runs).where(runs.c.id == run_id, runs.c.tenant == tenant))
                .mappings()
                .first()
            )
            return StoredRun(**row) if row else None

        return await self.runner.read(read)

    async def list_runs(self, tenant: str, limit: int) -> list[StoredRun]:
        """Newest first."""

        def read(conn: Connection) -> list[StoredRun]:
            rows = conn.execute(
                select(runs)
                .where(runs.c.tenant == tenant)
                .order_by(runs.c.created_at.desc(), runs.c.updated_at.desc())
                .limit(limit)
            ).mappings()
            return [StoredRun(**row) for row in rows]

        return await self.runner.read(read)

    async def set_switch(self, name: str, engaged: bool, reason: str, now: int) -> None:
        """Upsert a switch (update, then insert when there was none)."""
        values = {"engaged": engaged, "reason": reason, "updated_at": now}

        def write(conn: Connection) -> None:
            result = conn.execute(update(switches).where(switches.c.name == name).values(**values))
            if result.rowcount == 0:
                conn.execute(insert(switches), {"name": name, **values})

        await self.runner.transaction(write)

    async def engaged_switches(self) -> dict[str, str]:
        """Engaged switches and their reasons."""

        def read(conn: Connection) -> dict[str, str]:
            rows = conn.execute(
                select(switches.c.name, switches.c.reason).where(switches.c.engaged.is_(True))
            )
            return {r.name: r.reason for r in rows}

        return await self.runner.read(read)


def _appending(
    entries: list[JournalEntry], status: tuple[str, str] | None
) -> Callable[[Connection], None]:
    """The write of :meth:`SQLJournalStore.append`: :class:`Atomic` when it is only the
    entries' insert (one statement), as between a run's steps."""
    rows = [_row(e) for e in entries]
    at = int(entries[-1].at) if entries else 0

    def write(conn: Connection) -> None:
        if rows:
            _INSERT_ENTRIES.execute(conn, rows)
        if status is not None:
            _SET_STATUS.execute(conn, {"run_id": status[0], "status": status[1], "updated_at": at})

    return Atomic(write) if status is None else write


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
