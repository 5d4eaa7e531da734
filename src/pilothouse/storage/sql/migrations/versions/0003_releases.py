"""Releases, environments (pointers to releases) and their history.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create releases, environments and environment_history."""
    op.create_table(
        "releases",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("author", sa.String(256), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("parent", sa.String(64)),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("resolved", sa.Text, nullable=False),
    )
    op.create_table(
        "environments",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("release_id", sa.String(64)),
        sa.Column("canary_release_id", sa.String(64)),
        sa.Column("canary_percent", sa.Integer, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "environment_history",
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("release_id", sa.String(64)),
        sa.Column("canary_release_id", sa.String(64)),
        sa.Column("canary_percent", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("gates", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("environment", "version"),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("environment_history")
    op.drop_table("environments")
    op.drop_table("releases")
