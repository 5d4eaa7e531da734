"""Feedback on responses: client scores and labels, and eval grades.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create feedback."""
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("response_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("label", sa.String(64)),
        sa.Column("comment", sa.Text),
        sa.Column("principal_id", sa.String(128)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
    )
    op.create_index("ix_feedback_tenant_response", "feedback", ["tenant", "response_id"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_feedback_tenant_response", "feedback")
    op.drop_table("feedback")
