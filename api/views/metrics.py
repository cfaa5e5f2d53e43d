"""GET /metrics: the service's Prometheus metrics, and the count of every API request."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from flask import Blueprint, Flask, Response, request

from api.services import Services, services
from forecasting.lifecycle.set_states import count_states
from forecasting.lifecycle.steps import Policy
from jobs import metrics
from jobs.celery_app import QUEUES

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    """Return every process's samples added up, with queue depths and model set states read now."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(services().settings.prometheus_multiproc_dir))
    registry.register(LiveCollector(services()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class LiveCollector:
    """Gauges read at scrape time: messages waiting per queue, model sets per state."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[object]:
        """Yield the queue depth and model set gauges (a part that cannot be read is left out)."""
        from prometheus_client.core import GaugeMetricFamily

        depths = self._queue_depths()
        if depths is not None:
            family = GaugeMetricFamily("forecasting_queue_depth", "Messages waiting in each queue of the broker.",
                                       labels=["queue"])
            for queue, depth in depths.items():
                family.add_metric([queue], depth)
            yield family
        states = count_states(engine=self.svc.engine, store=self.svc.store,
                              policy=Policy.from_settings(self.svc.settings))
        family = GaugeMetricFamily("forecasting_model_sets", "Products by the state of their model set.",
                                   labels=["state"])
        for state, count in states.items():
            family.add_metric([state], count)
        yield family

    def _queue_depths(self) -> dict[str, int] | None:
        # With Redis as broker a queue is a list named after it; another broker is not read here.
        url = self.svc.settings.broker_url
        if not url.startswith(("redis://", "rediss://", "unix://")):
            return None
        own = url != self.svc.settings.lock_url
        client = redis.Redis.from_url(url, socket_timeout=2) if own else self.svc.redis
        try:
            with client.pipeline(transaction=False) as pipe:
                for queue in QUEUES:
                    pipe.llen(queue)
                lengths = pipe.execute()
        except redis.RedisError as exc:
            log.warning("queue depth not read", extra={"fields": {"error": str(exc)}})
            return None
        finally:
            if own:
                client.close()
        return dict(zip(QUEUES, map(int, lengths)))


def init_app(app: Flask) -> None:
    """Serve /metrics and count each request by its route template (not its raw path)."""
    metrics.configure(app.config["PROMETHEUS_MULTIPROC_DIR"])
    app.register_blueprint(bp)

    @app.after_request
    def _count(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        metrics.request_done(route, request.method, response.status_code)
        return response
