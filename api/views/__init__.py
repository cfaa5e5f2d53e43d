"""Pages and endpoints outside /api/v1: the dashboard and /metrics."""
