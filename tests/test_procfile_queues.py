"""Which worker of the Procfile takes which queue, and which of them recycles its children."""

from __future__ import annotations

import pytest

import launcher
from jobs.celery_app import BATCH_QUEUE, FORECAST_QUEUE, FORECAST_TRAINING_QUEUE, QUEUES, TASKS, TRAINING_QUEUE


def _workers() -> dict[str, str]:
    return {name: line for name, line in launcher.read_procfile().items() if " worker " in line}


def _queues(name: str) -> set[str]:
    return set(launcher.worker_queues(name).split(","))


def test_each_queue_has_one_worker_and_no_forecast_worker_queues_batches():
    assert set(_workers()) == {"forecast-worker", "forecast-training-worker", "worker"}
    assert _queues("forecast-worker") == {FORECAST_QUEUE}
    assert _queues("forecast-training-worker") == {FORECAST_TRAINING_QUEUE}
    # A batch's children are queued by the training worker, between two trainings.
    assert _queues("worker") == {TRAINING_QUEUE, BATCH_QUEUE}
    assert set(QUEUES) == {FORECAST_QUEUE, FORECAST_TRAINING_QUEUE, TRAINING_QUEUE, BATCH_QUEUE}


def test_every_kind_of_job_is_sent_to_a_queue_a_worker_consumes_and_no_batch_to_a_forecast_worker():
    consumed = {name: _queues(name) for name in _workers()}
    for kind, (_, queue) in TASKS.items():
        assert any(queue in queues for queues in consumed.values()), kind
    assert TASKS["batch"][1] not in consumed["forecast-worker"] | consumed["forecast-training-worker"]


def test_only_the_training_worker_recycles_its_children_and_yields_the_cores():
    workers = _workers()
    assert '--max-tasks-per-child "${WORKER_MAX_TASKS_PER_CHILD}"' in workers["worker"]
    assert workers["worker"].startswith('nice -n "${WORKER_NICE}" ')
    for name in ("forecast-worker", "forecast-training-worker"):
        assert "--max-tasks-per-child" not in workers[name] and "nice" not in workers[name], name


def test_the_celery_app_sets_no_task_count_for_every_worker():
    from config.settings import Settings
    from jobs.celery_app import create_celery

    app = create_celery(Settings(redis_url="redis://127.0.0.1:1/0"))
    assert app.conf.worker_max_tasks_per_child is None
    assert {queue.name for queue in app.conf.task_queues} == set(QUEUES)


@pytest.mark.parametrize("overrides, needle", [
    ({"WORKER_MAX_TASKS_PER_CHILD": 0}, "WORKER_MAX_TASKS_PER_CHILD must be at least 1"),
    ({"WORKER_NICE": 20}, "WORKER_NICE must be between -20 and 19"),
])
def test_worker_settings_celery_or_nice_would_refuse_are_refused_at_start(overrides, needle):
    from config.settings import load_settings

    with pytest.raises(ValueError, match=needle):
        load_settings(environ={}, dotenv=None, overrides=overrides)
