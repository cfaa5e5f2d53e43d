"""GET /health: is every part the service needs up?"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable

from flask import Blueprint

from api.auth import granted
from api.openapi import operation
from api.schemas.health import Health
from api.services import services
from forecasting.data.database import ping

bp = Blueprint("health", __name__)


@bp.get("/health")
@operation(responses={200: Health, 503: Health}, public=True)
def health():
    """Check database, broker, workers, model volume and free disk; 503 if any fails.

    Open to all, but only an admin key (or any client while keys are not required) sees
    timings, worker names, paths and errors; others see ok or not per part.
    """
    svc = services()
    store, settings = svc.store, svc.settings
    budget = settings.health_budget_ms / 1000
    probes: dict[str, Callable[[], Any]] = {
        "database": lambda: ping(svc.engine),
        "broker": lambda: _broker(svc.celery, timeout=budget),
        # A ping waits its whole timeout for every worker's reply: it must end inside the budget.
        "workers": lambda: _workers(svc.celery, timeout=max(0.1, budget - 0.3)),
        "model_volume": lambda: _writable(store),
        "disk": lambda: _disk(store, settings.min_free_disk_mb),
    }
    checks = _run_within(probes, budget)
    ok = all(c["ok"] for c in checks.values())
    if not granted("admin"):
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
    return {"status": "ok" if ok else "degraded", "checks": checks}, 200 if ok else 503


def _run_within(probes: dict[str, Callable[[], Any]], budget: float) -> dict[str, dict[str, Any]]:
    # Side by side, so the answer takes the slowest check, and at most `budget`: a check still
    # waiting then (a database or broker that accepts a connection and never answers) has failed.
    # Its thread is left to end by its own timeout; the request does not wait for it.
    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="health")
    futures = {name: pool.submit(_check, probe) for name, probe in probes.items()}
    wait(futures.values(), timeout=budget)
    pool.shutdown(wait=False, cancel_futures=True)
    return {name: future.result() if future.done() else
            {"ok": False, "error": f"no answer within {budget:.1f} s", "ms": _ms(started)}
            for name, future in futures.items()}


def _check(probe: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # a health check reports every failure instead of raising it
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "ms": _ms(started)}
    out = {"ok": True, "ms": _ms(started)}
    if isinstance(detail, dict):
        out.update(detail)
    return out


def _broker(celery, timeout: float) -> None:
    # Released at once: an AMQP connection left to the garbage collector stays open on RabbitMQ.
    with celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)


def _workers(celery, timeout: float) -> dict[str, Any]:
    replies = celery.control.ping(timeout=timeout) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError(f"no Celery worker answered within {timeout:.1f} s")
    return {"count": len(names), "names": names}


def _writable(store) -> dict[str, Any]:
    if not store.writable():
        raise RuntimeError(f"{store.root} is not writable")
    return {"path": str(store.root)}


def _disk(store, min_free_mb: int) -> dict[str, Any]:
    free_mb = store.free_bytes() // 2**20
    if free_mb < min_free_mb:
        raise RuntimeError(f"only {free_mb} MB free on the model volume (minimum {min_free_mb} MB)")
    return {"free_mb": free_mb}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
