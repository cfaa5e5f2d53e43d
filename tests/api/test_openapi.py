"""The API's description of itself, its docs page, problem types, paging and the headers of long answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.errors import DOMAIN_STATUS
from api.problems import PROBLEMS, problem_type
from api.schemas.examples import EXAMPLES

API = Path(__file__).resolve().parents[2] / "api"


def test_the_document_is_openapi_3_1_and_lists_every_route_with_its_methods(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    routes = {(method.lower(), re.sub(r"<(\w+)>", r"{\1}", rule.rule)) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") and not rule.rule.startswith(("/api/v1/docs", "/api/v1/openapi"))
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(method, path) for path, item in doc["paths"].items() for method in item}
    assert routes == documented
    for path, item in doc["paths"].items():
        for method, op in item.items():
            answers = op["responses"]
            assert "503" in answers, (method, path)
            for code, answer in answers.items():
                if int(code) >= 400 and path != "/api/v1/health":
                    assert list(answer["content"]) == ["application/problem+json"], (method, path, code)
            if "requestBody" in op:
                assert {"400", "413", "415", "422"} <= answers.keys(), (method, path)


def test_parameters_and_limits_come_from_the_code_and_settings(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    jobs = {p["name"]: p for p in doc["paths"]["/api/v1/jobs"]["get"]["parameters"]}
    assert set(jobs) == {"status", "kind", "product_id", "parent_id", "limit", "offset"}
    assert jobs["status"]["schema"]["enum"] == ["queued", "running", "succeeded", "failed", "skipped", "cancelled"]
    wait = doc["paths"]["/api/v1/jobs/{job_id}"]["get"]["parameters"]
    assert {"name": "wait", "in": "query"}.items() <= wait[1].items()
    assert wait[1]["schema"]["maximum"] == app.config["MAX_JOB_WAIT_SECONDS"]
    body = doc["components"]["schemas"]["ForecastRequest"]
    assert body["properties"]["forecast_horizon"]["maximum"] == app.config["MAX_FORECAST_HORIZON"]
    assert body["required"] == ["product_id"] and body["additionalProperties"] is False
    accepted = doc["paths"]["/api/v1/forecast"]["post"]["responses"]["202"]
    assert {"Location", "Retry-After"} <= accepted["headers"].keys()
    assert accepted["links"]["GetJob"]["operationId"] == "jobs.get_job"
    prefer = doc["paths"]["/api/v1/forecast"]["post"]["parameters"]
    assert [(p["name"], p["in"]) for p in prefer] == [("Prefer", "header")]
    chart = doc["paths"]["/api/v1/products/{product_id}/forecast.png"]["get"]["responses"]["200"]
    assert list(chart["content"]) == ["image/png"]


def test_forecast_options_results_and_exports_are_described(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    options = schemas["ForecastRequest"]["properties"]
    assert options["frequency"]["enum"] == ["daily", "weekly", "monthly"]
    assert options["level"]["anyOf"][1] == {"type": "array", "items": {"type": "integer", "minimum": 50,
                                                                       "maximum": 99}, "minItems": 1, "maxItems": 5}
    assert options["members"]["items"]["enum"] == ["prophet", "lstm", "random_forest", "tsb"]
    assert options["calendar"]["items"]["required"] == ["date"]
    assert {"warnings", "options"} <= schemas["ForecastResult"]["properties"].keys()
    saved = doc["paths"]["/api/v1/products/{product_id}/forecast"]["get"]
    assert saved["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ForecastResult")
    assert saved["parameters"][1]["schema"]["maximum"] == app.config["MAX_FORECAST_HORIZON"]
    bulk = schemas["BulkForecastRequest"]["properties"]
    assert bulk["product_ids"]["maxItems"] == app.config["MAX_BATCH_PRODUCTS"]
    result = doc["paths"]["/api/v1/jobs/{job_id}/result"]["get"]["responses"]
    assert list(result["200"]["content"]) == ["application/json", "text/csv", "application/x-ndjson"]
    assert result["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ForecastExport")
    assert {"404", "406", "409", "503"} <= result.keys() and "422" not in result


def test_the_docs_page_and_its_assets_are_served_by_the_service(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    for source in sources:
        with client.get(source) as response:
            assert response.status_code == 200 and response.get_data(), source
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as script:
        assert "SwaggerUIBundle" in script.get_data(as_text=True)
    assert client.get("/api/v1/docs/assets/index.html").status_code == 404


def test_every_problem_type_resolves_to_its_entry_in_the_docs(client):
    for title in PROBLEMS:
        url, _, anchor = problem_type(title).partition("#")
        response = client.get(url)
        assert response.status_code == 200
        assert f'id="{anchor}"' in response.get_data(as_text=True), title


def test_every_problem_the_code_answers_with_is_in_the_catalogue():
    source = "\n".join(path.read_text() for path in API.rglob("*.py"))
    titles = set(re.findall(r'(?:ApiError|problem)\(\s*\d+,\s*"([^"]+)"', source))
    titles |= set(re.findall(r'outage\(\s*"([^"]+)"', source))
    titles |= {title for _, title in DOMAIN_STATUS.values()}
    assert titles and titles <= PROBLEMS.keys(), titles - PROBLEMS.keys()


def test_a_problem_type_links_to_the_docs(client):
    body = client.get("/api/v1/products/999").get_json()
    assert body["type"] == "/api/v1/docs/problems#product-not-found"


def test_a_405_says_which_methods_the_path_takes(client):
    response = client.put("/api/v1/products")
    assert response.status_code == 405 and response.mimetype == "application/problem+json"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert response.get_json()["type"] == "/api/v1/docs/problems#method-not-allowed"


@pytest.mark.parametrize("path", ["/api/v1/products", "/api/v1/jobs", "/api/v1/models"])
def test_lists_page_alike(client, path):
    client.post("/api/v1/forecast", json={"product_id": 1})
    client.post("/api/v1/forecast", json={"product_id": 2})
    first = client.get(f"{path}?limit=1").get_json()
    name = path.rsplit("/", 1)[-1]
    assert {"total", "count", "limit", "offset", "links", name} == first.keys()
    assert first["limit"] == 1 and first["offset"] == 0 and first["count"] == len(first[name])
    if first["total"] > 1:
        second = client.get(first["links"]["next"]).get_json()
        assert second["offset"] == 1 and second[name] != first[name]
    else:
        assert "next" not in first["links"]


def test_products_page_with_a_total_and_a_next_link_that_keeps_the_query(client):
    first = client.get("/api/v1/products?limit=1").get_json()
    assert first["total"] == 2 and [p["id"] for p in first["products"]] == [1]
    assert first["links"]["next"] == "/api/v1/products?limit=1&offset=1"
    last = client.get(first["links"]["next"]).get_json()
    assert [p["id"] for p in last["products"]] == [2] and last["links"] == {}


def test_a_202_and_an_unfinished_job_say_when_to_look_again(app, client):
    accepted = client.post("/api/v1/forecast", json={"product_id": 1})
    assert accepted.status_code == 202
    assert accepted.headers["Retry-After"] == str(app.config["JOB_RETRY_AFTER_SECONDS"])
    queued = client.get(accepted.headers["Location"])
    assert queued.get_json()["status"] == "queued" and queued.headers["Retry-After"] == "2"
    client.delete(accepted.headers["Location"])
    ended = client.get(accepted.headers["Location"])
    assert ended.get_json()["status"] == "cancelled" and "Retry-After" not in ended.headers
    retrain = client.post("/api/v1/models/1/retrain")
    assert retrain.status_code == 202 and retrain.headers["Retry-After"] == "2"


def test_a_taken_product_id_or_key_is_409(client):
    assert client.post("/api/v1/products", json={"name": "a", "key": "k-1"}).status_code == 201
    for body in ({"name": "b", "product_id": 1}, {"name": "b", "key": "k-1"}):
        response = client.post("/api/v1/products", json=body)
        assert response.status_code == 409 and response.mimetype == "application/problem+json"
        assert response.get_json()["title"] == "Product exists" and "already" in response.get_json()["detail"]


def test_a_taken_key_name_is_409(client):
    assert client.post("/api/v1/keys", json={"name": "ops"}).status_code == 201
    response = client.post("/api/v1/keys", json={"name": "ops"})
    assert response.status_code == 409 and "exists already" in response.get_json()["detail"]


def test_the_schemas_still_give_the_precise_messages(client):
    cases = [
        ({"product_id": "abc"}, "'product_id' must be an integer, got a string \"abc\"."),
        ({"product_id": 1, "forecast_horizon": 0}, "'forecast_horizon' must be at least 1, got 0."),
        ({"product_id": 1, "colour": 1}, "Unknown field(s): colour; allowed: calendar, forecast_horizon, frequency, level, members, product_id."),
    ]
    for body, detail in cases:
        response = client.post("/api/v1/forecast", json=body)
        assert response.status_code == 422 and response.get_json()["detail"] == detail
    assert client.get("/api/v1/jobs?limit=²").get_json()["detail"] == "'limit' must be an integer, got '²'."


def test_the_examples_are_real_answers_that_match_their_schemas(client):
    import jsonschema_rs

    doc = client.get("/api/v1/openapi.json").get_json()
    shown = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            parts = [(f"{code}", answer) for code, answer in op["responses"].items()]
            parts += [("request", op["requestBody"])] if "requestBody" in op else []
            for name, part in parts:
                for media in part.get("content", {}).values():
                    if "example" in media:
                        schema = {**media["schema"], "components": doc["components"]}
                        errors = list(jsonschema_rs.Draft202012Validator(schema).iter_errors(media["example"]))
                        assert not errors, (method, path, name, [e.message for e in errors])
                        shown += 1
    assert shown == len(EXAMPLES)


def test_a_second_app_gets_the_same_document(app, tmp_path, redis_url):
    from api import create_app
    from tests import services

    first = app.test_client().get("/api/v1/openapi.json").get_json()
    other = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'other.db'}"),
                        "REDIS_URL": redis_url, "FORECASTING_MODELS_PATH": tmp_path / "models",
                        "LOG_LEVEL": "WARNING"})
    second = other.test_client().get("/api/v1/openapi.json").get_json()
    assert "Links" in second["components"]["schemas"]
    assert second["components"] == first["components"]
