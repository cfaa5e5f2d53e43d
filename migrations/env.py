"""Alembic environment: run the revisions on the connection handed in, or on the settings' database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import api.keys  # noqa: F401  (puts the service's tables on the metadata, for --autogenerate)
import jobs.table  # noqa: F401
from forecasting.data.database import make_engine, metadata


def run_migrations(connection: Connection) -> None:
    """Run the pending revisions inside the caller's transaction, if it has one."""
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported: the revisions read the database they change.")

handed = context.config.attributes.get("connection")
if handed is not None:
    run_migrations(handed)
else:
    # The `alembic` command line: the database the service itself would use.
    from config.settings import load_settings

    engine = make_engine(load_settings().database_url)
    try:
        with engine.begin() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()
