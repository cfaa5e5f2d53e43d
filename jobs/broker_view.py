"""Which job messages the broker holds: waiting in a queue, or delivered and not yet acknowledged.

Only a Redis broker can be read without taking messages: kombu keeps each queue as a list
(one more per priority step) and every delivered, unacknowledged message in the hash
`unacked`, until it is acknowledged. RabbitMQ's queues cannot be read so; there its
messages are durable and confirmed (jobs.celery_app), and this answers None.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from celery import Celery

from config.settings import is_redis_url
from jobs.celery_app import QUEUES

# kombu's Redis transport: the hash of delivered messages, and the separator of priority queues.
UNACKED = "unacked"
PRIORITY_SEP = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)


def _queue_keys(name: str) -> list[str]:
    return [name if step == 0 else f"{name}{PRIORITY_SEP}{step}" for step in PRIORITY_STEPS]


def _task_id(payload: bytes | str) -> str | None:
    try:
        message: Any = json.loads(payload)
    except ValueError:
        return None
    if isinstance(message, list):  # an unacked entry: [message, exchange, routing key]
        message = message[0] if message else {}
    headers = message.get("headers") if isinstance(message, dict) else None
    return headers.get("id") if isinstance(headers, dict) else None


def held_task_ids(celery: Celery) -> set[str] | None:
    """Return the task ids of every message the broker holds, or None when the broker cannot be read so."""
    url = celery.conf.broker_url
    if not is_redis_url(url):
        return None
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
    try:
        ids: set[str] = set()
        for queue in QUEUES:
            for key in _queue_keys(queue):
                ids.update(filter(None, map(_task_id, client.lrange(key, 0, -1))))
        ids.update(filter(None, map(_task_id, client.hvals(UNACKED))))
        return ids
    finally:
        client.close()
