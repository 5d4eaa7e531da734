"""Approvals: requests for a person's decision on one tool call, and their audit trail.

Revision ID: 0005
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create approvals."""
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("server_label", sa.String(128), nullable=False),
        sa.Column("tool", sa.String(128), nullable=False),
        sa.Column("arguments", sa.Text, nullable=False),
        sa.Column("arguments_digest", sa.String(64), nullable=False),
        sa.Column("release_id", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("four_eyes", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", sa.BigInteger),
        sa.Column("reason", sa.Text),
        sa.Column("used_by_run", sa.String(64)),
        sa.Column("used_at", sa.BigInteger),
        sa.Column("policies", sa.Text, nullable=False),
    )
    op.create_index("ix_approvals_tenant_status", "approvals", ["tenant", "status"])


def downgrade() -> None:
    """Drop approvals."""
    op.drop_index("ix_approvals_tenant_status", "approvals")
    op.drop_table("approvals")
