from tests import services


def test_health_without_worker_is_503_and_names_the_failing_part(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["database"]["ok"] and checks["broker"]["ok"]
    assert checks["model_volume"]["ok"] and checks["disk"]["free_mb"] > 0
    assert checks["workers"]["ok"] is False and "no Celery worker" in checks["workers"]["error"]


def test_health_reports_broker_down(tmp_path):
    from api import create_app

    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 's.db'}"),
                      "REDIS_URL": "redis://127.0.0.1:1/0",
                      "FORECASTING_MODELS_PATH": tmp_path / "m"})
    checks = app.test_client().get("/api/v1/health").json["checks"]
    assert checks["database"]["ok"] is True
    assert checks["broker"]["ok"] is False
