"""Journal rows (storage/sql/journal_store.py): one row per write, read back as the
entries written, in order, beside rows written one entry each before revision 0010; a run's
end is found by its row's kind wherever it sits in its write. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from sqlalchemy import func, insert, select

from pilothouse.storage.base import JournalEntry, StoredRun
from pilothouse.storage.sql.schema import journal
from pilothouse.storage.sql.store import SQLStore


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SQLStore]:
    made = SQLStore(store_url)
    await made.start()
    yield made
    await made.close()


def _run(run_id: str, now: int) -> StoredRun:
    return StoredRun(run_id, "acme", "desk", "1", "in_progress", now, now, "{}")


def _entry(run_id: str, seq: int, kind: str, **payload: object) -> JournalEntry:
    return JournalEntry(run_id, seq, kind, seq // 3, 1_795_000_000.0 + seq, dict(payload))


async def _rows(store: SQLStore, run_id: str) -> int:
    def count(conn: object) -> int:
        statement = select(func.count()).select_from(journal).where(journal.c.run_id == run_id)
        return int(conn.execute(statement).scalar_one())  # type: ignore[attr-defined]

    return await store.runner.read(count)


async def test_each_write_is_one_row_and_reads_back_as_its_entries(store: SQLStore) -> None:
    run_id = f"resp_{uuid.uuid4().hex}"
    now = int(time.time())
    first = [_entry(run_id, 1, "run.started"), _entry(run_id, 2, "model.started", n=1)]
    second = [_entry(run_id, 3, "model.completed", text='é ✓ "q"\n'), _entry(run_id, 4, "x")]
    lone = [_entry(run_id, 5, "tool.intent", arguments={"q": [1, 2.5, None, True]})]
    await store.journal.create_run(_run(run_id, now), first)
    await store.journal.append(second)
    await store.journal.append(lone, (run_id, "in_progress"))
    assert await _rows(store, run_id) == 3
    assert await store.journal.read(run_id) == first + second + lone


async def test_rows_of_one_entry_from_before_are_read_beside_batches(store: SQLStore) -> None:
    run_id = f"resp_{uuid.uuid4().hex}"
    now = int(time.time())
    await store.journal.create_run(_run(run_id, now), [_entry(run_id, 1, "run.started")])
    legacy = [_entry(run_id, 2, "model.started", n=2), _entry(run_id, 3, "model.completed")]

    def write_legacy(conn: object) -> None:
        for e in legacy:  # as revision 0009 wrote them: one entry a row, no last_seq
            conn.execute(  # type: ignore[attr-defined]
                insert(journal).values(
                    run_id=e.run_id, seq=e.seq, kind=e.kind, step=e.step, at=e.at,
                    schema_version=e.schema_version, payload=orjson.dumps(e.payload).decode(),
                )
            )  # fmt: skip

    await store.runner.transaction(write_legacy)
    await store.journal.append([_entry(run_id, 4, "tool.intent"), _entry(run_id, 5, "y")])
    entries = await store.journal.read(run_id)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[1:3] == legacy


@pytest.mark.parametrize("position", ["last", "not last"])
async def test_a_runs_end_is_found_inside_its_write(store: SQLStore, position: str) -> None:
    run_id = f"resp_{uuid.uuid4().hex}"
    now = int(time.time())
    await store.journal.create_run(_run(run_id, now), [_entry(run_id, 1, "run.started")])
    end = _entry(run_id, 2, "run.finished", status="completed", cost_usd=0.25)
    other = _entry(run_id, 3, "model.completed")
    final = [other, end] if position == "last" else [end, other]
    final = [
        JournalEntry(run_id, i + 2, e.kind, e.step, e.at, e.payload) for i, e in enumerate(final)
    ]
    await store.journal.append(final, (run_id, "completed"))
    (found,) = [
        r
        for r in await store.outcomes.finished_runs("acme", now - 1, now + 1)
        if r.run.id == run_id
    ]
    assert found.finished == {"status": "completed", "cost_usd": 0.25}
    assert found.finished_at == final[-1].at
