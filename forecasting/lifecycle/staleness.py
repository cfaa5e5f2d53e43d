"""Decide whether a stored model set must be retrained."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from importlib import metadata
from typing import Any

from forecasting.models.set_version import MODEL_SET_VERSION, recorded_set_version

# Libraries whose version changes what a model set is, by the name we record them
# under, with the distributions that can provide them.
LIBRARIES: dict[str, tuple[str, ...]] = {
    "prophet": ("prophet",),
    "scikit-learn": ("scikit-learn",),
    "scipy": ("scipy",),
    "numpy": ("numpy",),
    "pandas": ("pandas",),
}

# Why a set is retrained. "untrusted" (its model_info.json is not signed by a key the service
# holds) is found by the store before stale_reason is asked: nothing in such a file is believed.
REASONS = ("missing", "untrusted", "data_changed", "model_set_version", "library_versions", "age")


def library_versions() -> dict[str, str]:
    """Return the installed versions of the modelling libraries, without importing them.

    Read once per process (reading package metadata costs milliseconds, on every
    forecast): a library upgraded on disk takes effect when the process restarts,
    which is also when its new code is imported.

    Returns
    -------
    dict of str to str
        E.g. ``{"prophet": "1.1.5", "numpy": "2.1.3", ...}``; a library
        that is not installed is left out.
    """
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name, distributions in LIBRARIES.items():
        for distribution in distributions:
            try:
                versions[name] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def _trained_at(info: dict[str, Any]) -> datetime | None:
    value = info.get("trained_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def recorded_fingerprint(info: dict[str, Any]) -> str | None:
    """Return the data fingerprint a model_info.json records (None when it records none)."""
    data = info.get("data")
    if isinstance(data, dict) and data.get("fingerprint"):
        return str(data["fingerprint"])
    return info.get("fingerprint")


def recorded_sales_token(info: dict[str, Any]) -> str | None:
    """Return the sales token of the data a set was trained on (None when it records none)."""
    data = info.get("data")
    token = data.get("sales_token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None


def sales_unchanged(info: dict[str, Any], token: str | None) -> bool:
    """Return whether the product's sales `token` is the one its set recorded (its sales are the set's)."""
    return token is not None and recorded_sales_token(info) == token


def stale_reason(
    info: dict[str, Any] | None,
    *,
    fingerprint: str,
    versions: dict[str, str],
    now: datetime,
    max_age: timedelta,
) -> str | None:
    """Return why a model set must be retrained, or None when it is fresh.

    Parameters
    ----------
    info : dict or None
        The set's model_info.json (None when no set is stored). The fingerprint
        is read from ``info["data"]["fingerprint"]`` (or ``info["fingerprint"]``),
        the model set version from ``info["model_set_version"]``, the library
        versions from ``info["versions"]``, the age from ``info["trained_at"]``.
    fingerprint : str
        The product's current data fingerprint.
    versions : dict
        The running worker's :func:`library_versions`.
    now : datetime
        The current time (naive means UTC).
    max_age : timedelta
        Age at which a set is retrained.

    Returns
    -------
    str or None
        The first that applies of ``'missing'``, ``'data_changed'``,
        ``'model_set_version'`` (not ``MODEL_SET_VERSION``),
        ``'library_versions'`` (any recorded or running version differs) and
        ``'age'`` (also when trained_at is absent or unreadable); None when fresh.
    """
    if info is None:
        return "missing"
    if recorded_fingerprint(info) != fingerprint:
        return "data_changed"
    if recorded_set_version(info) != MODEL_SET_VERSION:
        return "model_set_version"
    recorded = info.get("versions") if isinstance(info.get("versions"), dict) else {}
    if any(recorded.get(name) != versions.get(name) for name in set(recorded) | set(versions)):
        return "library_versions"
    trained = _trained_at(info)
    current = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    if trained is None or current - trained >= max_age:
        return "age"
    return None
