"""The calendar endpoints and the products' country and subdivision."""

import pytest

from forecasting.data.calendar import read_calendar
from forecasting.data.sales import load_history


def engine_of(app):
    return app.extensions["forecasting"].engine


def test_put_then_get_the_calendar(client):
    rows = [{"date": "2024-06-29", "open": False},
            {"date": "2024-07-01", "holiday": "public", "regressors": {"promo": 1}},
            {"date": "2024-12-24", "regressors": {"promo": 0.5}}]
    before = client.get("/api/v1/products/1/sales").json
    put = client.put("/api/v1/products/1/calendar", json=rows)
    assert put.status_code == 200
    assert put.json["product_id"] == 1 and put.json["written"] == 3
    got = client.get("/api/v1/products/1/calendar").json
    assert got["count"] == 3
    assert got["calendar"][1] == {"date": "2024-07-01", "open": None, "holiday": "public", "regressors": {"promo": 1.0}}
    ranged = client.get("/api/v1/products/1/calendar?start=2024-07-01&end=2024-07-31").json
    assert [r["date"] for r in ranged["calendar"]] == ["2024-07-01"]
    # An upsert that changes one field of a stored day moves the fingerprint; the sales stay.
    again = client.put("/api/v1/products/1/calendar", json={"calendar": [{"date": "2024-07-01", "open": True}]})
    assert again.json["written"] == 1 and again.json["fingerprint"] != put.json["fingerprint"]
    assert client.get("/api/v1/products/1/calendar").json["calendar"][1]["holiday"] == "public"
    assert client.get("/api/v1/products/1/sales").json == before


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([{"date": "2024-02-30"}], "Row 2: '2024-02-30' is not a valid YYYY-MM-DD date"),
        ([{"open": True}], "Row 2 has no 'date'"),
        ([{"date": "2024-07-06", "open": 1}], "Row 2 (2024-07-06): 'open' must be true, false or null"),
        ([{"date": "2024-07-06", "holiday": "a\u0007b"}], "holds a control character"),
        ([{"date": "2024-07-06", "regressors": {"Promo": 1}}], "regressor name 'Promo' must match"),
        ([{"date": "2024-07-06", "regressors": {"promo": "on"}}], "Row 2 (2024-07-06): regressor 'promo' must be"),
        ([{"date": "2024-07-05", "open": True}], "Row 2: date 2024-07-05 appears more than once"),
        ([{"date": "2024-07-06", "weather": "rain"}], "unknown field(s) weather"),
        ([], "non-empty JSON array"),
        ({"rows": []}, "non-empty JSON array"),
    ],
)
def test_bad_calendar_rows_are_named_and_nothing_is_written(app, client, rows, needle):
    engine = engine_of(app)
    before = load_history(engine, product_id=1).fingerprint
    payload = [{"date": "2024-07-05", "open": False}, *rows] if isinstance(rows, list) and rows else rows
    response = client.put("/api/v1/products/1/calendar", json=payload)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert needle in response.json["detail"]
    assert read_calendar(engine, product_id=1) == []
    assert load_history(engine, product_id=1).fingerprint == before


def test_calendar_errors_for_unknown_products_and_bad_queries(client):
    assert client.put("/api/v1/products/999/calendar", json=[{"date": "2024-01-01"}]).status_code == 404
    assert client.get("/api/v1/products/999/calendar").status_code == 404
    bad = client.get("/api/v1/products/1/calendar?start=July")
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert "'start' must be a YYYY-MM-DD date" in bad.json["detail"]
    assert client.put("/api/v1/products/1/calendar", data="x", content_type="text/csv").status_code == 415


def test_delete_a_range_of_the_calendar(client):
    client.put("/api/v1/products/1/calendar", json=[{"date": f"2024-07-0{d}", "open": True} for d in range(1, 6)])
    deleted = client.delete("/api/v1/products/1/calendar?start=2024-07-02&end=2024-07-04")
    assert deleted.status_code == 200 and deleted.json["deleted"] == 3
    assert [r["date"] for r in client.get("/api/v1/products/1/calendar").json["calendar"]] == \
        ["2024-07-01", "2024-07-05"]
    assert client.delete("/api/v1/products/1/calendar?start=2024-07-01").status_code == 422


def test_products_take_a_country_and_subdivision(client):
    created = client.post("/api/v1/products", json={"name": "Munich store", "country": "de", "subdivision": "BY"})
    assert created.status_code == 201
    assert (created.json["country"], created.json["subdivision"]) == ("DE", "BY")
    pid = created.json["id"]
    patched = client.patch(f"/api/v1/products/{pid}", json={"subdivision": "BE"})
    assert patched.status_code == 200 and patched.json["subdivision"] == "BE" and patched.json["country"] == "DE"
    renamed = client.patch(f"/api/v1/products/{pid}", json={"name": "Berlin store"}).json
    assert (renamed["name"], renamed["country"], renamed["subdivision"]) == ("Berlin store", "DE", "BE")
    cleared = client.patch(f"/api/v1/products/{pid}", json={"country": None}).json
    assert (cleared["country"], cleared["subdivision"]) == (None, None)


@pytest.mark.parametrize(
    ("method", "body", "field", "needle", "title"),
    [
        ("post", {"name": "x", "country": "XX"}, "country", "Country 'XX' is not supported", "Invalid request"),
        ("post", {"name": "x", "country": "DE", "subdivision": "Narnia"}, "subdivision", "Subdivision 'Narnia'",
         "Invalid request"),
        ("post", {"name": "x", "subdivision": "BY"}, "subdivision", "Subdivision 'BY' needs a country",
         "Invalid request"),
        ("post", {"name": "x", "country": 49}, "country", "'country' must be a code as a string", "Invalid request"),
        ("patch", {"country": "XX"}, "country", "Country 'XX' is not supported", "Invalid product data"),
        ("patch", {"subdivision": "BY"}, "subdivision", "Subdivision 'BY' needs a country", "Invalid product data"),
        ("patch", {"country": "DE", "subdivision": "Narnia"}, "subdivision", "Subdivision 'Narnia'",
         "Invalid product data"),
        ("patch", {"name": " "}, "name", "A product name must be 1 to", "Invalid product data"),
        ("patch", {"country": ["DE"]}, "country", "'country' must be a code as a string", "Invalid request"),
        ("patch", {"key": "k"}, None, "Unknown field(s): key", "Invalid request"),
    ],
)
def test_unsupported_places_are_422_naming_the_value(client, method, body, field, needle, title):
    path = "/api/v1/products" if method == "post" else "/api/v1/products/1"
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert needle in response.json["detail"]
    assert response.json["title"] == title
    assert response.json.get("field") == field
    assert client.get("/api/v1/products/1").json["country"] is None
    assert client.get("/api/v1/products").json["count"] == 2  # nothing created


def test_patch_an_unknown_product_is_404(client):
    response = client.patch("/api/v1/products/999", json={"name": "x"})
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
