"""The schema's revisions: an empty database, an earlier release's database, and the checks at start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Engine

import api.keys  # noqa: F401  (the service's tables are part of the schema compared)
import jobs.table  # noqa: F401
from forecasting.data import migrations, sales_token
from forecasting.data.database import make_engine, metadata
from forecasting.data.products import create_product
from forecasting.data.sales import load_history, upsert_sales
from forecasting.errors import SchemaNotCurrent, UnknownSchema
from tests import services
from tests.forecasting.data import old_release

NOW = datetime(2024, 6, 30, 12, tzinfo=timezone.utc)
OUR_TABLES = {"products", "sales", "jobs", "training_runs", "forecasts"}


@pytest.fixture(params=["sqlite", "postgresql"])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Yield a database of its own with no tables at all."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'blank.db'}")
        yield eng
        eng.dispose()
        return
    with services.postgres_database() as url:
        services.require(url is not None, "PostgreSQL is not reachable on 127.0.0.1:5432")
        eng = make_engine(url)
        yield eng
        eng.dispose()


def schema_differences(engine: Engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), metadata)


def expected_triggers(engine: Engine) -> set[str]:
    defined = sales_token._SQLITE_TRIGGERS if engine.dialect.name == "sqlite" else sales_token._POSTGRES_TRIGGERS
    return {name for table in sales_token.TABLES for name in defined[table]}


def triggers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {name for table in sales_token.TABLES for name in sales_token.trigger_names(conn, table)}


def token(engine: Engine, product_id: int) -> str | None:
    with engine.connect() as conn:
        return sales_token.current(conn, product_id=product_id)


def write_old_release_rows(engine: Engine) -> None:
    """Write rows as the release before sales tokens did: products 1 and 2, sales of 1, a job, a run."""
    with engine.begin() as conn:
        conn.execute(old_release.products.insert(), [
            {"id": 1, "name": "with sales", "key": "store=1", "created_at": NOW},
            {"id": 2, "name": "without sales", "key": None, "created_at": NOW},
        ])
        conn.execute(old_release.sales.insert(), [
            {"product_id": 1, "date": date(2024, 6, day), "quantity": float(day)} for day in range(1, 31)
        ])
        conn.execute(old_release.jobs.insert().values(
            id="job-1", kind="train", product_id=1, status="succeeded", progress=100, params="{}", attempts=1,
            created_at=NOW, updated_at=NOW,
        ))
        conn.execute(old_release.training_runs.insert().values(
            product_id=1, job_id="job-1", reason="missing", status="succeeded", started_at=NOW,
        ))
        if conn.dialect.name == "postgresql":
            # The old release moved the id sequence past explicit ids the same way.
            conn.execute(text("SELECT setval(pg_get_serial_sequence('products', 'id'), 2)"))


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(metadata.tables[name])).scalar_one()
                for name in ("products", "sales", "jobs", "training_runs")}


def test_an_empty_database_upgrades_to_exactly_the_tables_of_the_code(blank):
    assert migrations.current_revision(blank) is None
    assert not migrations.is_current(blank)

    assert migrations.upgrade(blank) == migrations.head_revision() == "0007"

    assert migrations.is_current(blank)
    assert OUR_TABLES <= set(inspect(blank).get_table_names())
    assert schema_differences(blank) == []
    assert triggers(blank) == expected_triggers(blank)
    migrations.require_current(blank)


def test_upgrading_a_current_database_changes_nothing(blank):
    migrations.upgrade(blank)
    pid = create_product(blank, name="kept")["id"]
    upsert_sales(blank, product_id=pid, rows=[(date(2024, 1, 1), 3.0)])
    before = token(blank, pid)

    assert migrations.upgrade(blank) == migrations.head_revision()

    assert token(blank, pid) == before
    assert load_history(blank, product_id=pid).rows == 1


def test_the_revisions_go_down_to_nothing_and_up_again(blank):
    migrations.upgrade(blank)

    assert migrations.downgrade(blank, migrations.INITIAL) == migrations.INITIAL
    assert "forecasts" not in inspect(blank).get_table_names()
    assert "sales_token" not in {c["name"] for c in inspect(blank).get_columns("products")}
    assert triggers(blank) == set()
    assert migrations.downgrade(blank, "base") == "base"
    assert not OUR_TABLES & set(inspect(blank).get_table_names())

    assert migrations.upgrade(blank) == migrations.head_revision()
    assert schema_differences(blank) == []
    assert triggers(blank) == expected_triggers(blank)


def test_a_database_of_the_release_before_sales_tokens_upgrades_in_place(blank):
    old_release.metadata.create_all(blank)
    write_old_release_rows(blank)
    counts = row_counts(blank)
    assert migrations.current_revision(blank) is None
    with pytest.raises(SchemaNotCurrent, match="earlier release.*`manage.py db upgrade`"):
        migrations.require_current(blank)

    assert migrations.upgrade(blank) == migrations.head_revision()

    assert row_counts(blank) == counts == {"products": 2, "sales": 30, "jobs": 1, "training_runs": 1}
    assert schema_differences(blank) == []
    assert triggers(blank) == expected_triggers(blank)
    history = load_history(blank, product_id=1)
    assert history.rows == 30 and history.series.iloc[-1] == 30.0
    first = token(blank, 1)
    assert first is not None  # a product with sales gets a token at once
    assert token(blank, 2) is None  # one without keeps "never had sales"
    upsert_sales(blank, product_id=1, rows=[(date(2024, 7, 1), 5.0)])
    assert token(blank, 1) not in {None, first}  # and the triggers work
    assert create_product(blank, name="new")["id"] == 3  # ids go on after the old ones


@pytest.mark.parametrize("with_triggers", [True, False], ids=["complete", "start-interrupted"])
def test_a_database_of_the_sales_token_release_is_adopted_at_head(blank, with_triggers):
    # What that release's init_db made: create_all with its tables, then the triggers.
    old_release.create_token_release_tables(blank)
    if with_triggers:
        with blank.begin() as conn:
            sales_token.create_triggers(conn)
    with blank.begin() as conn:
        pid = conn.execute(text("INSERT INTO products (name, created_at) VALUES ('tokened', '2024-01-01') "
                                "RETURNING id")).scalar_one()
        conn.execute(text("INSERT INTO sales (product_id, date, quantity) VALUES (:p, '2024-01-01', 2)"), {"p": pid})
        conn.execute(text("UPDATE products SET sales_token = 'drawn-by-the-old-release' WHERE id = :p"), {"p": pid})

    assert migrations.upgrade(blank) == migrations.head_revision()

    assert token(blank, pid) == "drawn-by-the-old-release"  # nothing stored is changed
    assert schema_differences(blank) == []
    assert triggers(blank) == expected_triggers(blank)
    upsert_sales(blank, product_id=pid, rows=[(date(2024, 1, 2), 1.0)])
    assert token(blank, pid) != "drawn-by-the-old-release"


def test_tables_matching_no_release_are_left_alone(blank):
    old_release.products.create(blank)

    with pytest.raises(UnknownSchema, match="not jobs, sales, training_runs"):
        migrations.upgrade(blank)

    assert set(inspect(blank).get_table_names()) == {"products"}
    assert migrations.current_revision(blank) is None


@pytest.mark.parametrize(("state", "message"), [
    ("empty", "no tables yet; create them with `manage.py db upgrade`"),
    ("initial", "at revision 0001, behind 0007; upgrade it with `manage.py db upgrade`"),
    ("unknown", "revision f00d, which this release does not know"),
])
def test_a_database_not_at_head_is_refused_with_the_remedy(blank, state, message):
    if state != "empty":
        migrations.upgrade(blank, migrations.INITIAL)
    if state == "unknown":
        with blank.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))

    with pytest.raises(SchemaNotCurrent, match=message.replace("(", r"\(")) as raised:
        migrations.require_current(blank)

    assert raised.value.head == migrations.head_revision()
    assert raised.value.current == {"empty": None, "initial": "0001", "unknown": "f00d"}[state]


def test_upgrades_started_at_once_take_turns(postgres_url):
    """On PostgreSQL, where several containers may start the upgrade together."""
    with services.postgres_database() as url:
        engines = [make_engine(url) for _ in range(3)]
        reached, errors = [], []
        barrier = threading.Barrier(len(engines))

        def run(engine: Engine) -> None:
            barrier.wait()
            try:
                reached.append(migrations.upgrade(engine))
            except Exception as exc:  # collected, then asserted on below
                errors.append(exc)

        # Without the lock the upgrades block each other for good: daemon threads and a
        # bounded join turn that into a failure instead of a hung run.
        threads = [threading.Thread(target=run, args=(engine,), daemon=True) for engine in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        try:
            assert not any(thread.is_alive() for thread in threads), "the upgrades did not take turns"
            assert errors == []
            assert reached == [migrations.head_revision()] * 3
            assert schema_differences(engines[0]) == []
        finally:
            for engine in engines:
                engine.dispose()
