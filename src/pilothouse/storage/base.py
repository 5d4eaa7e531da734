"""The store boundary: what the runtime persists and how it reads it back.

Records carry their wire JSON as text (``resource``, ``items``) so that reads can be
served without re-encoding, and every persisted shape carries a ``schema_version``.
Everything is scoped by ``tenant``: an id from another tenant is indistinguishable from
an id that does not exist.

Contract for implementers:

* Writes are atomic; a method that returns has made its change durable.
* ``update_response`` is conditional on the current status, so that a cancel and a
  completion racing each other resolve to exactly one winner.
* ``claim_idempotency`` is atomic across processes (a unique key, not a read-then-write).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

RESPONSE_SCHEMA_VERSION = 1


@dataclass(slots=True)
class StoredResponse:
    """One response as persisted."""

    id: str
    tenant: str
    created_at: int
    status: str
    model: str
    resource: str
    input_items: str
    previous_response_id: str | None = None
    conversation_id: str | None = None
    background: bool = False
    schema_version: int = RESPONSE_SCHEMA_VERSION
    sources: tuple[Any, Any] | None = field(default=None, repr=False, compare=False)
    """Never stored: the values ``resource`` and ``input_items`` are the JSON of, when the
    writer has them (and only then: they must be exactly what the texts serialise). A
    redacting store walks these instead of parsing the texts again."""


@dataclass(slots=True)
class StoredConversation:
    """A conversation's header; its items live apart."""

    id: str
    tenant: str
    created_at: int
    metadata: str


@dataclass(slots=True)
class ItemPage:
    """One page of a list endpoint."""

    items: list[dict[str, Any]]
    has_more: bool


@dataclass(slots=True)
class IdempotencyRecord:
    """An earlier request made with the same idempotency key."""

    body_digest: str
    response_id: str
    state: str
    created_at: int


class Store(Protocol):
    """Persistence for responses, conversations and idempotency keys."""

    async def start(self) -> None:
        """Open connections and bring the schema to the current revision."""
        ...

    async def close(self) -> None:
        """Close connections."""
        ...

    async def ping(self) -> None:
        """Raise if the store cannot answer a trivial query."""
        ...

    async def insert_response(
        self, record: StoredResponse, conversation_items: list[dict[str, Any]] | None = None
    ) -> None:
        """Persist a new response; append ``conversation_items`` to its conversation."""
        ...

    async def update_response(
        self,
        record: StoredResponse,
        from_statuses: frozenset[str],
        conversation_items: list[dict[str, Any]] | None = None,
    ) -> bool:
        """Replace a response if its stored status is in ``from_statuses``."""
        ...

    async def get_response(self, tenant: str, response_id: str) -> StoredResponse | None:
        """The response, or None."""
        ...

    async def delete_response(self, tenant: str, response_id: str) -> bool:
        """Delete the response; False if it did not exist."""
        ...

    async def response_chain(self, tenant: str, response_id: str) -> list[StoredResponse]:
        """The response and its ``previous_response_id`` ancestors, oldest first."""
        ...

    async def create_conversation(
        self, record: StoredConversation, items: list[dict[str, Any]]
    ) -> None:
        """Persist a new conversation with its first items."""
        ...

    async def get_conversation(
        self, tenant: str, conversation_id: str
    ) -> StoredConversation | None:
        """The conversation, or None."""
        ...

    async def update_conversation(
        self, tenant: str, conversation_id: str, metadata: str
    ) -> StoredConversation | None:
        """Replace the metadata; None if the conversation does not exist."""
        ...

    async def delete_conversation(self, tenant: str, conversation_id: str) -> bool:
        """Delete the conversation and its items."""
        ...

    async def append_items(
        self, tenant: str, conversation_id: str, items: list[dict[str, Any]]
    ) -> bool:
        """Append items in order; False if the conversation does not exist."""
        ...

    async def list_items(
        self, tenant: str, conversation_id: str, *, after: str | None, limit: int, order: str
    ) -> ItemPage:
        """A page of items; ``after`` is an item id, ``order`` is ``asc`` or ``desc``."""
        ...

    async def all_items(self, tenant: str, conversation_id: str) -> list[dict[str, Any]]:
        """Every item of the conversation, oldest first."""
        ...

    async def get_item(
        self, tenant: str, conversation_id: str, item_id: str
    ) -> dict[str, Any] | None:
        """One item, or None."""
        ...

    async def delete_item(self, tenant: str, conversation_id: str, item_id: str) -> bool:
        """Delete one item; False if it did not exist."""
        ...

    async def claim_idempotency(
        self, tenant: str, key: str, body_digest: str, response_id: str, now: int
    ) -> IdempotencyRecord | None:
        """Claim ``key`` for a new request; return the earlier record if already claimed.

        A claim left ``in_flight`` for longer than the store's stale window is taken over.
        """
        ...

    async def finish_idempotency(self, tenant: str, key: str) -> None:
        """Mark the key's request as done (its response can be replayed)."""
        ...

    async def release_idempotency(self, tenant: str, key: str) -> None:
        """Forget the key (its request failed, so a retry may run again)."""
        ...


# 2: payloads are built by runtime/agent/events.py (context stamped on every entry,
# tool.attempt entries, summaries on run.finished); version 1 entries are still read.
JOURNAL_SCHEMA_VERSION = 2
RUN_SCHEMA_VERSION = 1


