"""GET /health: is every part the service needs up?"""

from __future__ import annotations

import time
from typing import Any, Callable

from flask import Blueprint

from api.auth import granted
from api.services import services
from forecasting.data.database import ping

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    """Check database, broker, workers, model volume and free disk; 503 if any fails.

    Open to all, but only an admin key (or any client while keys are not required) sees
    timings, worker names, paths and errors; others see ok or not per part.
    """
    svc = services()
    store, settings = svc.store, svc.settings
    checks = {
        "database": _check(lambda: ping(svc.engine)),
        "broker": _check(lambda: _broker(svc.celery)),
        "workers": _check(lambda: _workers(svc.celery)),
        "model_volume": _check(lambda: _writable(store)),
        "disk": _check(lambda: _disk(store, settings.min_free_disk_mb)),
    }
    ok = all(c["ok"] for c in checks.values())
    if not granted("admin"):
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
    return {"status": "ok" if ok else "degraded", "checks": checks}, 200 if ok else 503


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


def _broker(celery) -> None:
    # Released at once: an AMQP connection left to the garbage collector stays open on RabbitMQ.
    with celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _workers(celery) -> dict[str, Any]:
    replies = celery.control.ping(timeout=1.0) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError("no Celery worker answered within 1 s")
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
