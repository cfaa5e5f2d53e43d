"""A query string validated once is not validated again in the same app; errors answer alike every time."""

from __future__ import annotations

import pytest

from api import create_app, openapi
from tests import services

FORECAST = "/api/v1/products/1/forecast"


def test_an_invalid_query_answers_the_same_problem_every_time(client):
    answers = [client.get(f"{FORECAST}?horizon=366") for _ in range(2)]
    assert client.get(f"{FORECAST}?horizon=3").status_code == 404  # valid: no saved forecast yet
    answers.append(client.get(f"{FORECAST}?horizon=366"))
    assert {answer.status_code for answer in answers} == {422}
    assert {answer.mimetype for answer in answers} == {"application/problem+json"}
    assert answers[0].json["field"] == "horizon" and answers[0].json == answers[1].json == answers[2].json


def test_only_valid_query_strings_are_kept_and_no_more_than_the_limit(app, client, monkeypatch):
    monkeypatch.setattr(openapi, "VALIDATED_QUERIES", 2)
    for query in ("horizon=0", "horizon=abc", "horizon=3", "horizon=3", "horizon=4"):
        client.get(f"{FORECAST}?{query}")
    assert len(app.extensions["validated_queries"]) == 2
    client.get(f"{FORECAST}?horizon=5")
    assert len(app.extensions["validated_queries"]) == 2


@pytest.mark.parametrize("first", ["default", "short"])
def test_each_app_validates_by_its_own_settings(app, client, tmp_path, redis_url, first):
    short = create_app({"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'short.db'}"),
                        "REDIS_URL": redis_url, "FORECASTING_MODELS_PATH": tmp_path / "short-models",
                        "LOG_LEVEL": "WARNING", "MAX_FORECAST_HORIZON": 30}).test_client()
    order = [client, short] if first == "default" else [short, client]
    statuses = {id(each): each.get(f"{FORECAST}?horizon=60").status_code for each in order}
    assert statuses[id(client)] == 404 and statuses[id(short)] == 422
