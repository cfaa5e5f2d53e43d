"""The calendar: known-in-advance inputs per product and day, and the products' country and subdivision.

A change to a product's calendar rows draws a new sales token, as a change to its sales
does (forecasting/data/sales_token.py), so its model set is retrained.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from forecasting.data import sales_token

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the products' country and subdivision, create the calendar table and its token triggers."""
    op.add_column("products", sa.Column("country", sa.String(8), nullable=True))
    op.add_column("products", sa.Column("subdivision", sa.String(32), nullable=True))
    op.create_table(
        "calendar",
        sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("open", sa.Boolean, nullable=True),
        sa.Column("holiday", sa.String(64), nullable=True),
        sa.Column("regressors", sa.Text, nullable=True),
    )
    sales_token.create_triggers(op.get_bind(), "calendar")


def downgrade() -> None:
    """Drop the calendar's triggers and table, then the products' country and subdivision."""
    sales_token.drop_triggers(op.get_bind(), "calendar")
    op.drop_table("calendar")
    # Plain DROP COLUMN (SQLite 3.35 and later, PostgreSQL): a batch copy of products would
    # break the sales triggers that name it.
    for column in ("subdivision", "country"):
        op.execute(f"ALTER TABLE products DROP COLUMN {column}")
