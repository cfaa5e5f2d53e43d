"""An S3 model store whose bucket does not exist stops the API and the workers at start, named."""

from __future__ import annotations

import pytest

from api import create_app
from forecasting.store.s3_objects import StoreUnavailable
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY
from tests.workers.celery_process import celery_worker
from tests.workers.conftest import make_stack


def missing_bucket_env(tmp_path, redis_url, s3) -> dict[str, str]:
    return make_stack(tmp_path, f"sqlite:///{tmp_path / 'sales.db'}", redis_url,
                      MODEL_STORE_URL="s3://no-such-bucket/models", S3_ENDPOINT_URL=s3.endpoint_url,
                      AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION,
                      MODEL_STORE_CACHE_DIR=tmp_path / "cache")


def test_the_api_refuses_to_start(tmp_path, redis_url, s3):
    with pytest.raises(StoreUnavailable, match="bucket 'no-such-bucket' does not exist; create it first"):
        create_app(missing_bucket_env(tmp_path, redis_url, s3))


def test_a_worker_refuses_to_start(tmp_path, redis_url, s3):
    log = tmp_path / "worker.log"
    with pytest.raises(RuntimeError, match=r"did not start \(exit code 1\)"):
        with celery_worker(missing_bucket_env(tmp_path, redis_url, s3), queues="forecast", log=log):
            pass
    text = log.read_text()
    assert "worker refuses to start" in text and "bucket 'no-such-bucket' does not exist" in text
