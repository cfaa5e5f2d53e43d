"""Record real answers of the API as the examples its OpenAPI document shows.

    .venv/bin/python -m tests.api.record_examples    # writes api/schemas/examples.json

A fresh SQLite file and the test Redis, product 1 with a year of sales; every request below
is sent to the app and its answer kept under "<operationId> <status>" (the request's body
under "<operationId> request"). tests/api/test_openapi.py checks each against its schema.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from api import create_app
from api.schemas.examples import PATH
from forecasting.data.products import create_product
from config.settings import load_settings
from forecasting.data.sales import load_history, upsert_sales
from forecasting.lifecycle import steps
from tests import services
from tests.api.conftest import history
from tests.conftest import SMALL_MODELS


def record(client: Any, doc: dict[str, Any], train: Callable[[], Any]) -> dict[str, Any]:
    """Send the example requests (`train` trains product 1 between them); return the examples by operation and status."""
    operations = {(method.upper(), path): op["operationId"] for path, item in doc["paths"].items()
                  for method, op in item.items()}
    examples: dict[str, Any] = {}

    def send(method: str, template: str, url: str, body: Any = None, **kwargs: Any) -> Any:
        response = client.open(url, method=method, **({"json": body} if body is not None else {}), **kwargs)
        op = operations[(method, template)]
        if body is not None and f"{op} request" not in examples and response.status_code < 400:
            examples[f"{op} request"] = body
        if response.is_json:
            examples.setdefault(f"{op} {response.status_code}", response.get_json())
        return response

    send("POST", "/api/v1/products", "/api/v1/products",
         {"name": "Rye bread, store 1", "key": "store=1|item=7", "country": "DE", "subdivision": "BY"})
    send("GET", "/api/v1/products", "/api/v1/products?limit=1")
    send("GET", "/api/v1/products/{product_id}", "/api/v1/products/1")
    send("GET", "/api/v1/products/{product_id}", "/api/v1/products/999")
    send("PATCH", "/api/v1/products/{product_id}", "/api/v1/products/1", {"name": "Rye bread"})
    send("POST", "/api/v1/products/{product_id}/sales", "/api/v1/products/1/sales",
         [{"date": "2024-07-01", "quantity": 12}, {"date": "2024-07-02", "quantity": 9}])
    send("GET", "/api/v1/products/{product_id}/sales", "/api/v1/products/1/sales?start=2024-06-28&end=2024-07-02")
    send("DELETE", "/api/v1/products/{product_id}/sales", "/api/v1/products/1/sales?start=2024-07-02&end=2024-07-02")
    send("PUT", "/api/v1/products/{product_id}/calendar", "/api/v1/products/1/calendar",
         [{"date": "2024-07-04", "open": False, "holiday": "public"},
          {"date": "2024-07-05", "regressors": {"promo": 1}}])
    send("GET", "/api/v1/products/{product_id}/calendar", "/api/v1/products/1/calendar?start=2024-07-01")
    send("DELETE", "/api/v1/products/{product_id}/calendar",
         "/api/v1/products/1/calendar?start=2024-07-05&end=2024-07-05")
    send("POST", "/api/v1/forecast", "/api/v1/forecast", {"product_id": "abc"})
    send("POST", "/api/v1/forecast", "/api/v1/forecast", data="product_id=1", content_type="text/plain")
    send("GET", "/api/v1/products/{product_id}/forecast", "/api/v1/products/1/forecast?horizon=7")
    train()
    send("GET", "/api/v1/products/{product_id}/forecast", "/api/v1/products/1/forecast?horizon=7")
    # Answered from the saved forecast at once, its job recorded as ended: the 200 of POST /forecast.
    served = send("POST", "/api/v1/forecast", "/api/v1/forecast", {"product_id": 1, "forecast_horizon": 7},
                  headers={"Prefer": "wait=5"})
    served_id = served.get_json()["id"]
    send("GET", "/api/v1/jobs/{job_id}/result", f"/api/v1/jobs/{served_id}/result")
    send("GET", "/api/v1/jobs/{job_id}/result", f"/api/v1/jobs/{served_id}/result", headers={"Accept": "image/png"})
    examples.pop("forecast.create_forecast request")
    job = send("POST", "/api/v1/forecast", "/api/v1/forecast",
               {"product_id": 1, "forecast_horizon": 28, "level": [50, 90], "frequency": "weekly",
                "members": ["prophet", "random_forest"], "calendar": [{"date": "2024-07-05", "regressors": {"promo": 1}}]})
    send("POST", "/api/v1/forecasts", "/api/v1/forecasts", {"product_ids": [1, 999]})
    bulk = send("POST", "/api/v1/forecasts", "/api/v1/forecasts", {"product_ids": [1], "forecast_horizon": 7})
    send("GET", "/api/v1/jobs/{job_id}/result", bulk.get_json()["links"]["result"])
    url = job.headers["Location"]
    job_id = url.rsplit("/", 1)[-1]
    send("GET", "/api/v1/jobs/{job_id}", url)
    send("GET", "/api/v1/jobs", "/api/v1/jobs?kind=forecast&limit=1")
    send("DELETE", "/api/v1/jobs/{job_id}", url)
    send("DELETE", "/api/v1/jobs/{job_id}", url)
    send("GET", "/api/v1/jobs/{job_id}", "/api/v1/jobs/" + job_id[:-4] + "0000")
    send("POST", "/api/v1/models/{product_id}/retrain", "/api/v1/models/1/retrain", {"force": True})
    send("POST", "/api/v1/models/retrain", "/api/v1/models/retrain", {"product_ids": [1]})
    send("GET", "/api/v1/models", "/api/v1/models")
    send("GET", "/api/v1/models/{product_id}", "/api/v1/models/1")
    send("GET", "/api/v1/models/{product_id}/history", "/api/v1/models/1/history")
    send("POST", "/api/v1/keys", "/api/v1/keys", {"name": "dashboard", "scope": "read"})
    send("POST", "/api/v1/keys", "/api/v1/keys", {"name": "dashboard", "scope": "read"})
    send("GET", "/api/v1/keys", "/api/v1/keys")
    health = send("GET", "/api/v1/health", "/api/v1/health")
    # The model volume of this run is a temporary folder: shown as the default one instead.
    examples[f"health.health {health.status_code}"]["checks"]["model_volume"]["path"] = "ml_models/forecasting"
    return examples


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, services.redis_server() as redis_url:
        app = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{Path(tmp) / 'sales.db'}"),
                          "REDIS_URL": redis_url, "FORECASTING_MODELS_PATH": Path(tmp) / "models",
                          "LOG_LEVEL": "WARNING"})
        engine = app.extensions["forecasting"].engine
        create_product(engine, name="Wholemeal loaf", product_id=1)
        upsert_sales(engine, product_id=1, rows=history(365))
        client = app.test_client()
        policy = steps.Policy(params=load_settings(overrides=SMALL_MODELS).model_params, min_samples=100,
                              max_age=timedelta(days=7), saved_forecast_days=30)
        examples = record(client, client.get("/api/v1/openapi.json").get_json(), lambda: steps.train(
            engine=engine, store=app.extensions["forecasting"].store,
            history=load_history(engine, product_id=1), policy=policy, reason="example"))
        app.extensions["forecasting"].engine.dispose()
    PATH.write_text(json.dumps(examples, indent=1, sort_keys=True) + "\n")
    print(f"{len(examples)} examples written to {PATH}")


if __name__ == "__main__":
    main()
