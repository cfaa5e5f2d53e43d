"""When sets are made and used: staleness, training runs, saved forecasts, the stale scan, a worker's steps."""
