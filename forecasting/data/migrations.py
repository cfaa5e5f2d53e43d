"""The schema's revisions: run the Alembic migrations in ``migrations/`` on an engine.

Every change to the tables is a revision in ``migrations/versions/``. A database made
by a release from before revisions (tables from ``metadata.create_all``, no
``alembic_version``) is recognised by what it holds and stamped at the matching
revision, then upgraded in place: nothing stored is changed or dropped.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import Engine

from forecasting.data import sales_token
from forecasting.errors import SchemaNotCurrent, UnknownSchema

#: The Alembic environment and revisions, at the root of the repository.
SCRIPT_LOCATION = Path(__file__).resolve().parents[2] / "migrations"
UPGRADE_COMMAND = "manage.py db upgrade"

# What each release before revisions made, and the revision that matches it.
INITIAL = "0001"  # products, sales, jobs, training_runs
SALES_TOKENS = "0002"  # + products.sales_token and its triggers
SAVED_FORECASTS = "0003"  # + forecasts (the same release as the tokens)
_INITIAL_TABLES = frozenset({"products", "sales", "jobs", "training_runs"})
_KNOWN_TABLES = _INITIAL_TABLES | {"forecasts"}

# PostgreSQL: two upgrades started at once (several containers) take turns on this
# advisory lock; the second then finds the schema at head and does nothing.
_UPGRADE_LOCK = zlib.crc32(b"forecasting schema upgrade")


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # env.py runs the revisions on this connection instead of opening its own.
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the revision this release's code expects.

    Returns
    -------
    str
        The single head of ``migrations/versions/``.
    """
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """Return the database's revision.

    Parameters
    ----------
    engine : Engine
        Database to read.

    Returns
    -------
    str or None
        None for an empty database and for one made before revisions existed.
    """
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(engine: Engine) -> bool:
    """Return whether the database is at this release's head revision.

    Parameters
    ----------
    engine : Engine
        Database to read.
    """
    return current_revision(engine) == head_revision()


def require_current(engine: Engine) -> None:
    """Raise unless the database is at this release's head revision.

    Parameters
    ----------
    engine : Engine
        Database to check.

    Raises
    ------
    SchemaNotCurrent
        When the database is empty, unversioned, behind head or at a revision
        this release does not know; the message names the command that helps.
    """
    head = head_revision()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        ours = set(inspect(conn).get_table_names()) & _KNOWN_TABLES
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current is None and not ours:
        problem = "The database has no tables yet; create them"
    elif current is None:
        problem = "The database was made by an earlier release and has no schema revision; upgrade it in place"
    elif current in known:
        problem = f"The database schema is at revision {current}, behind {head}; upgrade it"
    else:
        raise SchemaNotCurrent(
            f"The database schema is at revision {current}, which this release does not know "
            f"(its head is {head}): a newer release made it; run that release instead.",
            current=current, head=head,
        )
    raise SchemaNotCurrent(f"{problem} with `{UPGRADE_COMMAND}`.", current=current, head=head)


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the database to `revision`, adopting one made before revisions existed.

    Parameters
    ----------
    engine : Engine
        Database to upgrade: empty, unversioned (made by ``metadata.create_all``
        of an earlier release) or at any revision.
    revision : str
        Target revision; ``head`` for this release's schema. Tests name an older
        one to make a database as an earlier release left it.

    Returns
    -------
    str
        The revision the database is at afterwards.

    Raises
    ------
    UnknownSchema
        When an unversioned database holds only part of a known release's tables.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
        config = _config(conn)
        if MigrationContext.configure(conn).get_current_revision() is None:
            adopted = _unversioned_revision(conn)
            if adopted is not None:
                command.stamp(config, adopted)
        command.upgrade(config, revision)
        reached = MigrationContext.configure(conn).get_current_revision()
    return reached or "base"


def downgrade(engine: Engine, revision: str) -> str:
    """Take the database back to `revision`, undoing the later revisions.

    Parameters
    ----------
    engine : Engine
        Database at a revision of this release.
    revision : str
        Target revision; ``base`` drops every table the revisions made, with its rows.

    Returns
    -------
    str
        The revision the database is at afterwards.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
        command.downgrade(_config(conn), revision)
        reached = MigrationContext.configure(conn).get_current_revision()
    return reached or "base"


def _unversioned_revision(conn: Connection) -> str | None:
    """Return the revision an unversioned database's tables match; None when it has none of ours."""
    inspector = inspect(conn)
    tables = set(inspector.get_table_names()) & _KNOWN_TABLES
    if not tables:
        return None
    if missing := _INITIAL_TABLES - tables:
        raise UnknownSchema(
            f"The database has tables {', '.join(sorted(tables))} but not {', '.join(sorted(missing))}: "
            "it matches no release, so it is left as it is."
        )
    tokens = "sales_token" in {column["name"] for column in inspector.get_columns("products")}
    if "forecasts" in tables and not tokens:
        raise UnknownSchema(
            "The database has a forecasts table but no products.sales_token column: "
            "it matches no release, so it is left as it is."
        )
    if tokens:
        # The release that added tokens re-created missing triggers at every start; a
        # start interrupted between the column and its triggers is completed here.
        sales_token.create_triggers(conn)
    if "forecasts" in tables:
        return SAVED_FORECASTS
    return SALES_TOKENS if tokens else INITIAL

