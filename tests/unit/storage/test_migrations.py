"""The schema an empty database gets in one go equals what the Alembic migrations build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect

from pilothouse.storage.sql.migrate import _alembic_upgrade, _create_at_head, _current
from pilothouse.storage.sql.schema import HEAD_REVISION


def _shape(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        shape = {}
        for table in sorted(inspector.get_table_names()):
            shape[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
                ],
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
            }
        return shape
    finally:
        engine.dispose()


def _build(url: str, how: Any) -> str | None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            how(connection)
        with engine.connect() as connection:
            return _current(connection)
    finally:
        engine.dispose()


def test_fast_path_equals_the_migrations(tmp_path: Path) -> None:
    fast = f"sqlite:///{tmp_path / 'fast.db'}"
    migrated = f"sqlite:///{tmp_path / 'migrated.db'}"
    assert _build(fast, _create_at_head) == HEAD_REVISION
    assert _build(migrated, _alembic_upgrade) == HEAD_REVISION
    assert _shape(fast) == _shape(migrated)
