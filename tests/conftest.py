"""Fixtures shared by every test folder: real Redis, PostgreSQL, small model settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import services

# Small but real models: every member trains, just briefly.
SMALL_MODELS = {
    "LSTM_EPOCHS": 2,
    "LSTM_WINDOW": 14,
    "LSTM_MAX_TRAIN_WINDOWS": 200,
    "RF_TREES": 10,
    "VALIDATION_DAYS": 28,
    "MIN_TRAINING_SAMPLES": 100,
}


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with services.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with services.postgres_database() as url:
        if url is None:
            pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
        yield url
