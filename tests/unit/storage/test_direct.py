"""Hot statements run straight on SQLite's driver (storage/sql/direct.py) and write exactly
what SQLAlchemy Core would: same rows, same type conversions, defaults left to Core."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from pilothouse.storage.sql.direct import DirectStatement

meta = MetaData()
things = Table(
    "things",
    meta,
    Column("id", String(16), primary_key=True),
    Column("flag", Boolean, nullable=False),
    Column("at", Float, nullable=False),
    Column("n", Integer, nullable=False, default=7),
)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = create_engine(f"sqlite:///{tmp_path / 'direct.db'}")
    meta.create_all(made)
    return made


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(things).order_by(things.c.id))]


def test_inserts_one_or_many_rows_like_core(engine: Engine) -> None:
    direct = DirectStatement(insert(things))
    with engine.begin() as conn:
        assert direct.execute(conn, {"id": "a", "flag": True, "at": 1, "n": 1}) == 1
        assert (
            direct.execute(
                conn,
                [
                    {"id": "b", "flag": False, "at": 2.5, "n": 2},
                    {"id": "c", "flag": True, "at": 3.0, "n": 3},
                ],
            )
            == 2
        )
        assert direct.execute(conn, []) == 0
    assert _rows(engine) == [("a", True, 1.0, 1), ("b", False, 2.5, 2), ("c", True, 3.0, 3)]


def test_a_left_out_column_gets_its_default_through_core(engine: Engine) -> None:
    direct = DirectStatement(insert(things))
    with engine.begin() as conn:
        direct.execute(conn, {"id": "a", "flag": False, "at": 0.5})
    assert _rows(engine) == [("a", False, 0.5, 7)]


def test_updates_with_named_parameters_and_counts_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        DirectStatement(insert(things)).execute(
            conn, [{"id": i, "flag": False, "at": 0.0, "n": 0} for i in ("a", "b")]
        )
    set_n = DirectStatement(
        update(things).where(things.c.id == bindparam("key")).values(n=bindparam("value"))
    )
    with engine.begin() as conn:
        assert set_n.execute(conn, {"key": "b", "value": 42}) == 1
        assert set_n.execute(conn, {"key": "missing", "value": 1}) == 0
    assert _rows(engine) == [("a", False, 0.0, 0), ("b", False, 0.0, 42)]


def test_a_failing_statement_rolls_back_with_its_transaction(engine: Engine) -> None:
    direct = DirectStatement(insert(things))
    with engine.begin() as conn:
        direct.execute(conn, {"id": "a", "flag": True, "at": 1.0, "n": 1})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        direct.execute(conn, {"id": "b", "flag": True, "at": 1.0, "n": 1})
        direct.execute(conn, {"id": "a", "flag": True, "at": 1.0, "n": 1})
    assert _rows(engine) == [("a", True, 1.0, 1)]


def test_a_busy_database_raises_what_core_raises(engine: Engine, tmp_path: Path) -> None:
    """The loop writer falls back to the writer thread on Core's OperationalError."""
    other = sqlite3.connect(tmp_path / "direct.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with engine.connect() as conn:
            driver = conn.connection.dbapi_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")
            with pytest.raises(OperationalError, match="locked"), conn.begin():
                DirectStatement(insert(things)).execute(
                    conn, {"id": "a", "flag": True, "at": 1.0, "n": 1}
                )
    finally:
        other.execute("ROLLBACK")
        other.close()
