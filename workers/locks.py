"""Redis locks and marks that keep a product from being trained or queued twice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

LOCK_KEY = "forecasting:lock:train:{product_id}"
QUEUED_KEY = "forecasting:queued:train:{product_id}"


class LockTimeout(RuntimeError):
    """The product's training lock could not be had in time."""


@contextmanager
def training_lock(client: redis.Redis, product_id: int, *, expire: int, wait: float) -> Iterator[None]:
    """Hold the product's training lock; it expires by itself if the holder dies."""
    lock = client.lock(LOCK_KEY.format(product_id=product_id), timeout=expire, blocking_timeout=wait)
    if not lock.acquire():
        raise LockTimeout(f"Product {product_id} is being trained by another worker; gave up after {wait:.0f} s.")
    try:
        yield
    finally:
        lock.release()


def claim_queued(client: redis.Redis, product_id: int, *, expire: int) -> bool:
    """Claim the right to queue the product's training; False when one is queued already."""
    return bool(client.set(QUEUED_KEY.format(product_id=product_id), "", nx=True, ex=expire))


def set_queued(client: redis.Redis, product_id: int, job_id: str, *, expire: int) -> None:
    """Record which job holds the product's queued mark."""
    client.set(QUEUED_KEY.format(product_id=product_id), job_id, ex=expire)


def queued_job(client: redis.Redis, product_id: int) -> str | None:
    """Return the id of the product's queued training job, if one is marked."""
    value = client.get(QUEUED_KEY.format(product_id=product_id))
    return value.decode() or None if value is not None else None


def clear_queued(client: redis.Redis, product_id: int, job_id: str | None = None) -> None:
    """Drop the product's queued mark (only if it still names `job_id`, when given)."""
    key = QUEUED_KEY.format(product_id=product_id)
    if job_id is None or queued_job(client, product_id) == job_id:
        client.delete(key)
