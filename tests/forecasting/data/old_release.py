"""The tables exactly as the release before sales tokens defined them (forecasting/database.py at 034290c).

That release made its database with ``metadata.create_all`` and kept no revision; a
database it wrote must upgrade in place.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Engine

metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, index=True),
    Column("key", String(255), unique=True, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sales = Table(
    "sales",
    metadata,
    Column("product_id", Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("quantity", Float, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("product_id", Integer, nullable=True),
    Column("parent_id", String(36), nullable=True),
    Column("status", String(16), nullable=False),
    Column("stage", String(64), nullable=True),
    Column("progress", Integer, nullable=False, default=0),
    Column("params", Text, nullable=False),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_jobs_status", "status"),
    Index("ix_jobs_parent_id", "parent_id"),
)

training_runs = Table(
    "training_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("product_id", Integer, nullable=False),
    Column("job_id", String(36), nullable=True),
    Column("reason", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("seconds", Float, nullable=True),
    Column("metrics", Text, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_training_runs_product", "product_id", "started_at"),
)


def create_token_release_tables(engine: Engine) -> None:
    """Create the tables as the release with sales tokens and saved forecasts (b64141e) made them."""
    token_release = MetaData()
    for table in (sales, jobs, training_runs):
        table.to_metadata(token_release)
    Table(
        "products",
        token_release,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("name", String(255), nullable=False, index=True),
        Column("key", String(255), unique=True, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sales_token", String(32), nullable=True),
    )
    Table(
        "forecasts",
        token_release,
        Column("product_id", Integer, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
        Column("set_id", String(64), nullable=False),
        Column("days", Integer, nullable=False),
        Column("points", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    token_release.create_all(engine)
