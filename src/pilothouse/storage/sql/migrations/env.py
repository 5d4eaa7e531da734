"""Alembic environment: runs on a connection handed over by ``pilothouse.storage.sql.migrate``."""

from __future__ import annotations

from alembic import context

from pilothouse.storage.sql.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
