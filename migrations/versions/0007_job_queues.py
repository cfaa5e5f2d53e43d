"""The broker queue of each job: where its message was first sent, and where it is sent again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add jobs.queue; jobs recorded before it stay NULL and are sent again on their kind's queue."""
    op.add_column("jobs", sa.Column("queue", sa.String(64), nullable=True))


def downgrade() -> None:
    """Drop jobs.queue."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("queue")
