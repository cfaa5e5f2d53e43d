"""Job leases and the outbox: when a job's message was published, which attempt runs it, its heartbeat.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add published_at, owner and heartbeat_at to jobs; jobs recorded before count as published."""
    op.add_column("jobs", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("owner", sa.String(128), nullable=True))
    op.add_column("jobs", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    # Jobs of an earlier release were published by the request that recorded them.
    op.execute("UPDATE jobs SET published_at = created_at")


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
        batch.drop_column("published_at")
