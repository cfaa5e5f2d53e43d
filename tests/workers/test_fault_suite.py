"""Faults with real processes: every accepted job ends truthfully, once; the old set serves; outages are 503s.

Each test runs a stack of its own (tests.fault_stack): Redis with its append-only file,
SQLite or its own PostgreSQL, a training worker, a forecast worker and beat running the
reconciler every 2 s, then kills, stops, fills or freezes one part.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest

from forecasting.models.model_set import ModelSet
from jobs import records
from tests import services
from tests.fault_stack import Stack, Unavailable, fault_stack, probe

pytestmark = pytest.mark.integration

#: After the failed part is back (or a new worker started), every job ends within this many seconds.
RECOVERY_SECONDS = 120


def _retrain(stack: Stack, product_id: int) -> str:
    response = stack.client.post(f"/api/v1/models/{product_id}/retrain")
    assert response.status_code == 202, response.json
    return response.json["job_id"]


def _forecast(stack: Stack, product_id: int, horizon: int = 14) -> str:
    response = stack.client.post("/api/v1/forecast", json={"product_id": product_id, "forecast_horizon": horizon})
    assert response.status_code == 202, response.json
    return response.json["job_id"]


def _trained_at(stack: Stack, product_id: int) -> str:
    _, info = stack.store.load(product_id, ModelSet.load)
    return info["trained_at"]


def _first_set(stack: Stack, product_id: int = 1) -> str:
    """Train the product's first set through the stack; return its trained_at (the set that must keep serving)."""
    job = stack.wait_ended([_retrain(stack, product_id)], timeout=300)
    assert next(iter(job.values()))["status"] == "succeeded", job
    return _trained_at(stack, product_id)


def _assert_truthful(stack: Stack, accepted: list[str], *, allowed_failures: frozenset[str] = frozenset()) -> dict:
    """Every accepted job ended, once; a failure only with a reason that says what happened."""
    ended = stack.wait_ended(accepted, timeout=RECOVERY_SECONDS)
    stuck = {job_id: job["status"] for job_id, job in ended.items() if job["status"] not in records.TERMINAL}
    assert not stuck, f"jobs not ended {RECOVERY_SECONDS} s after recovery: {stuck}"
    for job in ended.values():
        if job["status"] == "failed":
            code = records.split_error(job["error"])[0]
            assert code in allowed_failures, job
    twice = {job_id: n for job_id, n in stack.succeeded_runs().items() if n > 1}
    assert not twice, f"trainings run to the end twice: {twice}"
    # No training run is left 'running' once its jobs ended (the reconciler closes a lost one).
    assert services_retry(lambda: stack.open_runs() == 0), "a training run was left running"
    return ended


