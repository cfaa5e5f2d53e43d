"""CPU seconds of this process and the children it waited for: one core's time, whatever else runs."""

from __future__ import annotations

import os


def cpu_seconds() -> float:
    """Return user + system CPU seconds of this process and its finished children (Prophet's Stan runs as one)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
