"""Schema commands: run the migrations, and open the database only at this release's schema."""

from __future__ import annotations

import click
from sqlalchemy.engine import Engine

from commands import cli
from config.settings import Settings


def open_engine(settings: Settings) -> Engine:
    """Return the settings' database engine, refusing a schema that is not this release's."""
    from forecasting.data import migrations
    from forecasting.data.database import make_engine
    from forecasting.errors import SchemaNotCurrent

    engine = make_engine(settings.database_url)
    try:
        migrations.require_current(engine)
    except SchemaNotCurrent as exc:
        engine.dispose()
        raise click.ClickException(str(exc)) from exc
    return engine


def upgrade(settings: Settings) -> None:
    """Run the pending revisions on the settings' database and say where it ends."""
    from sqlalchemy.exc import DBAPIError

    from forecasting.data import migrations
    from forecasting.data.database import make_engine
    from forecasting.errors import UnknownSchema

    where = settings.database_url.split("@")[-1]
    engine = make_engine(settings.database_url)
    try:
        before = migrations.current_revision(engine)
        reached = migrations.upgrade(engine)
    except UnknownSchema as exc:
        raise click.ClickException(str(exc)) from exc
    except DBAPIError as exc:
        raise click.ClickException(f"cannot upgrade the database at {where}: {exc.orig}") from exc
    finally:
        engine.dispose()
    if before == reached:
        click.echo(f"database at revision {reached} (head), nothing to do: {where}")
    else:
        click.echo(f"database upgraded from {before or 'no revision'} to {reached} (head): {where}")


@cli.group("db")
def db_group() -> None:
    """Schema of the database: Alembic revisions in migrations/."""


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade_command(settings) -> None:
    """Create the tables, or bring an earlier release's database to this release's schema."""
    upgrade(settings)


@cli.command("init-db")
@click.pass_obj
def init_db_command(settings) -> None:
    """Same as `db upgrade`, kept for existing scripts."""
    upgrade(settings)
