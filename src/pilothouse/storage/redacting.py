"""Stores that redact what they are given before the inner store writes it.

:class:`RedactingStore` and :class:`RedactingJournalStore` wrap the store boundary (and
nothing else), so every write path — responses and their input items, conversation items
and metadata, run specs and journal payloads — is redacted exactly once, on its way to the
database, by whatever :class:`Scrubber` the composition root provides (the process's
:class:`~pilothouse.observability.redaction.boundary.DataBoundary`). Reads pass through:
what comes back is what was stored, redacted.

The wrappers copy the records they change instead of modifying them, so the caller still
holds the clear values it produced (a create request's own answer is sent from them; see
the boundary's docstring for what clients get back). Anything else of the inner store —
its release store, engine, test helpers — is reached through attribute delegation.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Protocol

import orjson

from pilothouse.storage.base import (
    IdempotencyRecord,
    ItemPage,
    JournalEntry,
    JournalStore,
    Store,
    StoredConversation,
    StoredResponse,
    StoredRun,
)


class Scrubber(Protocol):
    """Redacts JSON before it is persisted."""

    def json_text(self, text: str) -> str:
        """Serialised JSON, redacted (the same string when nothing was found)."""
        ...

    def json_value(self, value: Any) -> Any:
        """A JSON value, redacted (the same object when nothing was found)."""
        ...


class RedactingStore:
    """A :class:`~pilothouse.storage.base.Store` that writes redacted records.

    Args:
        inner: The store that persists.
        scrubber: What redacts.
    """

    def __init__(self, inner: Store, scrubber: Scrubber) -> None:
        self.inner = inner
        self.scrubber = scrubber
        journal: JournalStore | None = getattr(inner, "journal", None)
        self.journal = RedactingJournalStore(journal, scrubber) if journal is not None else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _response(self, record: StoredResponse) -> StoredResponse:
        resource_source, input_source = record.sources or (None, None)
        resource = _redacted_json(self.scrubber, record.resource, resource_source)
        input_items = _redacted_json(self.scrubber, record.input_items, input_source)
        if resource is record.resource and input_items is record.input_items:
            return record
        return replace(record, resource=resource, input_items=input_items, sources=None)

    def _items(self, items: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if items is None:
            return None
        redacted: list[dict[str, Any]] = self.scrubber.json_value(items)
        return redacted

    async def start(self) -> None:
        """Start the inner store."""
        await self.inner.start()

    async def close(self) -> None:
        """Close the inner store."""
        await self.inner.close()

    async def ping(self) -> None:
        """Ping the inner store."""
        await self.inner.ping()

    async def insert_response(
        self, record: StoredResponse, conversation_items: list[dict[str, Any]] | None = None
    ) -> None:
        """Insert the response redacted."""
        await self.inner.insert_response(self._response(record), self._items(conversation_items))

    async def update_response(
        self,
        record: StoredResponse,
        from_statuses: frozenset[str],
        conversation_items: list[dict[str, Any]] | None = None,
    ) -> bool:
        """Replace the response, redacted."""
        return await self.inner.update_response(
            self._response(record), from_statuses, self._items(conversation_items)
        )

    async def get_response(self, tenant: str, response_id: str) -> StoredResponse | None:
        """As stored."""
        return await self.inner.get_response(tenant, response_id)

    async def delete_response(self, tenant: str, response_id: str) -> bool:
        """Delete."""
        return await self.inner.delete_response(tenant, response_id)

    async def response_chain(self, tenant: str, response_id: str) -> list[StoredResponse]:
        """As stored."""
        return await self.inner.response_chain(tenant, response_id)

    async def create_conversation(
        self, record: StoredConversation, items: list[dict[str, Any]]
    ) -> None:
        """Create the conversation with redacted metadata and items."""
        metadata = self.scrubber.json_text(record.metadata)
        if metadata is not record.metadata:
            record = replace(record, metadata=metadata)
        await self.inner.create_conversation(record, self._items(items) or [])

    async def get_conversation(
        self, tenant: str, conversation_id: str
    ) -> StoredConversation | None:
        """As stored."""
        return await self.inner.get_conversation(tenant, conversation_id)

    async def update_conversation(
        self, tenant: str, conversation_id: str, metadata: str
    ) -> StoredConversation | None:
        """Replace the metadata, redacted."""
        return await self.inner.update_conversation(
            tenant, conversation_id, self.scrubber.json_text(metadata)
        )

    async def delete_conversation(self, tenant: str, conversation_id: str) -> bool:
        """Delete."""
        return await self.inner.delete_conversation(tenant, conversation_id)

    async def append_items(
        self, tenant: str, conversation_id: str, items: list[dict[str, Any]]
    ) -> bool:
        """Append the items, redacted."""
        return await self.inner.append_items(tenant, conversation_id, self._items(items) or [])

    async def list_items(
        self, tenant: str, conversation_id: str, *, after: str | None, limit: int, order: str
    ) -> ItemPage:
        """As stored."""
        return await self.inner.list_items(
            tenant, conversation_id, after=after, limit=limit, order=order
        )

    async def all_items(self, tenant: str, conversation_id: str) -> list[dict[str, Any]]:
        """As stored."""
        return await self.inner.all_items(tenant, conversation_id)

    async def get_item(
        self, tenant: str, conversation_id: str, item_id: str
    ) -> dict[str, Any] | None:
        """As stored."""
        return await self.inner.get_item(tenant, conversation_id, item_id)

    async def delete_item(self, tenant: str, conversation_id: str, item_id: str) -> bool:
        """Delete."""
        return await self.inner.delete_item(tenant, conversation_id, item_id)

    async def claim_idempotency(
        self, tenant: str, key: str, body_digest: str, response_id: str, now: int
    ) -> IdempotencyRecord | None:
        """Keys and digests hold no payload; passed through."""
        return await self.inner.claim_idempotency(tenant, key, body_digest, response_id, now)

    async def finish_idempotency(self, tenant: str, key: str) -> None:
        """Passed through."""
        await self.inner.finish_idempotency(tenant, key)

    async def release_idempotency(self, tenant: str, key: str) -> None:
        """Passed through."""
        await self.inner.release_idempotency(tenant, key)


class RedactingJournalStore:
    """A :class:`~pilothouse.storage.base.JournalStore` that writes redacted payloads."""

    def __init__(self, inner: JournalStore, scrubber: Scrubber) -> None:
        self.inner = inner
        self.scrubber = scrubber

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _entries(self, entries: list[JournalEntry]) -> list[JournalEntry]:
        """The entries with redacted payloads: one walk over all of them (a list of the
        payloads, which comes back as it went in when nothing was found)."""
        payloads = [entry.payload for entry in entries]
        redacted: list[dict[str, Any]] = self.scrubber.json_value(payloads)
        if redacted is payloads:
            return entries
        return [
            entry if payload is entry.payload else replace(entry, payload=payload)
            for entry, payload in zip(entries, redacted, strict=True)
        ]

    async def create_run(self, run: StoredRun, entries: list[JournalEntry]) -> None:
        """Create the run with its spec and first entries redacted."""
        spec = _redacted_json(self.scrubber, run.spec, run.spec_source)
        await self.inner.create_run(
            run if spec is run.spec else replace(run, spec=spec, spec_source=None),
            self._entries(entries),
        )

    async def append(
        self, entries: list[JournalEntry], status: tuple[str, str] | None = None
    ) -> None:
        """Append the entries redacted."""
        await self.inner.append(self._entries(entries), status)

    def append_soon(
        self, entries: list[JournalEntry], status: tuple[str, str] | None = None
    ) -> asyncio.Future[None]:
        """Queue the entries, redacted, for the store's next transaction."""
        written: asyncio.Future[None] = self.inner.append_soon(self._entries(entries), status)
        return written

    async def read(self, run_id: str) -> list[JournalEntry]:
        """As stored."""
        return await self.inner.read(run_id)

    async def get_run(self, tenant: str, run_id: str) -> StoredRun | None:
        """As stored."""
        return await self.inner.get_run(tenant, run_id)

    async def list_runs(self, tenant: str, limit: int) -> list[StoredRun]:
        """As stored."""
        return await self.inner.list_runs(tenant, limit)

    async def set_switch(self, name: str, engaged: bool, reason: str, now: int) -> None:
        """Passed through."""
        await self.inner.set_switch(name, engaged, reason, now)

    async def engaged_switches(self) -> dict[str, str]:
        """Passed through."""
        return await self.inner.engaged_switches()


def _redacted_json(scrubber: Scrubber, text: str, source: Any) -> str:
    """``text`` (serialised JSON) redacted; the same string when nothing was found.

    When the writer gave ``source``, the value ``text`` serialises, that is walked instead
    of parsing ``text`` again: the same result (the scrubber parses and walks the text
    otherwise), without decoding what the writer has just encoded, and over strings whose
    hashes are already known.
    """
    if source is None:
        return scrubber.json_text(text)
    redacted = scrubber.json_value(source)
    return text if redacted is source else orjson.dumps(redacted).decode()
