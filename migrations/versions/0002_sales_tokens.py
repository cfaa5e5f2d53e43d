"""Sales tokens: products.sales_token and the triggers that draw a new one whenever sales change.

SQLite gets row triggers; PostgreSQL statement-level triggers with transition tables
(forecasting/data/sales_token.py holds both). Products that already have sales get a
token at once, so none of them reads "never had sales".

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from forecasting.data import sales_token

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column, draw tokens for products with sales, create the triggers."""
    op.add_column("products", sa.Column("sales_token", sa.String(32), nullable=True))
    conn = op.get_bind()
    sales_token.draw_tokens(conn)
    sales_token.create_triggers(conn)


def downgrade() -> None:
    """Drop the triggers, then the column."""
    sales_token.drop_triggers(op.get_bind())
    op.drop_column("products", "sales_token")
