import pytest

from api import create_app
from forecasting.data import migrations
from forecasting.data.database import make_engine
from forecasting.errors import SchemaNotCurrent
from tests import services
from tests.forecasting.data import old_release


def test_config_overrides_settings(tmp_path, redis_url):
    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'x.db'}"), "REDIS_URL": redis_url,
                      "MAX_FORECAST_HORIZON": 30})
    assert app.config["MAX_FORECAST_HORIZON"] == 30
    assert app.extensions["forecasting"].settings.max_forecast_horizon == 30
    assert (tmp_path / "x.db").exists()


@pytest.mark.parametrize(("state", "problem"), [
    ("empty", "no tables yet"),
    ("earlier release", "made by an earlier release"),
    ("behind head", "at revision 0001, behind"),
])
def test_a_database_behind_head_is_refused_naming_the_upgrade_command(tmp_path, redis_url, state, problem):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    if state == "earlier release":
        old_release.metadata.create_all(engine)
    elif state == "behind head":
        migrations.upgrade(engine, migrations.INITIAL)
    engine.dispose()

    with pytest.raises(SchemaNotCurrent, match=f"{problem}.*`manage.py db upgrade`"):
        create_app({"DATABASE_URL": url, "REDIS_URL": redis_url})

    check = make_engine(url)
    try:
        assert migrations.current_revision(check) == (migrations.INITIAL if state == "behind head" else None)
    finally:
        check.dispose()


def test_unknown_route_is_problem_json(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 404
