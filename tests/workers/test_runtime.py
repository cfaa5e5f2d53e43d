"""A worker starts only on a database at this release's schema, and waits out one that is down."""

import pytest

from forecasting.data import migrations
from forecasting.data.database import make_engine
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import make_stack


def test_worker_refuses_a_database_behind_head_naming_the_upgrade_command(tmp_path, redis_url):
    url = f"sqlite:///{tmp_path / 'sales.db'}"
    env = make_stack(tmp_path, url, redis_url)
    engine = make_engine(url)
    try:
        migrations.downgrade(engine, migrations.INITIAL)
    finally:
        engine.dispose()
    log = tmp_path / "worker.log"

    with pytest.raises(RuntimeError, match=r"did not start \(exit code 1\)"):
        with celery_worker(env, queues="forecast", log=log):
            pass

    text = log.read_text()
    assert "worker refuses to start" in text
    assert "at revision 0001, behind" in text and "`manage.py db upgrade`" in text


def test_worker_starts_when_the_database_is_down_and_says_so(tmp_path, redis_url):
    # The stack's own database is migrated; the worker is pointed at a server that is not there.
    env = make_stack(tmp_path, f"sqlite:///{tmp_path / 'sales.db'}", redis_url,
                     DATABASE_URL="postgresql+psycopg2://postgres@127.0.0.1:1/none")
    log = tmp_path / "worker.log"

    with celery_worker(env, queues="forecast", log=log) as worker:
        assert worker.poll() is None

    assert "database unreachable at worker start" in log.read_text()