def services_retry(check, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def _no_500(seen: list[tuple[str, int, str]]) -> None:
    assert all(status < 500 or status == 503 for _, status, _ in seen), seen


def test_a_training_child_killed_mid_fit_is_run_again_and_the_old_set_serves_meanwhile():
    with fault_stack() as stack:
        old = _first_set(stack)
        job_id = _retrain(stack, 1)
        stack.wait_running(job_id, percent=10)
        stack.kill_child("training")
        assert _trained_at(stack, 1) == old  # the previous set is complete and loads
        ended = _assert_truthful(stack, [job_id])
        assert ended[job_id]["status"] == "succeeded" and ended[job_id]["attempts"] == 2
        assert _trained_at(stack, 1) != old
        statuses = sorted(run["status"] for run in stack.client.get("/api/v1/models/1/history").json["runs"])
        assert statuses == ["interrupted", "succeeded", "succeeded"]


def test_a_whole_training_worker_killed_is_recovered_by_a_new_worker():
    with fault_stack() as stack:
        old = _first_set(stack)
        running, waiting = _retrain(stack, 1), _retrain(stack, 2)
        stack.wait_running(running, percent=10)
        stack.kill_worker("training")
        seen = probe(stack, [("get", "/api/v1/health", None), ("get", f"/api/v1/jobs/{running}", None)])
        assert _trained_at(stack, 1) == old
        stack.start_worker("training")
        ended = _assert_truthful(stack, [running, waiting])
        assert {job["status"] for job in ended.values()} == {"succeeded"}
        assert ended[running]["attempts"] == 2 and ended[waiting]["attempts"] == 1
        _no_500(seen)


def test_the_forecast_worker_killed_during_a_first_forecast_is_recovered_and_an_unpublished_job_published():
    with fault_stack() as stack:
        job_id = _forecast(stack, 2)  # product 2 has no set: its first forecast trains
        stack.wait_running(job_id, percent=10)
        stack.kill_worker("forecast")
        seen = probe(stack, [("get", "/api/v1/health", None)])
        accepted_while_down = _forecast(stack, 2)  # kept in the queue until a forecast worker runs again
        # As if the API died between recording a job and publishing it: the reconciler publishes it.
        never_published = records.create_job(stack.engine, kind="forecast", product_id=2, params={"horizon": 7})["id"]
        stack.start_worker("forecast")
        ended = _assert_truthful(stack, [job_id, accepted_while_down, never_published])
        assert {job["status"] for job in ended.values()} == {"succeeded"}
        assert ended[job_id]["result"]["points"] and ended[job_id]["attempts"] == 2
        _no_500(seen)


def test_redis_killed_and_restarted_with_its_data_loses_no_job():
    with fault_stack() as stack:
        old = _first_set(stack)
        running, waiting = _retrain(stack, 1), _retrain(stack, 2)
        stack.wait_running(running, percent=10)
        stack.redis.kill()
        seen = probe(stack, [("post", "/api/v1/forecast", {"product_id": 1}), ("post", "/api/v1/models/2/retrain", None),
                             ("get", f"/api/v1/jobs/{running}", None)])
        # A complete set serves: the previous one, or the new one if the training (which needs no Redis) ended.
        assert _trained_at(stack, 1) >= old
        time.sleep(3)
        stack.redis.start()
        ended = _assert_truthful(stack, [running, waiting])
        assert {job["status"] for job in ended.values()} == {"succeeded"}
        _no_500(seen)
        assert [status for _, status, _ in seen[:2]] == [503, 503]
        assert seen[2][1] == 200  # the job record lives in the database, not in Redis
        # The product's queued mark went with its job: a new retrain is a new job.
        again = stack.client.post("/api/v1/models/2/retrain")
        assert again.status_code == 202 and again.json["created"] is True


def _open(exits: ExitStack, skip: bool = False, **options) -> Stack:
    """Enter a fault stack; a part this machine cannot provide skips the test (a tmpfs) or fails it under CI."""
    try:
        return exits.enter_context(fault_stack(**options))
    except Unavailable as exc:
        if skip:
            pytest.skip(f"{exc}; this fault needs a small tmpfs")
        services.require(False, str(exc))
        raise


def test_postgresql_stopped_and_started_loses_no_job():
    with ExitStack() as exits:
        stack = _open(exits, postgres=True)
        old = _first_set(stack)
        running, waiting = _retrain(stack, 1), _retrain(stack, 2)
        stack.wait_running(running, percent=10)
        stack.postgres.stop("immediate")
        seen = probe(stack, [("get", "/api/v1/products/1", None), ("post", "/api/v1/forecast", {"product_id": 1}),
                             ("get", f"/api/v1/jobs/{running}", None)])
        assert _trained_at(stack, 1) >= old  # a complete set serves (the new one if it was saved already)
        time.sleep(8)
        stack.postgres.start()
        ended = _assert_truthful(stack, [running, waiting])
        assert {job["status"] for job in ended.values()} == {"succeeded"}
        _no_500(seen)
        assert [status for _, status, _ in seen] == [503, 503, 503]


def test_a_full_model_volume_fails_the_training_saying_so_and_the_old_set_serves():
    with ExitStack() as exits:
        stack = _open(exits, skip=True, volume_mb=48)
        old = _first_set(stack)
        stack.volume.fill()
        job_id = _retrain(stack, 1)
        seen = probe(stack, [("get", "/api/v1/health", None), ("delete", "/api/v1/models/2", None)])
        ended = _assert_truthful(stack, [job_id], allowed_failures=frozenset({"storage_full"}))
        assert ended[job_id]["status"] == "failed" and "No space left" in ended[job_id]["error"]
        assert _trained_at(stack, 1) == old
        served = stack.wait_ended([_forecast(stack, 1)], timeout=RECOVERY_SECONDS)
        assert next(iter(served.values()))["result"]["model"]["trained_at"] == old
        _no_500(seen)
        assert seen[0][1] == 503
        stack.volume.empty()
        assert stack.wait_ended([_retrain(stack, 1)], timeout=300).popitem()[1]["status"] == "succeeded"


def test_a_read_only_model_volume_fails_the_training_saying_so_and_the_old_set_serves():
    with ExitStack() as exits:
        stack = _open(exits, skip=True, volume_mb=48)
        old = _first_set(stack)
        stack.volume.remount("ro")
        job_id = _retrain(stack, 1)
        seen = probe(stack, [("get", "/api/v1/health", None), ("delete", "/api/v1/models/1", None)])
        ended = _assert_truthful(stack, [job_id], allowed_failures=frozenset({"storage_read_only"}))
        assert ended[job_id]["status"] == "failed" and "read-only" in ended[job_id]["error"]
        assert _trained_at(stack, 1) == old
        served = stack.wait_ended([_forecast(stack, 1)], timeout=RECOVERY_SECONDS)
        assert next(iter(served.values()))["result"]["model"]["trained_at"] == old
        _no_500(seen)
        assert [status for _, status, _ in seen] == [503, 503]
        stack.volume.remount("rw")
