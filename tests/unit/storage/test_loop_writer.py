"""SQLite writes on the event loop (storage/sql/loop_writer.py) and their fall-backs.

A write that finds the writer thread idle runs on the loop's own thread; one that meets a
lock held elsewhere, or comes from another thread, goes to the writer thread as before; a
failing write fails alone; the WAL is still checkpointed when every write runs on the loop.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, event, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from pilothouse.storage.sql.loop_writer import NOT_RUN, LoopWriter
from pilothouse.storage.sql.runner import ThreadedRunner
from pilothouse.storage.sql.store import create_runner

rows = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("v", Text))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "loop.db"


@pytest.fixture
async def runner(db: Path) -> AsyncIterator[ThreadedRunner]:
    made = create_runner(f"sqlite:///{db}")
    assert isinstance(made, ThreadedRunner)
    await made.transaction(lambda conn: rows.create(conn))
    yield made
    await made.close()


def _insert(row_id: int, value: str = "x") -> tuple[list[int], Callable[[Connection], int]]:
    """An insert that reports the thread it ran on."""
    ran_on: list[int] = []

    def write(conn: Connection) -> int:
        ran_on.append(threading.get_ident())
        conn.execute(insert(rows), {"id": row_id, "v": value})
        return row_id

    return ran_on, write


def _size(db: Path) -> int:
    return os.path.getsize(db)


def _stored(db: Path) -> list[tuple[int, str]]:
    """Rows as a separate connection sees them (committed data only)."""
    with sqlite3.connect(db) as other:
        return list(other.execute("SELECT id, v FROM rows ORDER BY id"))


async def test_an_idle_writer_means_the_write_runs_on_the_loop_and_is_committed(
    runner: ThreadedRunner, db: Path
) -> None:
    ran_on, write = _insert(1, "one")
    assert await runner.write(write) == 1
    assert ran_on == [threading.get_ident()]
    assert _stored(db) == [(1, "one")]


async def test_a_lock_held_elsewhere_sends_the_write_to_the_writer_thread(
    runner: ThreadedRunner, db: Path
) -> None:
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds SQLite's write lock
    other.execute("INSERT INTO rows (id, v) VALUES (7, 'other')")
    ran_on, write = _insert(2, "two")
    pending = asyncio.create_task(runner.write(write))
    for _ in range(3):
        await asyncio.sleep(0.01)  # the loop keeps running while the write waits
    assert not pending.done()
    other.execute("COMMIT")
    other.close()
    assert await pending == 2
    assert ran_on[-1] != threading.get_ident()
    assert _stored(db) == [(2, "two"), (7, "other")]


async def test_a_failing_write_fails_alone_and_changes_nothing(
    runner: ThreadedRunner, db: Path
) -> None:
    _, first = _insert(1)
    await runner.write(first)

    def half_then_fail(conn: Connection) -> None:
        conn.execute(insert(rows), {"id": 5, "v": "half"})
        conn.execute(insert(rows), {"id": 1, "v": "duplicate"})

    with pytest.raises(IntegrityError):
        await runner.write(half_then_fail)
    ran_on, after = _insert(3)
    await runner.write(after)
    assert ran_on == [threading.get_ident()]
    assert _stored(db) == [(1, "x"), (3, "x")]


async def test_writes_from_another_thread_go_to_the_writer_thread(
    runner: ThreadedRunner, db: Path
) -> None:
    _, first = _insert(1)
    await runner.write(first)  # the loop's thread now owns the loop connection
    ran_on, write = _insert(2)
    caller: list[int] = []

    def elsewhere() -> None:
        caller.append(threading.get_ident())
        asyncio.run(runner.write(write))

    await asyncio.to_thread(elsewhere)
    assert ran_on and ran_on[0] not in (threading.get_ident(), caller[0])
    assert [r[0] for r in _stored(db)] == [1, 2]


async def test_reads_see_writes_made_on_the_loop(runner: ThreadedRunner) -> None:
    for row_id in range(1, 4):
        _, write = _insert(row_id)
        await runner.write(write)
    found = await runner.read(lambda conn: list(conn.execute(select(rows.c.id))))
    assert [r[0] for r in found] == [1, 2, 3]


async def test_the_wal_is_checkpointed_and_starts_over_when_every_write_runs_on_the_loop(
    db: Path,
) -> None:
    runner = create_runner(f"sqlite:///{db}")
    assert isinstance(runner, ThreadedRunner)
    try:
        await runner.transaction(lambda conn: rows.create(conn))
        size = _size(db)
        runner._loop_writer.checkpoint_every = 10
        for row_id in range(200):
            _, write = _insert(row_id, "v" * 3000)  # a page or more each
            await runner.write(write)
        assert _size(db) > size + 100 * 3000  # the rows reached the database file
        # Without checkpoints that finish, the WAL would hold every page written (> 1.2 MB).
        assert _size(Path(f"{db}-wal")) < 300_000
    finally:
        await runner.close()


def test_the_loop_writer_never_checkpoints_by_itself_and_counts_commits(db: Path) -> None:
    runner = create_runner(f"sqlite:///{db}")
    assert isinstance(runner, ThreadedRunner)
    writer = LoopWriter(runner.engine, checkpoint_every=2)
    try:
        assert writer.run(lambda conn: rows.create(conn)) is None
        size = db.stat().st_size
        for row_id in range(20):
            _, write = _insert(row_id, "v" * 3000)
            assert writer.run(write) == row_id
        assert db.stat().st_size == size  # everything is still in the WAL
        assert writer.checkpoint_due()
        assert not writer.checkpoint_due()  # the count starts again
        other_thread: list[object] = []
        _, write = _insert(99)
        worker = threading.Thread(target=lambda: other_thread.append(writer.run(write)))
        worker.start()
        worker.join()
        assert other_thread == [NOT_RUN]
    finally:
        writer.close()
        runner.engine.dispose()


# -- writes that ride with the next transaction (write_soon) -------------------------------


def _count_commits(runner: ThreadedRunner) -> list[int]:
    commits: list[int] = []
    event.listen(runner.engine, "commit", lambda conn: commits.append(1))
    return commits


async def test_a_queued_write_rides_with_the_next_write_in_one_commit(
    runner: ThreadedRunner, db: Path
) -> None:
    commits = _count_commits(runner)
    _, soon = _insert(1, "queued")
    ran_on, write = _insert(2, "next")
    queued = runner.write_soon(soon)
    assert await runner.write(write) == 2
    assert queued.done() and queued.result() == 1
    assert ran_on == [threading.get_ident()]
    assert len(commits) == 1
    assert _stored(db) == [(1, "queued"), (2, "next")]


async def test_a_queued_write_alone_is_committed_at_the_next_turn(
    runner: ThreadedRunner, db: Path
) -> None:
    _, soon = _insert(1, "alone")
    queued = runner.write_soon(soon)
    assert not queued.done()
    assert await queued == 1
    assert _stored(db) == [(1, "alone")]


async def test_a_failing_queued_write_fails_alone_and_the_next_write_lands(
    runner: ThreadedRunner, db: Path
) -> None:
    _, first = _insert(1)
    await runner.write(first)
    _, duplicate = _insert(1, "duplicate")
    queued = runner.write_soon(duplicate)
    _, write = _insert(2, "next")
    assert await runner.write(write) == 2
    with pytest.raises(IntegrityError):
        await queued
    assert _stored(db) == [(1, "x"), (2, "next")]


async def test_a_failing_write_fails_alone_and_the_queued_write_lands_first(
    runner: ThreadedRunner, db: Path
) -> None:
    _, first = _insert(1)
    await runner.write(first)
    _, soon = _insert(2, "queued")
    queued = runner.write_soon(soon)
    _, duplicate = _insert(1, "duplicate")
    with pytest.raises(IntegrityError):
        await runner.write(duplicate)
    assert queued.done() and queued.result() == 2
    assert _stored(db) == [(1, "x"), (2, "queued")]
