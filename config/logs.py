"""Structured, quiet logging for every process of the service."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

NOISY = ("cmdstanpy", "prophet", "h5py", "matplotlib", "kombu", "amqp", "alembic")


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send JSON lines to stderr at `level`; keep third-party chatter at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("cmdstanpy").disabled = True
    # Prophet warns about every short history and logs a missing optional plotting library as an error.
    logging.getLogger("prophet").setLevel(logging.ERROR)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)


def log_fields(**fields: object) -> dict[str, dict[str, object]]:
    """Return `extra=` for a log call carrying structured fields."""
    return {"fields": fields}
