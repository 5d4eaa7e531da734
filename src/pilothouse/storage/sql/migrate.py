"""Bringing a database to the newest schema revision with Alembic.

Start-up first reads ``alembic_version``; only when it differs from
:data:`~pilothouse.storage.sql.schema.HEAD_REVISION` is Alembic imported and run, which
keeps the common start fast. On PostgreSQL an advisory lock serialises concurrent
starters (several ``serve`` processes on one database).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from pilothouse.storage.sql.runner import SqlRunner
from pilothouse.storage.sql.schema import HEAD_REVISION

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
    from alembic import command
    from alembic.config import Config

    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_ID})"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
