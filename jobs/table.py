"""The jobs table: one row per job the service accepted, on the sales database's metadata."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text

from forecasting.data.database import metadata

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
    # The outbox: NULL while the job's message has not been handed to the broker (the job row
    # is the publish intent, written in the transaction that records the job).
    Column("published_at", DateTime(timezone=True), nullable=True),
    # The attempt running the job ("host:pid") and its last sign of life; NULL while queued,
    # and for a batch waiting on its children (no process holds it).
    Column("owner", String(128), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
    # The broker queue the job's message was first sent to, where the reconciler sends it again
    # (a forecast that must train first goes to another queue than its kind's); NULL for a job
    # recorded before this column, or one no worker runs: its kind's queue.
    Column("queue", String(64), nullable=True),
    Index("ix_jobs_status", "status"),
    Index("ix_jobs_parent_id", "parent_id"),
)
