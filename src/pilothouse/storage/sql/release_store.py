"""Releases and environment pointers over SQL, sharing the runner of :class:`SQLStore`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from pilothouse.storage.base import (
    EnvironmentEvent,
    EnvironmentState,
    StoredRelease,
)
from pilothouse.storage.sql.runner import SqlRunner
from pilothouse.storage.sql.schema import environment_history, environments, releases


class SQLReleaseStore:
    """The :class:`~pilothouse.storage.base.ReleaseStore` over SQLAlchemy Core."""

    def __init__(self, runner: SqlRunner) -> None:
        self.runner = runner

    async def put_release(self, release: StoredRelease) -> bool:
        """Insert; an existing id (same content) is not an error but returns False."""
        row = {
            "id": release.id,
            "created_at": release.created_at,
            "author": release.author,
            "message": release.message,
            "parent": release.parent,
            "schema_version": release.schema_version,
            "files": release.files,
            "resolved": release.resolved,
        }
        try:
            await self.runner.transaction(lambda conn: conn.execute(insert(releases), row))
        except IntegrityError:
            return False
        return True

    async def get_release(self, release_id: str) -> StoredRelease | None:
        """By exact id, else by a unique prefix."""

        def read(conn: Connection) -> StoredRelease | None:
            row = conn.execute(select(releases).where(releases.c.id == release_id)).mappings()
            found = row.first()
            if found is None and len(release_id) >= 6:
                rows = (
                    conn.execute(
                        select(releases).where(releases.c.id.startswith(release_id)).limit(2)
                    )
                    .mappings()
                    .all()
                )
                found = rows[0] if len(rows) == 1 else None
            return StoredRelease(**found) if found else None

        return await self.runner.read(read)

    async def list_releases(self, limit: int) -> list[StoredRelease]:
        """Newest first."""

        def read(conn: Connection) -> list[StoredRelease]:
            rows = conn.execute(
                select(releases).order_by(releases.c.created_at.desc()).limit(limit)
            ).mappings()
            return [StoredRelease(**row) for row in rows]

        return await self.runner.read(read)

    async def environments(self) -> list[EnvironmentState]:
        """Every environment with a pointer."""

        def read(conn: Connection) -> list[EnvironmentState]:
            rows = conn.execute(select(environments).order_by(environments.c.name)).mappings()
            return [EnvironmentState(**row) for row in rows]

        return await self.runner.read(read)

    async def move_environment(
        self, state: EnvironmentState, event: EnvironmentEvent, expected_version: int
    ) -> bool:
        """Compare-and-set on ``version``; the history event is written in the same
        transaction."""
        values: dict[str, Any] = {
            "release_id": state.release_id,
            "canary_release_id": state.canary_release_id,
            "canary_percent": state.canary_percent,
            "version": state.version,
            "updated_at": state.updated_at,
        }
        history = {
            "environment": event.environment,
            "version": event.version,
            "action": event.action,
            "release_id": event.release_id,
            "canary_release_id": event.canary_release_id,
            "canary_percent": event.canary_percent,
            "actor": event.actor,
            "reason": event.reason,
            "gates": event.gates,
            "at": event.at,
        }

        def write(conn: Connection) -> bool:
            if expected_version == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(environments), {"name": state.name, **values})
                except IntegrityError:
                    return False
            else:
                moved = conn.execute(
                    update(environments)
                    .where(environments.c.name == state.name)
                    .where(environments.c.version == expected_version)
                    .values(**values)
                )
                if moved.rowcount != 1:
                    return False
            conn.execute(insert(environment_history), history)
            return True

        return await self.runner.transaction(write)

    async def environment_history(self, name: str) -> list[EnvironmentEvent]:
        """Oldest first."""

        def read(conn: Connection) -> list[EnvironmentEvent]:
            rows = conn.execute(
                select(environment_history)
                .where(environment_history.c.environment == name)
                .order_by(environment_history.c.version)
            ).mappings()
            return [EnvironmentEvent(**row) for row in rows]

        return await self.runner.read(read)
