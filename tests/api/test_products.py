import pytest

from forecasting.data.sales import load_history


def test_create_product_then_add_and_read_sales(client):
    created = client.post("/api/v1/products", json={"name": "umbrella", "key": "sku-9"})
    assert created.status_code == 201
    pid = created.json["id"]
    assert created.headers["Location"] == f"/api/v1/products/{pid}"
    rows = [{"date": "2024-01-01", "quantity": 3}, {"date": "2024-01-03", "quantity": 5.5}]
    put = client.post(f"/api/v1/products/{pid}/sales", json=rows)
    assert put.status_code == 200
    assert put.json["written"] == 2 and put.json["rows"] == 2
    fingerprint = put.json["fingerprint"]
    # Upsert: the same date again changes the quantity and the fingerprint, not the row count.
    again = client.post(f"/api/v1/products/{pid}/sales", json={"sales": [{"date": "2024-01-03", "quantity": 7}]})
    assert again.json["rows"] == 2 and again.json["fingerprint"] != fingerprint
    got = client.get(f"/api/v1/products/{pid}/sales").json
    assert got["sales"] == [{"date": "2024-01-01", "quantity": 3.0}, {"date": "2024-01-03", "quantity": 7.0}]
    ranged = client.get(f"/api/v1/products/{pid}/sales?start=2024-01-02").json
    assert [r["date"] for r in ranged["sales"]] == ["2024-01-03"]


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ([{"date": "2024-02-30", "quantity": 1}], "not a valid YYYY-MM-DD date"),
        ([{"date": "yesterday", "quantity": 1}], "not a valid YYYY-MM-DD date"),
        ([{"date": "2024-07-01", "quantity": -1}], "must be finite and >= 0"),
        ([{"date": "2024-07-01", "quantity": "ten"}], "quantity must be a number"),
        ([{"date": "2024-07-01", "quantity": True}], "quantity must be a number"),
        ([{"date": "2024-07-01", "quantity": 1}, {"date": "2024-07-01", "quantity": 2}], "appears more than once"),
        ([{"date": "2024-07-01"}], 'exactly "date" and "quantity"'),
        ([], "non-empty JSON array"),
        ({"rows": []}, "non-empty JSON array"),
    ],
)
def test_bad_sales_rows_write_nothing(app, client, rows, needle):
    engine = app.extensions["forecasting"].engine
    before = load_history(engine, product_id=1).fingerprint
    # A good row first: it must not be written either.
    payload = [{"date": "2024-07-05", "quantity": 4}, *rows] if isinstance(rows, list) and rows else rows
    response = client.post("/api/v1/products/1/sales", json=payload)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert needle in response.json["detail"]
    assert load_history(engine, product_id=1).fingerprint == before


def test_sales_body_that_is_not_json_is_400(client):
    response = client.post("/api/v1/products/1/sales", data="date,quantity", content_type="application/json")
    assert response.status_code == 400 and "not valid JSON" in response.json["detail"]


def test_sales_of_unknown_product_is_404(client):
    assert client.post("/api/v1/products/999/sales", json=[{"date": "2024-01-01", "quantity": 1}]).status_code == 404
    assert client.get("/api/v1/products/999/sales").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({}, 422, "'name' is required"),
        ({"name": ""}, 422, "'name' is required"),
        ({"name": "x", "product_id": "7"}, 422, "'product_id' must be an integer"),
        ({"name": "x", "product_id": 1}, 409, "already"),
        ({"name": "x", "colour": "red"}, 422, "Unknown field(s): colour"),
    ],
)
def test_bad_product_creation(client, body, status, needle):
    response = client.post("/api/v1/products", json=body)
    assert response.status_code == status
    assert needle in response.json["detail"]


@pytest.mark.parametrize("field", ["name", "key"])
def test_a_name_or_key_longer_than_stored_is_invalid_product_data_naming_the_field(client, field):
    before = client.get("/api/v1/products").json["count"]
    response = client.post("/api/v1/products", json={"name": "x", field: "k" * 256})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.json["title"] == "Invalid product data" and response.json["field"] == field
    assert "longer than 255 characters" in response.json["detail"]
    assert client.get("/api/v1/products").json["count"] == before


def test_list_products_pages(client):
    page = client.get("/api/v1/products?limit=1&offset=1").json
    assert page["count"] == 1 and page["products"][0]["id"] == 2
    assert client.get("/api/v1/products?limit=0").status_code == 422
    assert client.get("/api/v1/products?offset=x").status_code == 422
