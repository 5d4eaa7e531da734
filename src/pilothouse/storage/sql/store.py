"""The SQL store: SQLite (WAL) by default, PostgreSQL by URL, one code path for both.

New responses are written through a group commit (:mod:`.group_commit`): concurrent
inserts share one transaction, so the cost of a commit is paid once per batch instead of
once per request, while each caller still returns only after its row is durable.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from pilothouse.storage.base import (
    IdempotencyRecord,
    ItemPage,
    StoredConversation,
    StoredResponse,
)
from pilothouse.storage.sql import migrate
from pilothouse.storage.sql.group_commit import GroupCommit
from pilothouse.storage.sql.journal_store import SQLJournalStore
from pilothouse.storage.sql.schema import (
    conversation_items,
    conversations,
    idempotency_keys,
    responses,
)

IDEMPOTENCY_STALE_S = 600


class SQLStore:
    """The :class:`~pilothouse.storage.base.Store` over SQLAlchemy Core (async)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine: AsyncEngine = self._create_engine(url)
        self.writer = GroupCommit(self.engine)
        self.journal = SQLJournalStore(self.engine, self.writer)

    def _create_engine(self, url: str) -> AsyncEngine:
        if not self.is_sqlite:
            return create_async_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=False)
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {"poolclass": NullPool} if path in ("", ":memory:") else {}
        engine = create_async_engine(url, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine

    async def start(self) -> None:
        """Migrate to the newest schema revision (a no-op when already there)."""
        await migrate.upgrade(self.engine)

    async def close(self) -> None:
        """Flush pending writes and close every connection."""
        await self.writer.close()
        await self.engine.dispose()

    async def ping(self) -> None:
        """A trivial query."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    # -- responses ---------------------------------------------------------------------

    async def insert_response(
        self, record: StoredResponse, conversation_items: list[dict[str, Any]] | None = None
    ) -> None:
        """Insert through the group commit; conversation appends run in the same batch."""
        row = _response_row(record)

        async def write(conn: AsyncConnection) -> None:
            await conn.execute(insert(responses), row)
            if conversation_items and record.conversation_id:
                await _append(conn, record.conversation_id, conversation_items)

        await self.writer.submit(write)

    async def update_response(
        self,
        record: StoredResponse,
        from_statuses: frozenset[str],
        conversation_items: list[dict[str, Any]] | None = None,
    ) -> bool:
        """Conditional replace: only if the stored status is one of ``from_statuses``."""
        row = _response_row(record)
        row.pop("id")

        async def write(conn: AsyncConnection) -> bool:
            result = await conn.execute(
                update(responses)
                .where(responses.c.id == record.id, responses.c.tenant == record.tenant)
                .where(responses.c.status.in_(sorted(from_statuses)))
                .values(**row)
            )
            changed = result.rowcount == 1
            if changed and conversation_items and record.conversation_id:
                await _append(conn, record.conversation_id, conversation_items)
            return changed

        return await self.writer.submit(write)

    async def get_response(self, tenant: str, response_id: str) -> StoredResponse | None:
        """One response by id within the tenant."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(responses).where(responses.c.id == response_id, responses.c.tenant == tenant)
            )
            row = result.mappings().first()
        return _to_response(row) if row else None

    async def delete_response(self, tenant: str, response_id: str) -> bool:
        """Delete one response."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(responses).where(responses.c.id == response_id, responses.c.tenant == tenant)
            )
        return result.rowcount == 1

    async def response_chain(self, tenant: str, response_id: str) -> list[StoredResponse]:
        """Walk ``previous_response_id`` links back to the root, oldest first."""
        chain: list[StoredResponse] = []
        seen: set[str] = set()
        current: str | None = response_id
        async with self.engine.connect() as conn:
            while current is not None and current not in seen:
                seen.add(current)
                result = await conn.execute(
                    select(responses).where(responses.c.id == current, responses.c.tenant == tenant)
                )
                row = result.mappings().first()
                if row is None:
                    break
                record = _to_response(row)
                chain.append(record)
                current = record.previous_response_id
        chain.reverse()
        return chain

    # -- conversations -----------------------------------------------------------------

    async def create_conversation(
        self, record: StoredConversation, items: list[dict[str, Any]]
    ) -> None:
        """Insert the conversation and its first items in one transaction."""
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(conversations),
                {
                    "id": record.id,
                    "tenant": record.tenant,
                    "created_at": record.created_at,
                    "metadata": record.metadata,
                    "next_position": 0,
                },
            )
            if items:
                await _append(conn, record.id, items)

    async def get_conversation(
        self, tenant: str, conversation_id: str
    ) -> StoredConversation | None:
        """The conversation header."""
        async with self.engine.connect() as conn:
            result = await conn.execute(
                select(conversations).where(
                    conversations.c.id == conversation_id, conversations.c.tenant == tenant
                )
            )
            row = result.mappings().first()
        if row is None:
            return None
        return StoredConversation(row["id"], row["tenant"], row["created_at"], row["metadata"])

    async def update_conversation(
        self, tenant: str, conversation_id: str, metadata: str
    ) -> StoredConversation | None:
        """Replace the metadata."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id, conversations.c.tenant == tenant)
                .values(metadata=metadata)
            )
        return await self.get_conversation(tenant, conversation_id)

    async def delete_conversation(self, tenant: str, conversation_id: str) -> bool:
        """Delete the conversation and its items."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(conversations).where(
                    conversations.c.id == conversation_id, conversations.c.tenant == tenant
                )
            )
            if result.rowcount != 1:
                return False
            await conn.execute(
                delete(conversation_items).where(
                    conversation_items.c.conversation_id == conversation_id
                )
            )
        return True

    async def append_items(
        self, tenant: str, conversation_id: str, items: list[dict[str, Any]]
    ) -> bool:
        """Append items if the conversation exists in this tenant."""
        async with self.engine.begin() as conn:
            if not await _owned(conn, tenant, conversation_id):
                return False
            await _append(conn, conversation_id, items)
        return True

    async def list_items(
        self, tenant: str, conversation_id: str, *, after: str | None, limit: int, order: str
    ) -> ItemPage:
        """Keyset pagination by position; ``after`` is the last item id seen."""
        col = conversation_items.c
        query = select(col.item, col.position).where(col.conversation_id == conversation_id)
        async with self.engine.connect() as conn:
            if not await _owned(conn, tenant, conversation_id):
                return ItemPage([], False)
            if after is not None:
                anchor = (
                    select(col.position)
                    .where(col.conversation_id == conversation_id, col.item_id == after)
                    .scalar_subquery()
                )
                query = query.where(
                    col.position > anchor if order == "asc" else col.position < anchor
                )
            ordering = col.position.asc() if order == "asc" else col.position.desc()
            rows = (await conn.execute(query.order_by(ordering).limit(limit + 1))).all()
        return ItemPage([orjson.loads(r.item) for r in rows[:limit]], len(rows) > limit)

    async def all_items(self, tenant: str, conversation_id: str) -> list[dict[str, Any]]:
        """Every item, oldest first."""
        col = conversation_items.c
        async with self.engine.connect() as conn:
            if not await _owned(conn, tenant, conversation_id):
                return []
            rows = await conn.execute(
                select(col.item)
                .where(col.conversation_id == conversation_id)
                .order_by(col.position.asc())
            )
            return [orjson.loads(r.item) for r in rows]

    async def get_item(
        self, tenant: str, conversation_id: str, item_id: str
    ) -> dict[str, Any] | None:
        """One item."""
        col = conversation_items.c
        async with self.engine.connect() as conn:
            if not await _owned(conn, tenant, conversation_id):
                return None
            row = (
                await conn.execute(
                    select(col.item).where(
                        col.conversation_id == conversation_id, col.item_id == item_id
                    )
                )
            ).first()
        return orjson.loads(row.item) if row else None

    async def delete_item(self, tenant: str, conversation_id: str, item_id: str) -> bool:
        """Delete one item."""
        col = conversation_items.c
        async with self.engine.begin() as conn:
            if not await _owned(conn, tenant, conversation_id):
                return False
            result = await conn.execute(
                delete(conversation_items).where(
                    col.conversation_id == conversation_id, col.item_id == item_id
                )
            )
        return result.rowcount == 1

    # -- idempotency -------------------------------------------------------------------

    async def claim_idempotency(
        self, tenant: str, key: str, body_digest: str, response_id: str, now: int
    ) -> IdempotencyRecord | None:
        """Insert the key; on conflict return the existing claim (or take over a stale one)."""
        row = {
            "tenant": tenant,
            "key": key,
            "body_digest": body_digest,
            "response_id": response_id,
            "state": "in_flight",
            "created_at": now,
        }
        col = idempotency_keys.c
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(idempotency_keys), row)
            return None
        except IntegrityError:
            pass
        async with self.engine.begin() as conn:
            taken = await conn.execute(
                update(idempotency_keys)
                .where(col.tenant == tenant, col.key == key, col.state == "in_flight")
                .where(col.created_at < now - IDEMPOTENCY_STALE_S)
                .values(body_digest=body_digest, response_id=response_id, created_at=now)
            )
            if taken.rowcount == 1:
                return None
            found = (
                (
                    await conn.execute(
                        select(idempotency_keys).where(col.tenant == tenant, col.key == key)
                    )
                )
                .mappings()
                .first()
            )
        if found is None:  # released between our insert and our read: try once more
            return await self.claim_idempotency(tenant, key, body_digest, response_id, now)
        return IdempotencyRecord(
            found["body_digest"], found["response_id"], found["state"], found["created_at"]
        )

    async def finish_idempotency(self, tenant: str, key: str) -> None:
        """Mark the claim done."""
        col = idempotency_keys.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(idempotency_keys)
                .where(col.tenant == tenant, col.key == key)
                .values(state="done")
            )

    async def release_idempotency(self, tenant: str, key: str) -> None:
        """Drop the claim."""
        col = idempotency_keys.c
        async with self.engine.begin() as conn:
            await conn.execute(delete(idempotency_keys).where(col.tenant == tenant, col.key == key))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


async def _owned(conn: AsyncConnection, tenant: str, conversation_id: str) -> bool:
    result = await conn.execute(
        select(func.count())
        .select_from(conversations)
        .where(conversations.c.id == conversation_id, conversations.c.tenant == tenant)
    )
    return bool(result.scalar())


async def _append(conn: AsyncConnection, conversation_id: str, items: list[dict[str, Any]]) -> None:
    """Reserve positions with one atomic counter update, then insert the items."""
    result = await conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(next_position=conversations.c.next_position + len(items))
        .returning(conversations.c.next_position)
    )
    end = result.scalar()
    if end is None:
        return
    start = int(end) - len(items)
    await conn.execute(
        insert(conversation_items),
        [
            {
                "conversation_id": conversation_id,
                "position": start + offset,
                "item_id": item["id"],
                "item": orjson.dumps(item).decode(),
            }
            for offset, item in enumerate(items)
        ],
    )


def _response_row(record: StoredResponse) -> dict[str, Any]:
    return {
        "id": record.id,
        "tenant": record.tenant,
        "created_at": record.created_at,
        "status": record.status,
        "model": record.model,
        "background": record.background,
        "previous_response_id": record.previous_response_id,
        "conversation_id": record.conversation_id,
        "schema_version": record.schema_version,
        "resource": record.resource,
        "input_items": record.input_items,
    }


def _to_response(row: Any) -> StoredResponse:
    return StoredResponse(
        id=row["id"],
        tenant=row["tenant"],
        created_at=row["created_at"],
        status=row["status"],
        model=row["model"],
        resource=row["resource"],
        input_items=row["input_items"],
        previous_response_id=row["previous_response_id"],
        conversation_id=row["conversation_id"],
        background=row["background"],
        schema_version=row["schema_version"],
    )


def now_s() -> int:
    """Unix seconds, as the wire wants them."""
    return int(time.time())


__all__ = ["Engine", "SQLStore", "now_s"]
