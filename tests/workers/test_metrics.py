"""/metrics after real jobs ran on a real Celery worker: the worker's counts reach the API's scrape."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.workers.conftest import Stack, running_stack

MEMBERS = ("prophet", "lstm", "random_forest")


@pytest.fixture
def metered(tmp_path, database_url, redis_url):
    """A stack whose API and worker write their samples to a directory of this test."""
    with running_stack(tmp_path, database_url, redis_url, PROMETHEUS_MULTIPROC_DIR=tmp_path / "metrics") as running:
        yield running


def scrape(stack: Stack) -> dict[tuple[str, tuple], float]:
    response = stack.client.get("/metrics")
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True)) for s in family.samples}


def test_metrics_count_the_jobs_a_worker_ran(metered):
    before = scrape(metered)
    assert not any(name == "forecasting_jobs_total" for name, _ in before)

    # The first trains and reads the forecast saved with the set, the second reads it,
    # the third asks past the saved 90 days so the models run; product 2 is too short.
    for horizon in (30, 60, 120):
        assert metered.forecast(1, horizon)["status"] == "succeeded"
    assert metered.forecast(2, 30)["status"] == "failed"
    retrain = metered.client.post("/api/v1/models/1/retrain", json={"force": True})
    assert metered.poll(retrain.headers["Location"])["status"] == "succeeded"
    # Served by the API from the saved forecast, no job: counted as saved all the same.
    assert metered.client.get("/api/v1/products/1/forecast?horizon=30").status_code == 200

    samples = scrape(metered)
    jobs = {labels: value for (name, labels), value in samples.items() if name == "forecasting_jobs_total"}
    assert jobs == {
        (("kind", "forecast"), ("status", "succeeded")): 3,
        (("kind", "forecast"), ("status", "failed")): 1,
        (("kind", "train"), ("status", "succeeded")): 1,
    }
    count = samples[("forecasting_job_duration_seconds_count", (("kind", "forecast"), ("status", "succeeded")))]
    assert count == 3
    assert samples[("forecasting_job_duration_seconds_sum", (("kind", "train"), ("status", "succeeded")))] > 0
    assert samples[("forecasting_forecasts_served_total", (("source", "saved"),))] == 3
    assert samples[("forecasting_forecasts_served_total", (("source", "computed"),))] == 1
    for member in MEMBERS:
        # Two trainings: the first forecast's and the forced retrain.
        assert samples[("forecasting_training_seconds_count", (("member", member),))] == 2
    assert samples[("forecasting_model_sets", (("state", "fresh"),))] == 1
    assert samples[("forecasting_model_sets", (("state", "missing"),))] == 1
    assert samples[("forecasting_queue_depth", (("queue", "forecast"),))] == 0
    posted = (("method", "POST"), ("route", "/api/v1/forecast"), ("status", "202"))
    assert samples[("forecasting_http_requests_total", posted)] == 4
