"""Budgets and rate limits: counters per scope and window, tenant limits, key limits.

Revision ID: 0009
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create budget_counters and tenant_limits; add api_keys.limits."""
    op.create_table(
        "budget_counters",
        sa.Column("scope", sa.String(160), nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("used", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("scope", "window_start"),
    )
    op.create_table(
        "tenant_limits",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("rpm", sa.BigInteger),
        sa.Column("tpm", sa.BigInteger),
        sa.Column("usd_per_day", sa.Float),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(256), nullable=False),
    )
    op.add_column("api_keys", sa.Column("limits", sa.Text))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("limits")
    op.drop_table("tenant_limits")
    op.drop_table("budget_counters")
