from api import create_app


def test_config_overrides_settings(tmp_path, redis_url):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "REDIS_URL": redis_url,
                      "MAX_FORECAST_HORIZON": 30})
    assert app.config["MAX_FORECAST_HORIZON"] == 30
    assert app.extensions["forecasting"].settings.max_forecast_horizon == 30
    assert (tmp_path / "x.db").exists()


def test_unknown_route_is_problem_json(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 404