@dataclass(slots=True)
class JournalEntry:
    """One event of a run's journal (DESIGN §4): the source of truth for resume and replay.

    ``seq`` orders the entries of one run; ``step`` is the model step the entry belongs to.
    """

    run_id: str
    seq: int
    kind: str
    step: int
    at: float
    payload: dict[str, Any]
    schema_version: int = JOURNAL_SCHEMA_VERSION


@dataclass(slots=True)
class StoredRun:
    """An agent run's header; ``spec`` is the JSON needed to resume it."""

    id: str
    tenant: str
    agent: str
    agent_version: str
    status: str
    created_at: int
    updated_at: int
    spec: str
    schema_version: int = RUN_SCHEMA_VERSION
    spec_source: Any = field(default=None, repr=False, compare=False)
    """Never stored: the value ``spec`` is the JSON of, when the writer has it (see
    :attr:`StoredResponse.sources`)."""


class JournalStore(Protocol):
    """Persistence of agent runs and their journals, and of kill switches.

    ``append`` is atomic for its whole list, so that an intent and the state it depends on
    are written together (journal first: written before the step's effect happens).
    """

    async def create_run(self, run: StoredRun, entries: list[JournalEntry]) -> None:
        """Persist a new run with its first entries."""
        ...

    async def append(
        self, entries: list[JournalEntry], status: tuple[str, str] | None = None
    ) -> None:
        """Append entries (and optionally set ``(run_id, status)``) in one transaction."""
        ...

    def append_soon(
        self, entries: list[JournalEntry], status: tuple[str, str] | None = None
    ) -> asyncio.Future[None]:
        """Like ``append``, without waiting: the store's next write (a response's, say)
        carries it in the same transaction, or it is committed on its own at the loop's
        next turn. The future resolves once it is durable."""
        ...

    async def read(self, run_id: str) -> list[JournalEntry]:
        """Every entry of the run, in order."""
        ...

    async def get_run(self, tenant: str, run_id: str) -> StoredRun | None:
        """The run header, or None."""
        ...

    async def list_runs(self, tenant: str, limit: int) -> list[StoredRun]:
        """The newest runs."""
        ...

    async def set_switch(self, name: str, engaged: bool, reason: str, now: int) -> None:
        """Engage or release a kill switch (``*`` means every agent)."""
        ...

    async def engaged_switches(self) -> dict[str, str]:
        """Engaged switches by name, with their reasons."""
        ...


@dataclass(slots=True)
class StoredKey:
    """An API key as stored: never the key itself, only its digest and a display prefix.

    ``roles`` and ``scopes`` are JSON text (a list; an object of agents/tools/environments);
    ``limits`` the key's budgets (JSON ``{rpm, tpm, usd_per_day}``), None when it has none.
    """

    id: str
    tenant: str
    name: str
    prefix: str
    digest: str
    roles: str
    scopes: str
    created_at: int
    created_by: str
    revoked_at: int | None = None
    limits: str | None = None


class KeyStore(Protocol):
    """API keys. Lookups go by digest, so the secret never leaves the process that got it."""

    async def create_key(self, key: StoredKey) -> None:
        """Insert a new key."""
        ...

    async def key_by_digest(self, digest: str) -> StoredKey | None:
        """The key with this digest, revoked or not."""
        ...

    async def get_key(self, key_id: str) -> StoredKey | None:
        """By id."""
        ...

    async def list_keys(self, tenant: str | None) -> list[StoredKey]:
        """Keys of ``tenant`` (every tenant when None), oldest first."""
        ...

    async def revoke_key(self, key_id: str, now: int) -> StoredKey | None:
        """Mark revoked (idempotent); None when no such key."""
        ...


RELEASE_SCHEMA_VERSION = 1


@dataclass(slots=True)
class StoredRelease:
    """An immutable release: the bundle's files and their resolved configuration (JSON)."""

    id: str
    created_at: float
    author: str
    message: str
    parent: str | None
    files: str
    resolved: str
    schema_version: int = RELEASE_SCHEMA_VERSION


@dataclass(slots=True)
class EnvironmentState:
    """Where an environment points: a release, and optionally a canary taking a share."""

    name: str
    release_id: str | None
    canary_release_id: str | None = None
    canary_percent: int = 0
    version: int = 0
    updated_at: float = 0.0


@dataclass(slots=True)
class EnvironmentEvent:
    """One move of an environment's pointer: who, when, why, and what the gates said."""

    environment: str
    version: int
    action: str
    release_id: str | None
    canary_release_id: str | None
    canary_percent: int
    actor: str
    reason: str
    gates: str
    at: float


class ReleaseStore(Protocol):
    """Persistence of releases and environment pointers.

    ``move_environment`` is a compare-and-set on the environment's ``version``, so two
    operators promoting at once cannot silently overwrite each other.
    """

    async def put_release(self, release: StoredRelease) -> bool:
        """Store a release; False if one with this id (content hash) exists already."""
        ...

    async def get_release(self, release_id: str) -> StoredRelease | None:
        """One release by id, or by a unique id prefix."""
        ...

    async def list_releases(self, limit: int) -> list[StoredRelease]:
        """The newest releases first."""
        ...

    async def environments(self) -> list[EnvironmentState]:
        """Every environment that has a pointer."""
        ...

    async def move_environment(
        self, state: EnvironmentState, event: EnvironmentEvent, expected_version: int
    ) -> bool:
        """Write the new pointer and its history event if the stored version matches."""
        ...

    async def environment_history(self, name: str) -> list[EnvironmentEvent]:
        """The environment's moves, oldest first."""
        ...
