"""Bulk jobs: one batch job whose children are ordinary training jobs (a bulk retrain)
or ordinary forecast jobs (a bulk forecast, ``params["action"] == "forecast"``).

The batch holds no chord and no list in memory: its counts are read from the
children's rows in the database, so they survive any worker restart.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from forecasting.data.products import list_products
from forecasting.errors import ProductNotFound
from forecasting.lifecycle import steps
from forecasting.lifecycle.stale_scan import stale_products
from forecasting.store.s3_objects import StoreUnavailable
from jobs import control, records
from jobs.celery_app import FORECAST_QUEUE, FORECAST_TRAINING_QUEUE
from jobs.dispatch import queue_training, submit
from workers.jobrun import JobRun, end_job
from workers.runtime import Runtime

log = logging.getLogger(__name__)

PROGRESS_EVERY = 50
#: The stage a batch shows while its children run, and the verb of its failure message, by action.
STAGES = {"train": ("training", "train"), "forecast": ("forecasting", "forecast")}


def action(params: dict[str, Any]) -> str:
    """Return what the batch's children do: 'train' or 'forecast' (a batch recorded without one trains)."""
    return params.get("action", "train")


def select_products(rt: Runtime, params: dict[str, Any]) -> list[tuple[int, str]]:
    """Return (product_id, reason) for every product the batch covers."""
    if params["selection"] == "stale":
        return stale_products(engine=rt.engine, store=rt.store, policy=rt.policy)[0]
    if params["selection"] == "all":
        ids = [p["id"] for p in list_products(rt.engine, limit=10**9, offset=0)]
    else:
        ids = list(params["product_ids"])
    return [(pid, "requested") for pid in ids]


def dispatch(rt: Runtime, celery: Celery, run: JobRun) -> None:
    """Queue one child job per product of the batch (again safe after a redelivery).

    Runs under the batch's lease (heartbeats while it queues); then the batch stays running,
    held by no process, until :func:`settle` ends it.
    """
    batch, batch_id = run.job, run.id
    run.detach()
    items = select_products(rt, batch["params"])
    records.set_result(rt.engine, job_id=batch_id, result={"total": len(items), "dispatched": False})
    done = records.child_product_ids(rt.engine, parent_id=batch_id)  # from an attempt that was cut short
    params, kind = batch["params"], action(batch["params"])
    for n, (product_id, reason) in enumerate(items, 1):
        if control.is_ended(rt.engine, job_id=batch_id):
            log.info("batch cancelled while queueing", extra={"fields": {"job_id": batch_id, "queued": n - 1}})
            return
        if product_id not in done:
            if kind == "forecast":
                submit(rt.engine, celery, kind="forecast", product_id=product_id, parent_id=batch_id,
                       params={"horizon": params["horizon"]}, queue=forecast_queue(rt, product_id),
                       keep_unsent=True)
            else:
                _queue_child(rt, celery, batch_id, product_id,
                             {"reason": reason, "force": bool(params.get("force")), "source": "batch"})
        if n % PROGRESS_EVERY == 0:
            run.progress("queueing", int(50 * n / len(items)))
    records.set_result(rt.engine, job_id=batch_id, result={"total": len(items), "dispatched": True})
    run.progress(STAGES[kind][0], 50)
    log.info("batch queued", extra={"fields": {"job_id": batch_id, "total": len(items)}})


def forecast_queue(rt: Runtime, product_id: int) -> str:
    """Return the queue of the product's forecast: `forecast` while its set is fresh, else `forecast-training`."""
    # The API's rule for a single forecast, by the same look at the set: a child that must train
    # first would otherwise hold the forecast worker for a training.
    try:
        fresh = steps.kept_forecast(engine=rt.engine, store=rt.store, memo=rt.forecasts, product_id=product_id,
                                    horizon=1, policy=rt.policy, read_forecast=False).fresh
    except ProductNotFound:
        fresh = False  # deleted since it was selected: its job fails saying so, out of the fresh sets' way
    except StoreUnavailable:
        fresh = True  # as the API does: queued as ever, and its worker sees to it
    return FORECAST_QUEUE if fresh else FORECAST_TRAINING_QUEUE


def _queue_child(rt: Runtime, celery: Celery, batch_id: str, product_id: int, params: dict[str, Any]) -> None:
    job, created = queue_training(rt.engine, celery, rt.redis, product_id=product_id, params=params,
                                  expire=rt.settings.training_lock_seconds, keep_unsent=True, parent_id=batch_id)
    if not created:
        # Another job trains this product already: the batch counts it, nothing runs twice.
        child = records.create_job(rt.engine, kind="train", product_id=product_id, parent_id=batch_id, params=params)
        records.finish_job(rt.engine, job_id=child["id"], status="skipped",
                        result={"product_id": product_id, "trained": False, "reason": "already_queued",
                                "queued_job_id": job["id"] if job else None})


def settle(rt: Runtime, batch_id: str) -> None:
    """End the batch once every child has ended; failed if any child failed.

    The one place a batch ends: called when a child ends (however it ended), after the
    batch queued its children, and by the reconciler for every open batch. Any kind of
    child (training, forecast) counts the same.
    """
    batch = records.get_job(rt.engine, job_id=batch_id)
    if batch["status"] in records.TERMINAL or not (batch["result"] or {}).get("dispatched") or batch["owner"]:
        return  # ended, or still queueing its children (their last settle comes after)
    tally = records.batch_counts(rt.engine, batch)
    stage, verb = STAGES[action(batch["params"])]
    if tally["queued"] or tally["running"]:
        finished = tally["succeeded"] + tally["failed"] + tally["skipped"] + tally["cancelled"]
        records.set_progress(rt.engine, job_id=batch_id, stage=stage,
                          progress=50 + int(50 * finished / max(1, tally["total"])))
        return
    result = {**tally, "dispatched": True}
    if tally["failed"]:
        end_job(rt.engine, rt.redis, batch_id, status="failed", result=result,
                error=records.coded_error("batch_failed", f"{tally['failed']} of {tally['total']} products failed to {verb}."))
    else:
        end_job(rt.engine, rt.redis, batch_id, status="succeeded", result=result)
