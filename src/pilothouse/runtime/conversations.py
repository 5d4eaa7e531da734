"""The Conversations API: durable item lists that responses read from and append to."""

from __future__ import annotations

import time
from typing import Any

import orjson

from pilothouse.errors import NotFound
from pilothouse.protocol import ids
from pilothouse.protocol.items import normalize_item
from pilothouse.protocol.requests import CreateConversation, CreateConversationItems
from pilothouse.storage.base import ItemPage, Store, StoredConversation


def conversation_object(record: StoredConversation) -> dict[str, Any]:
    """The wire shape of a conversation."""
    return {
        "id": record.id,
        "object": "conversation",
        "created_at": record.created_at,
        "metadata": orjson.loads(record.metadata),
    }


class ConversationService:
    """Create, read, update and delete conversations and their items."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, body: CreateConversation, tenant: str) -> dict[str, Any]:
        """A new conversation, optionally seeded with up to 20 items."""
        record = StoredConversation(
            id=ids.new_id(ids.CONVERSATION),
            tenant=tenant,
            created_at=int(time.time()),
            metadata=orjson.dumps(body.metadata or {}).decode(),
        )
        await self.store.create_conversation(record, [normalize_item(i) for i in body.items or []])
        return conversation_object(record)

    async def retrieve(self, tenant: str, conversation_id: str) -> dict[str, Any]:
        """The conversation object."""
        return conversation_object(await self._get(tenant, conversation_id))

    async def update(
        self, tenant: str, conversation_id: str, metadata: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace the metadata."""
        record = await self.store.update_conversation(
            tenant, conversation_id, orjson.dumps(metadata).decode()
        )
        if record is None:
            raise _not_found(conversation_id)
        return conversation_object(record)

    async def delete(self, tenant: str, conversation_id: str) -> dict[str, Any]:
        """Delete the conversation and its items."""
        if not await self.store.delete_conversation(tenant, conversation_id):
            raise _not_found(conversation_id)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    async def add_items(
        self, tenant: str, conversation_id: str, body: CreateConversationItems
    ) -> ItemPage:
        """Append items; returns them as stored (with ids)."""
        items = [normalize_item(i) for i in body.items]
        if not await self.store.append_items(tenant, conversation_id, items):
            raise _not_found(conversation_id)
        return ItemPage(items, False)

    async def list_items(
        self, tenant: str, conversation_id: str, *, after: str | None, limit: int, order: str
    ) -> ItemPage:
        """A page of items."""
        await self._get(tenant, conversation_id)
        return await self.store.list_items(
            tenant, conversation_id, after=after, limit=limit, order=order
        )

    async def get_item(self, tenant: str, conversation_id: str, item_id: str) -> dict[str, Any]:
        """One item."""
        item = await self.store.get_item(tenant, conversation_id, item_id)
        if item is None:
            raise NotFound(f"Item with id '{item_id}' not found.", param="item_id")
        return item

    async def delete_item(self, tenant: str, conversation_id: str, item_id: str) -> dict[str, Any]:
        """Delete one item; returns the conversation."""
        record = await self._get(tenant, conversation_id)
        if not await self.store.delete_item(tenant, conversation_id, item_id):
            raise NotFound(f"Item with id '{item_id}' not found.", param="item_id")
        return conversation_object(record)

    async def _get(self, tenant: str, conversation_id: str) -> StoredConversation:
        record = await self.store.get_conversation(tenant, conversation_id)
        if record is None:
            raise _not_found(conversation_id)
        return record


def _not_found(conversation_id: str) -> NotFound:
    return NotFound(f"Conversation with id '{conversation_id}' not found.", param="conversation_id")
