import pytest
from sqlalchemy import func, select

from jobs.table import jobs as jobs_table
from tests import services

URL = "/api/v1/forecast"


def job_count(app) -> int:
    with app.extensions["forecasting"].engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(jobs_table)).scalar_one()


def test_valid_request_queues_one_job(app, client, queued):
    response = client.post(URL, json={"product_id": 1, "forecast_horizon": 90})
    assert response.status_code == 202
    body = response.json
    assert response.headers["Location"] == f"/api/v1/jobs/{body['job_id']}"
    assert body["status"] == "queued" and body["forecast_horizon"] == 90
    # Product 1 has no model set yet: its forecast goes to the worker of forecasts that train first.
    assert queued("forecast-training") == 1 and queued("forecast") == 0 and queued("training") == 0
    assert job_count(app) == 1
    job = client.get(response.headers["Location"])
    assert job.status_code == 200
    assert job.json["status"] == "queued" and job.json["params"] == {"horizon": 90}


@pytest.mark.parametrize("prefer", ["wait=1", "respond-async, wait=1", "wait=soon", "wait=-1"])
def test_a_prefer_wait_that_is_not_met_answers_202_as_usual(app, client, queued, prefer):
    response = client.post(URL, json={"product_id": 1, "forecast_horizon": 7}, headers={"Prefer": prefer})
    assert response.status_code == 202 and response.json["status"] == "queued"
    assert "Preference-Applied" not in response.headers and queued("forecast-training") == 1


def test_horizon_defaults_to_setting(client):
    response = client.post(URL, json={"product_id": 1})
    assert response.status_code == 202
    assert response.json["forecast_horizon"] == 90


@pytest.mark.parametrize(
    ("data", "status", "needle"),
    [
        ("not json", 400, "not valid JSON"),
        ("", 400, "empty"),
        ("   ", 400, "empty"),
        ("[1, 2]", 400, "must be a JSON object, not an array"),
        ('"text"', 400, "must be a JSON object, not a string"),
        ("null", 400, "must be a JSON object, not null"),
        ("{}", 422, "'product_id' is required"),
        ('{"product_id": "abc"}', 422, "'product_id' must be an integer, got a string \"abc\""),
        ('{"product_id": -1}', 422, "'product_id' must be at least 1, got -1"),
        ('{"product_id": 0}', 422, "'product_id' must be at least 1"),
        ('{"product_id": 1.5}', 422, "'product_id' must be an integer, got a number 1.5"),
        ('{"product_id": true}', 422, "'product_id' must be an integer, got a boolean true"),
        ('{"product_id": null}', 422, "'product_id' must be an integer, got null"),
        ('{"product_id": 1, "forecast_horizon": 0}', 422, "'forecast_horizon' must be at least 1, got 0"),
        ('{"product_id": 1, "forecast_horizon": -5}', 422, "'forecast_horizon' must be at least 1, got -5"),
        ('{"product_id": 1, "forecast_horizon": 366}', 422, "'forecast_horizon' must be at most 365, got 366"),
        ('{"product_id": 1, "forecast_horizon": "x"}', 422, "'forecast_horizon' must be an integer"),
        ('{"product_id": 1, "horizon": 5}', 422, "Unknown field(s): horizon"),
        ('{"product_id": 999}', 404, "Product 999 does not exist"),
    ],
)
def test_bad_input_is_a_clear_problem_and_writes_nothing(app, client, queued, data, status, needle):
    response = client.post(URL, data=data, content_type="application/json")
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["status"] == status and problem["title"] and problem["type"]
    assert needle in problem["detail"]
    assert "Traceback" not in response.get_data(as_text=True)
    assert job_count(app) == 0
    assert queued("forecast") == 0 and queued("forecast-training") == 0


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_a_body_of_another_media_type_is_415_naming_the_header(app, client, queued, content_type):
    response = client.post(URL, data='{"product_id": 1}', content_type=content_type)

    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"
    assert "Content-Type: application/json" in response.json["detail"] and content_type in response.json["detail"]
    assert job_count(app) == 0 and queued("forecast") == 0 and queued("forecast-training") == 0


