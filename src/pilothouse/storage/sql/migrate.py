"""Bringing a database to the newest schema revision with Alembic.

Start-up first reads ``alembic_version``; only when it differs from
:data:`~pilothouse.storage.sql.schema.HEAD_REVISION` is there work to do:

* an empty database gets the current schema from the table definitions in one go and is
  stamped at head — what running every migration would produce (a test compares the two),
  without importing Alembic, which keeps a first start fast and lean;
* a database at an older revision is upgraded by Alembic, revision by revision.

On PostgreSQL an advisory lock serialises concurrent starters (several ``serve``
processes on one database).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from pilothouse.storage.sql.runner import SqlRunner
from pilothouse.storage.sql.schema import HEAD_REVISION, metadata

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 7_231_004_511


def _current(connection: Connection) -> str | None:
    try:
        row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    except DBAPIError:
        return None
    return str(row[0]) if row else None


async def current_revision(runner: SqlRunner) -> str | None:
    """The revision recorded in the database, or None for an empty one."""
    return await runner.read(_current)


async def upgrade(runner: SqlRunner) -> None:
    """Migrate to head unless the database is already there."""
    if await current_revision(runner) == HEAD_REVISION:
        return
    await runner.transaction(_upgrade)


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_ID})"))
    tables = set(inspect(connection).get_table_names())
    current = _current(connection) if "alembic_version" in tables else None
    if current == HEAD_REVISION:
        return  # another starter migrated while we waited for the lock
    if current is None and not tables:
        _create_at_head(connection)
        return
    _alembic_upgrade(connection)


def _create_at_head(connection: Connection) -> None:
    """The newest schema in one go, stamped at head (an empty database only)."""
    metadata.create_all(connection)
    version = Table(
        "alembic_version", MetaData(), Column("version_num", String(32), primary_key=True)
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=HEAD_REVISION))


def _alembic_upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
