"""The periodic scan: find missing or stale model sets and queue their training."""

from __future__ import annotations

import logging
import time

from celery import Celery

from forecasting.lifecycle.stale_scan import stale_products
from jobs.dispatch import queue_training
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def enqueue_stale(rt: Runtime, celery: Celery) -> dict[str, float]:
    """Queue one training per stale product with enough history; return counts."""
    started = time.perf_counter()
    stale, counts = stale_products(engine=rt.engine, store=rt.store, policy=rt.policy)
    scanned = time.perf_counter() - started
    out: dict[str, float] = {**counts, "queued": 0, "already_queued": 0}
    for product_id, reason in stale:
        _, created = queue_training(rt.engine, celery, rt.redis, product_id=product_id,
                                    params={"reason": reason, "force": False, "source": "scan"},
                                    expire=rt.settings.training_lock_seconds, keep_unsent=True)
        out["queued" if created else "already_queued"] += 1
    out.update(scan_seconds=round(scanned, 3), seconds=round(time.perf_counter() - started, 3))
    log.info("stale scan", extra={"fields": out})
    return out
