"""Celery tasks: thin wrappers that load inputs, call forecasting/, save."""

from __future__ import annotations

from functools import partial

from celery import current_app, shared_task

from forecasting.data import sales
from forecasting.lifecycle import custom_forecasts, steps
from forecasting.lifecycle.forecast_options import ForecastOptions
from jobs import control, leases, locks, metrics, records
from jobs.celery_app import BATCH_TASK, FORECAST_TASK, PRUNE_TASK, RECONCILE_TASK, SCAN_TASK, TRAINING_TASK
from workers import batch, reconcile
from workers.jobrun import JobRun, NotRun, job_run
from workers.runtime import Runtime, runtime


def _lock(rt: Runtime, job_id: str) -> steps.LockFactory:
    s = rt.settings
    return partial(locks.training_lock, rt.redis, owner=job_id, expire=s.training_lock_seconds,
                   wait=s.task_soft_time_limit * 0.8,
                   abandoned=lambda holder: leases.abandoned(rt.engine, job_id=holder,
                                                             stale_after=s.job_heartbeat_timeout_seconds))


def _run(rt: Runtime, job_id: str):
    return job_run(rt.engine, rt.redis, job_id, lease=rt.lease, ended=partial(_ended, rt))


def _ended(rt: Runtime, job: dict[str, Any]) -> None:
    # However a job ended (succeeded, failed, gave up, cancelled, or before this message came),
    # its product's queued mark goes and its batch counts it.
    if job["status"] not in records.TERMINAL:
        return
    if job["kind"] == "train" and job["product_id"] is not None:
        locks.clear_queued(rt.redis, job["product_id"], job["id"])
    if job["parent_id"]:
        batch.settle(rt, job["parent_id"])


@shared_task(name=FORECAST_TASK, ignore_result=True)
def forecast_product(job_id: str) -> None:
    """Forecast one product, training its models first when missing or stale."""
    rt = runtime()
    try:
        with _run(rt, job_id) as run:
            product_id, horizon = run.job["product_id"], run.job["params"]["horizon"]
            options = ForecastOptions.from_params(run.job["params"])
            if options.is_default:
                made = steps.forecast(engine=rt.engine, store=rt.store, cache=rt.cache, memo=rt.forecasts,
                                      product_id=product_id, horizon=horizon, policy=rt.policy,
                                      lock=_lock(rt, job_id), job_id=job_id, progress=run.progress)
            else:
                made = custom_forecasts.forecast(engine=rt.engine, store=rt.store, cache=rt.cache,
                                                 product_id=product_id, horizon=horizon, policy=rt.policy,
                                                 lock=_lock(rt, job_id), job_id=job_id, progress=run.progress,
                                                 options=options)
            run.finish(steps.forecast_result(product_id, horizon, made))
            metrics.forecast_served(made.source)
            if made.trained:
                metrics.training_done(made.info)
    except NotRun:
        return


@shared_task(name=TRAINING_TASK, ignore_result=True)
def train_product(job_id: str) -> None:
    """Train one product's models unless they are fresh (or `force` was asked)."""
    rt = runtime()
    try:
        with _run(rt, job_id) as run:
            _train(rt, run)
    except NotRun:
        return


def _train(rt: Runtime, run: JobRun) -> None:
    product_id, force = run.job["product_id"], bool(run.job["params"].get("force"))
    with _lock(rt, run.id)(product_id):
        history = sales.load_history(rt.engine, product_id=product_id, max_days=rt.policy.max_history_days)
        reason = "requested" if force else steps.check(store=rt.store, history=history, policy=rt.policy)
        if reason is None:
            run.finish({"product_id": product_id, "trained": False, "reason": "fresh"}, status="skipped")
            return
        info = steps.train(engine=rt.engine, store=rt.store, history=history, policy=rt.policy,
                              reason=reason, job_id=run.id, progress=run.progress)
        metrics.training_done(info)
        run.finish({"product_id": product_id, "trained": True, "reason": reason, "model": steps.model_summary(info)})


@shared_task(name=BATCH_TASK, ignore_result=True)
def dispatch_batch(job_id: str) -> None:
    """Queue the children of a bulk retrain or a bulk forecast."""
    rt = runtime()
    try:
        with _run(rt, job_id) as run:
            batch.dispatch(rt, current_app, run)
    except NotRun:
        return
    batch.settle(rt, job_id)


@shared_task(name=RECONCILE_TASK, ignore_result=True)
def reconcile_jobs() -> dict[str, int]:
    """Bring every job that lost its message, its worker or its batch to a truthful state."""
    return reconcile.reconcile(runtime(), current_app)


@shared_task(name=SCAN_TASK, ignore_result=True)
def scan_stale() -> dict[str, float]:
    """Find products whose model sets are missing or stale and queue their training."""
    from workers.scan import enqueue_stale

    return enqueue_stale(runtime(), current_app)


@shared_task(name=PRUNE_TASK, ignore_result=True)
def prune_jobs() -> int:
    """Delete jobs that ended more than JOB_RETENTION_DAYS ago."""
    rt = runtime()
    return control.prune_ended(rt.engine, older_than_days=rt.settings.job_retention_days)

