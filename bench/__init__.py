"""Benchmarks: each prints its figures beside the reference it must beat."""
