"""Tell whoever waits on a job that it ended: one Redis pub/sub message per ended job.

The worker announces after the job's end is committed to the database, so a waiter
woken by the message reads the final record. A waiter subscribes before it first
reads the job, so an end between the read and the wait is not missed. Redis being
unreachable never fails a job: the announcement is skipped (waiters fall back to
their time limit), and a waiter that cannot subscribe returns at once.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis
from redis.client import PubSub

log = logging.getLogger(__name__)

Wait = Callable[[float], bool]
SUBSCRIBE_TIMEOUT = 2.0  # seconds


def channel(job_id: str) -> str:
    """Return the pub/sub channel on which the end of `job_id` is announced."""
    return f"forecasting:job-ended:{job_id}"


def announce(client: redis.Redis, job_id: str) -> None:
    """Announce that the job ended (its record is already committed)."""
    try:
        client.publish(channel(job_id), "ended")
    except redis.RedisError as exc:
        log.warning("job end not announced", extra={"fields": {"job_id": job_id, "error": str(exc)}})


class Listener:
    """Waits on job ends over one Redis client, reusing its subscriptions' connections.

    A subscription's connection is kept open after its wait and handed to the next
    one (closing it would cost a new connection for every waiting request), and a
    wait only counts messages on its own channel.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._idle: queue.SimpleQueue[PubSub] = queue.SimpleQueue()

    @contextmanager
    def listening(self, job_id: str) -> Iterator[Wait]:
        """Subscribe to the job's end; yield ``wait(seconds) -> bool`` (True once it was announced)."""
        name = channel(job_id)
        try:
            pubsub = self._idle.get_nowait()
        except queue.Empty:
            pubsub = self.client.pubsub()
        try:
            pubsub.subscribe(name)
            _confirmed(pubsub, name)
        except redis.RedisError as exc:
            log.warning("cannot wait for job", extra={"fields": {"job_id": job_id, "error": str(exc)}})
            pubsub.close()
            yield lambda seconds: False
            return

        def wait(seconds: float) -> bool:
            deadline = time.monotonic() + seconds
            try:
                while (left := deadline - time.monotonic()) > 0:
                    message = pubsub.get_message(timeout=left)
                    if message and message["type"] == "message" and _text(message["channel"]) == name:
                        return True
            except redis.RedisError as exc:
                log.warning("stopped waiting for job", extra={"fields": {"job_id": job_id, "error": str(exc)}})
            return False

        try:
            yield wait
        finally:
            try:
                pubsub.unsubscribe(name)
                self._idle.put(pubsub)
            except redis.RedisError:
                pubsub.close()


def _confirmed(pubsub: PubSub, name: str) -> None:
    # Redis has registered the subscription once it confirms it: an end announced after
    # this point reaches the waiter.
    deadline = time.monotonic() + SUBSCRIBE_TIMEOUT
    while (left := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=left)
        if message and message["type"] == "subscribe" and _text(message["channel"]) == name:
            return
    raise redis.TimeoutError(f"Redis did not confirm the subscription to {name}.")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
