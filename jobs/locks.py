"""Redis locks and marks that keep a product from being trained or queued twice."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

LOCK_KEY = "forecasting:lock:train:{product_id}"
QUEUED_KEY = "forecasting:queued:train:{product_id}"

log = logging.getLogger(__name__)
# A claim lasts this long until set_queued names its job: a process that dies in between
# holds the product's mark for seconds, not for TRAINING_LOCK_SECONDS.
CLAIM_SECONDS = 30


class LockTimeout(RuntimeError):
    """The product's training lock could not be had in time."""


# Delete the key only if it still holds our token: never release a lock another worker took over.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


# Take the lock from `holder` only if it still holds it.
_TAKE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) " \
        "else return false end"


@contextmanager
def training_lock(client: redis.Redis, product_id: int, *, owner: str, expire: int, wait: float,
                  abandoned: Callable[[str], bool] | None = None) -> Iterator[None]:
    """Hold the product's training lock as `owner` (a job id); it expires if the holder dies.

    A redelivered job finds the lock under its own id when its previous attempt's worker was
    killed; it takes the lock over instead of waiting for the expiry. A lock held by another
    job that `abandoned(job_id)` says no attempt runs (its worker died, it was queued again)
    is taken over too, instead of being waited for until it expires.
    """
    key = LOCK_KEY.format(product_id=product_id)
    deadline = time.monotonic() + wait
    while not client.set(key, owner, nx=True, ex=expire):
        holder = client.get(key)
        if holder == owner.encode():
            client.expire(key, expire)
            break
        if holder and abandoned is not None and abandoned(holder.decode()) \
                and client.eval(_TAKE, 1, key, holder, owner, expire):
            log.warning("abandoned training lock taken over", extra={"fields": {
                "product_id": product_id, "from_job": holder.decode(), "job_id": owner}})
            break
        if time.monotonic() >= deadline:
            raise LockTimeout(f"Product {product_id} is being trained by another worker; gave up after {wait:.0f} s.")
        time.sleep(0.2)
    try:
        yield
    finally:
        try:
            client.eval(_RELEASE, 1, key, owner)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # Redis is away: the lock expires by itself, and a redelivery of this job takes it back.
            log.warning("training lock not released", extra={"fields": {"product_id": product_id, "error": str(exc)}})


def lock_owner(client: redis.Redis, product_id: int) -> str | None:
    """Return the job id holding the product's training lock, if any."""
    value = client.get(LOCK_KEY.format(product_id=product_id))
    return value.decode() if value is not None else None


def claim_queued(client: redis.Redis, product_id: int, *, expire: int) -> bool:
    """Claim the right to queue the product's training; False when one is queued already."""
    return bool(client.set(QUEUED_KEY.format(product_id=product_id), "", nx=True, ex=min(expire, CLAIM_SECONDS)))


def set_queued(client: redis.Redis, product_id: int, job_id: str, *, expire: int) -> None:
    """Record which job holds the product's queued mark."""
    client.set(QUEUED_KEY.format(product_id=product_id), job_id, ex=expire)


def queued_job(client: redis.Redis, product_id: int) -> str | None:
    """Return the id of the product's queued training job, if one is marked."""
    value = client.get(QUEUED_KEY.format(product_id=product_id))
    return value.decode() or None if value is not None else None


def queued_marks(client: redis.Redis) -> dict[int, str]:
    """Return every product's queued mark: product id -> job id ("" while a claim names no job yet)."""
    keys = list(client.scan_iter(match=QUEUED_KEY.format(product_id="*"), count=1000))
    values = client.mget(keys) if keys else []
    return {int(key.decode().rsplit(":", 1)[1]): value.decode() for key, value in zip(keys, values)
            if value is not None}


def clear_queued(client: redis.Redis, product_id: int, job_id: str | None = None) -> None:
    """Drop the product's queued mark (only if it still names `job_id`, when given)."""
    key = QUEUED_KEY.format(product_id=product_id)
    if job_id is None or queued_job(client, product_id) == job_id:
        client.delete(key)
