"""Which products' model sets are missing or stale: the scan beat runs, and bulk retrains use."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy.engine import Engine

from forecasting.data import sales_token
from forecasting.data.sales import DataSummary, all_fingerprints
from forecasting.errors import ModelIntegrityError, UntrustedModelSet
from forecasting.lifecycle.staleness import recorded_fingerprint, sales_unchanged
from forecasting.lifecycle.steps import Policy, warn_untrusted
from forecasting.store.model_store import ModelStore


def stale_products(
    *, engine: Engine, store: ModelStore, policy: Policy, product_ids: list[int] | None = None,
    now: datetime | None = None,
) -> tuple[list[tuple[int, str]], dict[str, int]]:
    """Find products whose model set is missing or stale, in one pass over the sales that changed.

    A product whose sales token is the one its set recorded still has the sales the
    set was trained on, so their fingerprint and span are read from model_info.json;
    only the other products' sales are read and hashed, in one streaming pass.

    Returns
    -------
    stale : list of (product_id, reason)
        Products with at least ``policy.min_samples`` days of history that need training;
        a set whose signature does not verify is ``'untrusted'`` (and logged as a warning).
    counts : dict
        ``products``, ``too_short``, ``fresh`` and ``stale`` counts.
    """
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        tokens = sales_token.current_tokens(conn, product_ids=product_ids)
    infos: dict[int, dict[str, Any] | None] = {}
    unreadable: dict[int, str] = {}
    summaries: dict[int, DataSummary] = {}
    for product_id, token in tokens.items():
        try:
            infos[product_id] = info = store.read_info(product_id)
        except UntrustedModelSet as exc:
            warn_untrusted(exc)
            unreadable[product_id] = "untrusted"  # its recorded span is not believed either
            continue
        except ModelIntegrityError:
            unreadable[product_id] = "corrupt"  # once its span is known
            continue
        if info is not None and sales_unchanged(info, token):
            summary = _recorded_summary(info)
            if summary is not None:
                summaries[product_id] = summary
    unknown = [product_id for product_id in tokens if product_id not in summaries]
    if unknown:
        summaries.update(all_fingerprints(engine, product_ids=unknown))
    stale: list[tuple[int, str]] = []
    counts = {"products": 0, "too_short": 0, "fresh": 0, "stale": 0}
    for product_id in sorted(summaries):
        summary = summaries[product_id]
        counts["products"] += 1
        days = (summary.end - summary.start).days + 1 if summary.start and summary.end else 0
        if days < policy.min_samples:
            counts["too_short"] += 1
            continue
        if product_id in unreadable:
            reason = unreadable[product_id]
        else:
            reason = policy.stale_reason(infos[product_id], summary.fingerprint, now)
        if reason is None:
            counts["fresh"] += 1
        else:
            counts["stale"] += 1
            stale.append((product_id, reason))
    return stale, counts


def _recorded_summary(info: dict[str, Any]) -> DataSummary | None:
    # The data a set records it was trained on, or None when model_info.json lacks part of it.
    data, fingerprint = info.get("data"), recorded_fingerprint(info)
    try:
        start, end = date.fromisoformat(data["start"]), date.fromisoformat(data["end"])
        return DataSummary(fingerprint, int(data["rows"]), start, end) if fingerprint else None
    except (TypeError, KeyError, ValueError):
        return None
