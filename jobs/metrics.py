"""Prometheus metrics of the service, added up over every process of a stack.

The API's gunicorn workers and the Celery children each write their samples to files
in one directory (prometheus_client's multiprocess mode); ``/metrics`` reads them all.
A process that never calls :func:`configure` (a unit test, a one-off command) records
nothing.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# Seconds, from a saved forecast read (milliseconds) to a full training (minutes).
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800)
TRAINING_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)


@dataclass(frozen=True)
class Metrics:
    """The metrics one process records, written under one directory."""

    directory: Path
    jobs: Any
    job_seconds: Any
    training_seconds: Any
    forecasts: Any
    sales_rows: Any
    requests: Any

    @classmethod
    def create(cls, directory: Path) -> "Metrics":
        """Define every metric; none is registered globally (the files are what /metrics reads)."""
        from prometheus_client import Counter, Histogram

        return cls(
            directory=directory,
            jobs=Counter("forecasting_jobs", "Jobs that ended, by kind and final status.",
                         ["kind", "status"], registry=None),
            job_seconds=Histogram("forecasting_job_duration_seconds", "Seconds from a job's start to its end.",
                                  ["kind", "status"], buckets=DURATION_BUCKETS, registry=None),
            training_seconds=Histogram("forecasting_training_seconds",
                                       "Training seconds of each member of a new model set (model_info.json).",
                                       ["member"], buckets=TRAINING_BUCKETS, registry=None),
            forecasts=Counter("forecasting_forecasts_served",
                              "Forecasts a worker served: 'saved' (kept since training) or 'computed'.",
                              ["source"], registry=None),
            sales_rows=Counter("forecasting_sales_rows_ingested", "Sales rows written, by 'api' or 'csv' import.",
                               ["source"], registry=None),
            requests=Counter("forecasting_http_requests", "API requests by route template, method and status.",
                             ["route", "method", "status"], registry=None),
        )


_lock = threading.Lock()
_current: Metrics | None = None


def configure(directory: Path) -> Metrics:
    """Record this process's metrics under `directory` (created when missing)."""
    global _current
    directory = Path(directory).resolve()
    with _lock:
        if _current is not None and _current.directory == directory:
            return _current
        directory.mkdir(parents=True, exist_ok=True)
        # prometheus_client takes its multiprocess directory from the environment only,
        # read when a value is created; so it is set before any metric exists.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
        from prometheus_client import values

        # A value class of its own per directory: it chooses multiprocess mode from the
        # variable just set, whether or not prometheus_client was imported before.
        values.ValueClass = values.MultiProcessValue()
        _current = Metrics.create(directory)
        return _current


def current() -> Metrics | None:
    """Return the metrics this process records, or None when it records none."""
    return _current


def reset(directory: Path) -> None:
    """Remove the samples of an earlier stack, so that a new one counts from zero."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        path.unlink(missing_ok=True)


def job_ended(job: dict[str, Any]) -> None:
    """Count a job that just ended and observe how long it ran."""
    metrics = _current
    if metrics is None:
        return
    kind, status = str(job.get("kind")), str(job.get("status"))
    metrics.jobs.labels(kind, status).inc()
    seconds = _seconds(job.get("started_at"), job.get("finished_at"))
    if seconds is not None:
        metrics.job_seconds.labels(kind, status).observe(seconds)


def training_done(info: dict[str, Any]) -> None:
    """Observe each member's training seconds of a model set just trained."""
    metrics = _current
    timings = info.get("training_seconds") if isinstance(info, dict) else None
    if metrics is None or not isinstance(timings, dict):
        return
    # model_info.json also times the whole set ("total"); only the members are observed.
    members = info.get("members") or [name for name in timings if name != "total"]
    for member, seconds in timings.items():
        if member in members and isinstance(seconds, (int, float)):
            metrics.training_seconds.labels(str(member)).observe(float(seconds))


def forecast_served(source: str) -> None:
    """Count a forecast served from a kept forecast ('saved') or from the models ('computed')."""
    if _current is not None:
        _current.forecasts.labels(source).inc()


def sales_ingested(source: str, rows: int) -> None:
    """Count sales rows written by the API ('api') or a CSV import ('csv')."""
    if _current is not None and rows > 0:
        _current.sales_rows.labels(source).inc(rows)


def request_done(route: str, method: str, status: int) -> None:
    """Count one API request by its route template."""
    if _current is not None:
        _current.requests.labels(route, method, str(status)).inc()


def _seconds(start: Any, end: Any) -> float | None:
    # Jobs carry ISO timestamps; a job that never started (refused at dispatch) has no duration.
    if not start or not end:
        return None
    try:
        return max(0.0, (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds())
    except ValueError:
        return None
