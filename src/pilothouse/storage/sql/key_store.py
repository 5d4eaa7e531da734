"""API keys over SQL, sharing the runner of :class:`~pilothouse.storage.sql.store.SQLStore`."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from pilothouse.storage.base import StoredKey
from pilothouse.storage.sql.runner import SqlRunner
from pilothouse.storage.sql.schema import api_keys

# Every authenticated request runs this one: built once, compiled once.
_BY_DIGEST = select(api_keys).where(api_keys.c.digest == bindparam("digest"))


class SQLKeyStore:
    """The :class:`~pilothouse.storage.base.KeyStore` over SQLAlchemy Core."""

    def __init__(self, runner: SqlRunner) -> None:
        self.runner = runner

    async def create_key(self, key: StoredKey) -> None:
        """Insert a new key."""
        row = asdict(key)
        await self.runner.transaction(lambda conn: conn.execute(insert(api_keys), row))

    async def key_by_digest(self, digest: str) -> StoredKey | None:
        """The key with this digest, revoked or not."""

        def read(conn: Connection) -> StoredKey | None:
            found = conn.execute(_BY_DIGEST, {"digest": digest}).mappings().first()
            return StoredKey(**found) if found else None

        return await self.runner.read(read)

    async def get_key(self, key_id: str) -> StoredKey | None:
        """By id."""

        def read(conn: Connection) -> StoredKey | None:
            found = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings()
            row = found.first()
            return StoredKey(**row) if row else None

        return await self.runner.read(read)

    async def list_keys(self, tenant: str | None) -> list[StoredKey]:
        """Keys of ``tenant`` (every tenant when None), oldest first."""

        def read(conn: Connection) -> list[StoredKey]:
            query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
            if tenant is not None:
                query = query.where(api_keys.c.tenant == tenant)
            return [StoredKey(**row) for row in conn.execute(query).mappings()]

        return await self.runner.read(read)

    async def revoke_key(self, key_id: str, now: int) -> StoredKey | None:
        """Mark revoked (the first revocation time is kept); None when no such key."""

        def write(conn: Connection) -> StoredKey | None:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).mappings()
            found = row.first()
            return StoredKey(**found) if found else None

        return await self.runner.transaction(write)
