"""Record real answers of the API as the examples its OpenAPI document shows.

    .venv/bin/python -m tests.api.record_examples    # writes api/schemas/examples.json

A fresh SQLite file and the test Redis, product 1 with a year of sales; every request below
is sent to the app and its answer kept under "<operationId> <status>" (the request's body
under "<operationId> request"). tests/api/test_openapi.py checks each against its schema.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from api import create_app
from api.schemas.examples import PATH
from forecasting.data.products import create_product
from forecasting.data.sales import upsert_sales
from tests import services
from tests.api.conftest import history


def record(client: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """Send the example requests; return the examples keyed by operation id and status."""
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
    job = send("POST", "/api/v1/forecast", "/api/v1/forecast", {"product_id": 1, "forecast_horizon": 30})
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
        examples = record(client, client.get("/api/v1/openapi.json").get_json())
        app.extensions["forecasting"].engine.dispose()
    PATH.write_text(json.dumps(examples, indent=1, sort_keys=True) + "\n")
    print(f"{len(examples)} examples written to {PATH}")


if __name__ == "__main__":
    main()
