"""Journal rows hold the entries of one write: ``journal.last_seq``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add journal.last_seq (NULL on the rows written before: one entry each)."""
    op.add_column("journal", sa.Column("last_seq", sa.Integer))


def downgrade() -> None:
    """Drop it (batch rows would then read as single entries: downgrade empty journals)."""
    op.drop_column("journal", "last_seq")
