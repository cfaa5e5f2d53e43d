"""The periodic scan: find missing or stale model sets and queue their training."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from celery import current_app

from forecasting import sales
from forecasting.errors import ModelIntegrityError
from forecasting.staleness import library_versions, stale_reason
from workers.dispatch import queue_training
from workers.runtime import Runtime

log = logging.getLogger(__name__)


def enqueue_stale(rt: Runtime) -> dict[str, int]:
    """Queue one training per stale product with enough history; return counts."""
    started = time.perf_counter()
    now, versions = datetime.now(timezone.utc), library_versions()
    counts = {"products": 0, "too_short": 0, "fresh": 0, "queued": 0, "already_queued": 0}
    for product_id, summary in sales.all_fingerprints(rt.engine).items():
        counts["products"] += 1
        if summary.rows < rt.policy.min_samples:
            counts["too_short"] += 1
            continue
        try:
            info = rt.store.read_info(product_id)
            reason = stale_reason(info, fingerprint=summary.fingerprint, versions=versions, now=now,
                                  max_age=rt.policy.max_age)
        except ModelIntegrityError:
            reason = "corrupt"
        if reason is None:
            counts["fresh"] += 1
            continue
        _, created = queue_training(rt.engine, current_app, rt.redis, product_id=product_id,
                                    params={"reason": reason, "force": False, "source": "scan"},
                                    expire=rt.settings.training_lock_seconds)
        counts["queued" if created else "already_queued"] += 1
    counts["seconds"] = round(time.perf_counter() - started, 3)
    log.info("stale scan", extra={"fields": counts})
    return counts
