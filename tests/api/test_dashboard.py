"""The dashboard pages and the chart endpoints, on a product trained for real (small models)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from forecasting.data.products import create_product
from forecasting.data.sales import load_history, upsert_sales
from forecasting.lifecycle import saved_forecasts, steps
from jobs import records
from tests import services
from tests.api.conftest import history
from tests.conftest import SMALL_MODELS

SAVED_DAYS = 30
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def app(tmp_path_factory, redis_url):
    """Products 1 (trained), 2 (too short) and 3 (untrained); one app for the module, one training."""
    root = tmp_path_factory.mktemp("dashboard")
    app = create_app({
        **SMALL_MODELS,
        "DATABASE_URL": services.migrated(f"sqlite:///{root / 'sales.db'}"), "REDIS_URL": redis_url,
        "FORECASTING_MODELS_PATH": root / "models", "PROMETHEUS_MULTIPROC_DIR": root / "metrics",
        "SAVED_FORECAST_DAYS": SAVED_DAYS, "LOG_LEVEL": "WARNING",
    })
    svc = app.extensions["forecasting"]
    for pid, name, days in ((1, "long", 200), (2, "short", 30), (3, "untrained", 200)):
        create_product(svc.engine, name=name, product_id=pid)
        upsert_sales(svc.engine, product_id=pid, rows=history(days))
    steps.train(engine=svc.engine, store=svc.store, history=load_history(svc.engine, product_id=1),
                policy=steps.Policy.from_settings(svc.settings), reason="test")
    services.flush(redis_url)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "application/problem+json"
    return response.json


def test_index_lists_products_with_their_set_state(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    rows = {pid: html.split(f'data-product-id="{pid}"')[1].split("</tr>")[0] for pid in (1, 2, 3)}
    assert "state-fresh" in rows[1] and "prophet" in rows[1] and "random forest" in rows[1]
    assert "state-missing" in rows[2] and "too little history" in rows[2]
    assert "state-missing" in rows[3] and "not trained yet" in rows[3]
    assert 'href="/products/1"' in html
    assert "/dashboard/static/dashboard.js" in html and "http" not in html.split("<main>")[0].split("<link")[1][:60]


def test_static_files_are_served(client):
    with client.get("/dashboard/static/dashboard.js") as script:
        assert script.status_code == 200 and b"fetch(" in script.data
    with client.get("/dashboard/static/dashboard.css") as style:
        assert style.status_code == 200 and b".fill" in style.data


def test_product_page_shows_chart_metrics_and_history(client):
    page = client.get("/products/1?horizon=14")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="/api/v1/products/1/forecast.svg?horizon=14"' in html
    assert "ensemble" in html and "lstm" in html
    assert 'class="run-succeeded"' in html and "<td>test</td>" in html


def test_product_page_of_an_untrained_product_says_to_train(client):
    html = client.get("/products/3").get_data(as_text=True)
    assert "train it first" in html and "forecast.svg" not in html and "Never trained." in html


@pytest.mark.parametrize("path", ["/products/99", "/products/abc", "/?limit=0", "/products/1?horizon=400"])
def test_page_errors_are_problems(client, path):
    response = client.get(path)
    assert response.status_code in (404, 422) and response.mimetype == "application/problem+json"


def test_svg_chart_has_history_forecast_bands_and_members(client):
    response = client.get("/api/v1/products/1/forecast.svg?horizon=14")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.headers["Forecast-Days"] == "14" and response.headers["Model-Set-State"] == "fresh"
    root = ET.fromstring(response.data)
    assert root.tag == f"{SVG}svg"
    ids = {element.get("id") for element in root.iter() if element.get("id")}
    expected = {"history", "forecast", "band-80", "band-95", "member-prophet", "member-lstm", "member-random_forest"}
    assert expected <= ids
    # The forecast line has one vertex per day.
    forecast = next(element for element in root.iter() if element.get("id") == "forecast")
    path = next(forecast.iter(f"{SVG}path")).get("d")
    assert path.count("L") == 14 - 1
    assert "14-day forecast" in response.get_data(as_text=True)


def test_horizon_past_the_saved_forecast_is_capped_and_says_so(client):
    response = client.get(f"/api/v1/products/1/forecast.svg?horizon={SAVED_DAYS + 20}")
    assert response.status_code == 200 and response.headers["Forecast-Days"] == str(SAVED_DAYS)
    assert f"asked {SAVED_DAYS + 20}" in response.get_data(as_text=True)


def test_png_chart(client):
    response = client.get("/api/v1/products/1/forecast.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n") and len(response.data) > 10_000


@pytest.mark.parametrize("horizon", ["0", "366", "-3", "abc", "1.5"])
def test_bad_horizon_is_a_422_problem(client, horizon):
    body = problem(client.get(f"/api/v1/products/1/forecast.svg?horizon={horizon}"), 422)
    assert body["field"] == "horizon" and "'horizon' must be" in body["detail"]


def test_unknown_product_is_a_404_problem(client):
    body = problem(client.get("/api/v1/products/99/forecast.png"), 404)
    assert body["title"] == "Product not found"


@pytest.mark.parametrize("pid", [2, 3])
def test_untrained_product_is_a_404_problem_saying_to_train(client, pid):
    body = problem(client.get(f"/api/v1/products/{pid}/forecast.svg"), 404)
    assert "train it first" in body["detail"] and f"/api/v1/models/{pid}/retrain" in body["detail"]


def test_jobs_endpoint_lists_active_jobs_first(app, client):
    engine = app.extensions["forecasting"].engine
    done = records.create_job(engine, kind="forecast", product_id=1, params={"horizon": 7})
    records.start_job(engine, job_id=done["id"])
    records.finish_job(engine, job_id=done["id"], status="succeeded", result={})
    running = records.create_job(engine, kind="train", product_id=3, params={})
    records.start_job(engine, job_id=running["id"])
    records.set_progress(engine, job_id=running["id"], stage="training lstm", progress=40)
    jobs = client.get("/dashboard/jobs").json["jobs"]
    assert [j["id"] for j in jobs[:2]] == [running["id"], done["id"]]
    assert jobs[0]["progress"] == 40 and jobs[0]["stage"] == "training lstm"
    html = client.get("/").get_data(as_text=True)
    assert f'data-job-id="{running["id"]}"' in html and "width: 40%" in html
    records.finish_job(engine, job_id=running["id"], status="failed", error="stopped by the test")


def test_metrics_count_requests_by_route_and_sales_rows(client):
    client.get("/products/1")
    client.get("/products/3")
    written = client.post("/api/v1/products/3/sales", json=[{"date": "2024-07-01", "quantity": 4},
                                                            {"date": "2024-07-02", "quantity": 5}])
    assert written.status_code == 200
    scrape = client.get("/metrics")
    assert scrape.status_code == 200 and scrape.mimetype == "text/plain"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(scrape.get_data(as_text=True)) for s in family.samples}
    route = ("route", "/products/<product_id>")
    assert samples[("forecasting_http_requests_total", (("method", "GET"), route, ("status", "200")))] >= 2
    assert not any("/products/1" in dict(labels).get("route", "") for _, labels in samples)
    assert samples[("forecasting_sales_rows_ingested_total", (("source", "api"),))] == 2
    assert samples[("forecasting_model_sets", (("state", "fresh"),))] == 1
    assert samples[("forecasting_model_sets", (("state", "missing"),))] == 2
    assert ("forecasting_queue_depth", (("queue", "training"),)) in samples


def test_a_set_whose_sales_changed_is_stale_and_still_drawn(app, client):
    engine = app.extensions["forecasting"].engine
    upsert_sales(engine, product_id=1, rows=[(date(2024, 6, 30) + timedelta(days=1), 99.0)])
    response = client.get("/api/v1/products/1/forecast.svg?horizon=7")
    assert response.status_code == 200 and response.headers["Model-Set-State"] == "stale"
    assert "stale: data_changed" in response.get_data(as_text=True)
    row = client.get("/").get_data(as_text=True).split('data-product-id="1"')[1].split("</tr>")[0]
    assert "state-stale" in row and "data changed" in row
    gauge = {s.labels["state"]: s.value for family in text_string_to_metric_families(client.get("/metrics").get_data(
        as_text=True)) if family.name == "forecasting_model_sets" for s in family.samples}
    assert gauge == {"fresh": 0, "stale": 1, "missing": 2, "corrupt": 0}


def test_a_set_without_saved_forecast_is_a_404_saying_to_retrain(app, client):
    svc = app.extensions["forecasting"]
    info = svc.store.read_info(1)
    points = saved_forecasts.load(svc.engine, product_id=1, set_id=info["set_id"])
    saved_forecasts.discard(svc.engine, product_id=1)
    try:
        body = problem(client.get("/api/v1/products/1/forecast.svg"), 404)
        assert "no saved forecast" in body["detail"] and "retrain it first" in body["detail"]
    finally:
        saved_forecasts.save(svc.engine, product_id=1, set_id=info["set_id"], points=points)
