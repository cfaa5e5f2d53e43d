"""Job-end announcements over a real Redis: a waiter wakes for its own job only."""

import uuid

import redis

from jobs import events as job_events


def test_a_waiter_wakes_for_its_job_and_not_for_another(redis_url):
    client = redis.Redis.from_url(redis_url)
    listener = job_events.Listener(client)
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    with listener.listening(mine) as wait:
        job_events.announce(client, other)
        assert wait(0.3) is False
        job_events.announce(client, mine)
        assert wait(5) is True
    # The connection is reused for the next waiter, which does not see the first job's messages.
    with listener.listening(other) as wait:
        job_events.announce(client, mine)
        assert wait(0.3) is False
        job_events.announce(client, other)
        assert wait(5) is True


def test_without_redis_a_waiter_returns_at_once_and_an_announcement_is_skipped():
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    job_events.announce(client, "job")  # logged, not raised: the job's end is already recorded
    with job_events.Listener(client).listening("job") as wait:
        assert wait(5) is False
