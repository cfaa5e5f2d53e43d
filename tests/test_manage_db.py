"""The command line: `db upgrade` (and its alias `init-db`), and commands refusing an outdated schema."""

from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from forecasting.data import migrations
from forecasting.data.database import make_engine
from manage import cli
from tests.forecasting.data import old_release


@pytest.fixture
def database(tmp_path):
    """Return the URL of a new SQLite file and a function reading its revision."""
    url = f"sqlite:///{tmp_path / 'sales.db'}"

    def revision() -> str | None:
        engine = make_engine(url)
        try:
            return migrations.current_revision(engine)
        finally:
            engine.dispose()

    return url, revision


def invoke(url: str, *args: str):
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})


@pytest.mark.parametrize("command", [["db", "upgrade"], ["init-db"]])
def test_db_upgrade_creates_the_schema_then_has_nothing_to_do(database, command):
    url, revision = database
    first = invoke(url, *command)
    assert first.exit_code == 0, first.output
    assert f"upgraded from no revision to {migrations.head_revision()}" in first.output
    assert revision() == migrations.head_revision()

    again = invoke(url, *command)
    assert again.exit_code == 0, again.output
    assert f"at revision {migrations.head_revision()} (head), nothing to do" in again.output


def test_db_upgrade_keeps_an_earlier_release_s_rows(database):
    url, revision = database
    engine = make_engine(url)
    old_release.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(old_release.products.insert().values(id=7, name="kept", created_at=datetime.now(timezone.utc)))

    result = invoke(url, "db", "upgrade")

    assert result.exit_code == 0, result.output
    assert f"upgraded from no revision to {migrations.head_revision()}" in result.output
    assert revision() == migrations.head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, name, sales_token FROM products")).all() == [(7, "kept", None)]
    engine.dispose()


def test_commands_refuse_a_database_behind_head(database):
    url, revision = database
    engine = make_engine(url)
    migrations.upgrade(engine, migrations.INITIAL)
    engine.dispose()

    result = invoke(url, "seed-demo", "--products", "1", "--days", "10")

    assert result.exit_code != 0
    assert f"at revision 0001, behind {migrations.head_revision()}; upgrade it with `manage.py db upgrade`" in result.output
    assert revision() == migrations.INITIAL


def test_db_upgrade_refuses_tables_of_no_release(database):
    url, revision = database
    engine = make_engine(url)
    old_release.products.create(engine)
    engine.dispose()

    result = invoke(url, "db", "upgrade")

    assert result.exit_code == 1
    assert "matches no release" in result.output
    assert revision() is None



def test_db_upgrade_of_an_unreachable_database_says_so_without_a_traceback():
    result = invoke("postgresql+psycopg2://postgres@127.0.0.1:1/none", "db", "upgrade")

    assert result.exit_code == 1
    assert "cannot upgrade the database at 127.0.0.1:1/none" in result.output
    assert "Traceback" not in result.output
