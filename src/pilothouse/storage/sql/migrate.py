"""Bringing a database to the newest schema revision with Alembic.

Start-up first reads ``alembic_version``; only when it differs from
:data:`~pilothouse.storage.sql.schema.HEAD_REVISION` is Alembic imported and run, which
keeps the common start fast. On PostgreSQL an advisory lock serialises concurrent
starters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from pilothouse.storage.sql.schema import HEAD_REVISION

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 7_231_004_511


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision recorded in the database, or None for an empty one."""
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text("SELECT version_num FROM alembic_version"))
            row = result.first()
    except DBAPIError:
        return None
    return str(row[0]) if row else None


async def upgrade(engine: AsyncEngine) -> None:
    """Migrate to head unless the database is already there."""
    if await current_revision(engine) == HEAD_REVISION:
        return
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_ID})"))
        await conn.run_sync(_upgrade_sync)


def _upgrade_sync(connection: Any) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
