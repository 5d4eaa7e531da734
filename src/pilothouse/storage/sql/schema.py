"""Tables of the SQL store (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

JSON documents are stored as text: they are written once, read back whole and sent on
the wire unchanged, so the database never needs to look inside them. Changes to this
file go with an Alembic revision in ``migrations/versions``; ``HEAD_REVISION`` names the
newest one so that start-up can skip Alembic when the schema is current.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

HEAD_REVISION = "0010"

metadata = MetaData()

responses = Table(
    "responses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("model", String(256), nullable=False),
    Column("background", Boolean, nullable=False, default=False),
    Column("previous_response_id", String(64)),
    Column("conversation_id", String(64)),
    Column("schema_version", Integer, nullable=False),
    Column("resource", Text, nullable=False),
    Column("input_items", Text, nullable=False),
    Index("ix_responses_tenant_created", "tenant", "created_at"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("next_position", BigInteger, nullable=False, default=0),
)

conversation_items = Table(
    "conversation_items",
    metadata,
    Column("conversation_id", String(64), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("item_id", String(64), nullable=False),
    Column("item", Text, nullable=False),
    PrimaryKeyConstraint("conversation_id", "position"),
    Index("ux_conversation_items_item", "conversation_id", "item_id", unique=True),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("agent", String(128), nullable=False),
    Column("agent_version", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("spec", Text, nullable=False),
    Index("ix_runs_tenant_created", "tenant", "created_at"),
)

# A row holds the entries of one write (``last_seq`` set: a JSON array in ``payload``, see
# storage/sql/journal_store.py) or, written before revision 0010, one entry (``last_seq``
# NULL). ``seq`` is the row's first entry's; ``kind`` its last entry's, or ``run.finished``
# when it holds one (outcome queries find a run's end by it).
journal = Table(
    "journal",
    metadata,
    Column("run_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("step", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("last_seq", Integer),
    PrimaryKeyConstraint("run_id", "seq"),
)

switches = Table(
    "switches",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("engaged", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

releases = Table(
    "releases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("author", String(256), nullable=False),
    Column("message", Text, nullable=False),
    Column("parent", String(64)),
    Column("schema_version", Integer, nullable=False),
    Column("files", Text, nullable=False),
    Column("resolved", Text, nullable=False),
)

environments = Table(
    "environments",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("release_id", String(64)),
    Column("canary_release_id", String(64)),
    Column("canary_percent", Integer, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", Float, nullable=False),
)

environment_history = Table(
    "environment_history",
    metadata,
    Column("environment", String(64), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),
    Column("release_id", String(64)),
    Column("canary_release_id", String(64)),
    Column("canary_percent", Integer, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("reason", Text, nullable=False),
    Column("gates", Text, nullable=False),
    Column("at", Float, nullable=False),
    PrimaryKeyConstraint("environment", "version"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("body_digest", String(64), nullable=False),
    Column("response_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant", "key"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    Column("prefix", String(32), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("roles", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("revoked_at", BigInteger),
    Column("limits", Text),
    Index("ix_api_keys_tenant", "tenant"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("response_id", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Column("score", Float),
    Column("label", String(64)),
    Column("comment", Text),
    Column("principal_id", String(128)),
    Column("created_at", Float, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Index("ix_feedback_tenant_response", "tenant", "response_id"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("agent", String(128), nullable=False),
    Column("server_label", String(128), nullable=False),
    Column("tool", String(128), nullable=False),
    Column("arguments", Text, nullable=False),
    Column("arguments_digest", String(64), nullable=False),
    Column("release_id", String(64), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("four_eyes", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("decided_by", String(64)),
    Column("decided_at", BigInteger),
    Column("reason", Text),
    Column("used_by_run", String(64)),
    Column("used_at", BigInteger),
    Column("policies", Text, nullable=False),
    Index("ix_approvals_tenant_status", "tenant", "status"),
)

# Budgets (storage/budgets.py): one counter per scope and window, changed only by atomic
# conditional updates; and the limits configured per tenant.
budget_counters = Table(
    "budget_counters",
    metadata,
    Column("scope", String(160), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("used", BigInteger, nullable=False),
    PrimaryKeyConstraint("scope", "window_start"),
)

tenant_limits = Table(
    "tenant_limits",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("rpm", BigInteger),
    Column("tpm", BigInteger),
    Column("usd_per_day", Float),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
)
