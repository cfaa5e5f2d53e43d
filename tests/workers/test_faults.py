"""Faults leave previous models usable and jobs truthful."""

import os
import signal
import time
from datetime import timedelta

import psutil
import pytest

from config.settings import load_settings
from forecasting.data.sales import load_history
from forecasting.lifecycle import steps
from forecasting.models.model_set import ModelSet
from jobs.locks import lock_owner
from tests.conftest import SMALL_MODELS


@pytest.fixture
def database_url(tmp_path):
    return f"sqlite:///{tmp_path / 'sales.db'}"


def train_small(app) -> dict:
    """Train product 1 in this process with small settings; return its model_info."""
    svc = app.extensions["forecasting"]
    policy = steps.Policy(params=load_settings(overrides=SMALL_MODELS).model_params, min_samples=100,
                             max_age=timedelta(days=7))
    return steps.train(engine=svc.engine, store=svc.store, history=load_history(svc.engine, product_id=1), policy=policy,
                          reason="test")


def wait_running(stack, location: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = stack.client.get(location).json
        if job["status"] == "running" and job["progress"]["percent"] > 0:
            return
        time.sleep(0.05)
    raise AssertionError("the training never started")


def test_worker_child_killed_mid_training_keeps_old_set_and_redelivers(stack):
    old = train_small(stack.app)
    store = stack.app.extensions["forecasting"].store
    response = stack.client.post("/api/v1/models/1/retrain")
    assert response.status_code == 202
    location = response.headers["Location"]
    wait_running(stack, location)

    worker = psutil.Process(stack.worker.pid)
    children = worker.children()
    assert len(children) == 1
    os.kill(children[0].pid, signal.SIGKILL)

    # The dead attempt's lock names this job, so the redelivered attempt takes it over.
    assert lock_owner(stack.app.extensions["forecasting"].redis, 1) == response.json["job_id"]
    # The old set stays complete and loadable while the job is redelivered.
    _, info = store.load(1, ModelSet.load)
    assert info["trained_at"] == old["trained_at"]

    job = stack.poll(location)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 2
    _, info = store.load(1, ModelSet.load)
    assert info["trained_at"] != old["trained_at"]
    # The killed attempt may leave its half-built set (`1.new.*`, swept once stale), but no set is left
    # aside (`1.old.*`): the swap of the redelivered attempt completed.
    assert not [p.name for p in (store.root / ".staging").iterdir() if ".old." in p.name]


def test_job_of_a_worker_lost_too_often_is_marked_failed(stack):
    env = stack.env
    svc = stack.app.extensions["forecasting"]
    from jobs import records

    job = records.create_job(svc.engine, kind="forecast", product_id=1, params={"horizon": 7})
    for _ in range(int(load_settings(overrides=env).task_max_redeliveries) + 1):
        records.start_job(svc.engine, job_id=job["id"])
    from jobs.dispatch import send

    send(svc.engine, svc.celery, job)
    done = stack.poll(f"/api/v1/jobs/{job['id']}")
    assert done["status"] == "failed"
    assert done["error_code"] == "worker_lost" and "each was lost (its worker died" in done["error"]