def test_a_body_without_content_type_is_415_naming_the_header(app, client, queued):
    response = client.post(URL, data='{"product_id": 1}')

    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"
    assert "without a Content-Type" in response.json["detail"]
    assert "'Content-Type: application/json'" in response.json["detail"]
    assert job_count(app) == 0 and queued("forecast") == 0 and queued("forecast-training") == 0


def test_method_not_allowed_is_problem_json(client):
    response = client.get(URL)
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"


def test_broker_down_is_503_and_job_marked_failed(tmp_path, redis_url):
    from api import create_app
    from forecasting.data.products import create_product

    app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 's.db'}"),
                      "REDIS_URL": "redis://127.0.0.1:1/0",
                      "FORECASTING_MODELS_PATH": tmp_path / "m"})
    create_product(app.extensions["forecasting"].engine, name="p", product_id=1)
    response = app.test_client().post(URL, json={"product_id": 1})
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    with app.extensions["forecasting"].engine.connect() as conn:
        rows = conn.execute(select(jobs_table.c.status, jobs_table.c.error)).all()
    assert [r.status for r in rows] == ["failed"]
    # The driver's text (host, port, errno) is for the log; the job keeps a code and a sentence.
    assert rows[0].error.startswith("broker_unavailable: The message broker is unavailable")
    assert "127.0.0.1" not in rows[0].error and ":1" not in rows[0].error


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"level": 100}, "'level' values must be integers from 50 to 99 (percent), got 100"),
        ({"level": [80, 49]}, "got 49"),
        ({"level": [0.8]}, "got 0.8"),
        ({"level": []}, "'level' must be an integer or a non-empty array"),
        ({"level": [50, 60, 70, 80, 90, 95]}, "at most 5 levels"),
        ({"frequency": "hourly"}, "'frequency' must be one of daily, weekly, monthly, got 'hourly'"),
        ({"members": ["prophet", "arima"]}, "unknown member 'arima'"),
        ({"members": []}, "'members' must be a non-empty array"),
        ({"members": ["lstm", "lstm"]}, "more than once"),
        ({"calendar": {"date": "2024-07-01"}}, "'calendar' must be a non-empty array"),
        ({"calendar": [{"date": "2024-07-01", "open": "no"}]}, "Row 1 (2024-07-01): 'open' must be true, false or null"),
        ({"calendar": [{"date": "2024-07-01", "regressors": {"Promo": 1}}]}, "regressor name 'Promo' must match"),
        ({"calendar": [{"date": "2024-07-01", "colour": "red"}]}, "Row 1: unknown field(s) colour"),
        ({"calendar": [{"date": "2024-06-30", "open": False}]}, "row for 2024-06-30 is not a forecast day: this "
                                                                "forecast covers 2024-07-01 to 2024-07-07"),
        ({"calendar": [{"date": "2024-07-08", "open": False}]}, "row for 2024-07-08 is not a forecast day"),
    ],
)
def test_bad_options_are_a_422_naming_the_option_and_queue_nothing(app, client, queued, body, needle):
    response = client.post(URL, json={"product_id": 1, "forecast_horizon": 7, **body})

    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert needle in response.json["detail"]
    assert response.json["field"] == next(iter(body))
    assert job_count(app) == 0 and queued("forecast") == 0 and queued("forecast-training") == 0


def test_options_reach_the_job_params_and_defaults_leave_them_out(app, client, queued):
    plain = client.post(URL, json={"product_id": 1, "forecast_horizon": 7, "level": [95, 80], "frequency": "daily"})
    assert client.get(plain.headers["Location"]).json["params"] == {"horizon": 7}

    asked = client.post(URL, json={"product_id": 1, "forecast_horizon": 7, "level": 90, "frequency": "weekly",
                                   "members": ["prophet"],
                                   "calendar": [{"date": "2024-07-02", "open": False, "regressors": {"promo": 1}}]})
    assert asked.status_code == 202
    assert client.get(asked.headers["Location"]).json["params"] == {
        "horizon": 7, "level": [90], "frequency": "weekly", "members": ["prophet"],
        "calendar": [{"date": "2024-07-02", "open": False, "regressors": {"promo": 1.0}}]}
    assert queued("forecast-training") == 2  # no set yet: both must train first
