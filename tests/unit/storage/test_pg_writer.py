"""PostgreSQL group commits on the writer's own connection (storage/sql/runner.py).

Batches share one connection kept for writing; a batch that fails gives it up, so a
broken connection (its server process killed, as by a restart) or a failing write costs
only that batch: the group commit retries it one write at a time on a fresh connection,
and nothing accepted is lost. A batch of one :class:`Atomic` operation runs without a
transaction around it (its one statement is all or nothing on its own); every other batch
still runs in one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from pilothouse.storage.sql.runner import AsyncEngineRunner, Atomic
from pilothouse.storage.sql.store import create_runner

rows = Table("writer_rows", MetaData(), Column("id", Integer, primary_key=True), Column("v", Text))


@pytest.fixture
async def runner(postgres_url: str) -> AsyncIterator[AsyncEngineRunner]:
    made = create_runner(postgres_url)
    assert isinstance(made, AsyncEngineRunner)
    await made.transaction(lambda conn: rows.drop(conn, checkfirst=True))
    await made.transaction(lambda conn: rows.create(conn))
    yield made
    await made.close()


def _insert(row_id: int) -> Callable[[Connection], int]:
    def write(conn: Connection) -> int:
        conn.execute(insert(rows).values(id=row_id, v=f"row {row_id}"))
        return int(conn.execute(select(func.pg_backend_pid())).scalar_one())

    return write


async def _count(runner: AsyncEngineRunner) -> int:
    return int(
        await runner.read(
            lambda conn: conn.execute(select(func.count()).select_from(rows)).scalar_one()
        )
    )


async def test_batches_share_the_writers_connection(runner: AsyncEngineRunner) -> None:
    pids = [await runner.write(_insert(i)) for i in range(5)]
    assert len(set(pids)) == 1
    assert await _count(runner) == 5


async def test_a_killed_connection_costs_no_write(
    runner: AsyncEngineRunner, postgres_url: str
) -> None:
    first = await runner.write(_insert(1))
    admin = await asyncpg.connect(postgres_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
    finally:
        await admin.close()
    second = await runner.write(_insert(2))
    third = await runner.write(_insert(3))
    assert second != first and third == second  # a fresh connection, then kept
    assert await _count(runner) == 3


async def test_a_failing_write_fails_alone(runner: AsyncEngineRunner) -> None:
    await runner.write(_insert(1))
    with pytest.raises(IntegrityError):
        await runner.write(_insert(1))
    await runner.write(_insert(2))
    rows_now = await runner.read(
        lambda conn: conn.execute(text("SELECT id FROM writer_rows ORDER BY id")).scalars().all()
    )
    assert list(rows_now) == [1, 2]


def _transaction_ids(conn: Connection) -> tuple[int, int]:
    first = conn.execute(text("SELECT txid_current()")).scalar_one()
    second = conn.execute(text("SELECT txid_current()")).scalar_one()
    return int(first), int(second)


async def test_a_lone_atomic_write_runs_without_a_transaction(runner: AsyncEngineRunner) -> None:
    first, second = await runner.write(Atomic(_transaction_ids))
    assert first != second  # each statement committed on its own
    first, second = await runner.write(_transaction_ids)
    assert first == second  # and the next batch is one transaction again


async def test_an_atomic_insert_that_fails_leaves_nothing(runner: AsyncEngineRunner) -> None:
    def insert_three(conn: Connection) -> None:
        conn.execute(insert(rows), [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 1, "v": "c"}])

    with pytest.raises(IntegrityError):
        await runner.write(Atomic(insert_three))
    assert await _count(runner) == 0
    await runner.write(Atomic(lambda conn: conn.execute(insert(rows).values(id=5, v="row 5"))))
    assert await _count(runner) == 1
