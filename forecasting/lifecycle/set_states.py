"""How many model sets are fresh, stale or missing, without reading any sales."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from sqlalchemy.engine import Engine

from forecasting.data import sales_token
from forecasting.errors import ModelIntegrityError
from forecasting.lifecycle.staleness import recorded_fingerprint, sales_unchanged
from forecasting.lifecycle.steps import Policy
from forecasting.store.model_store import ModelStore

STATES = ("fresh", "stale", "missing", "corrupt")


def count_states(*, engine: Engine, store: ModelStore, policy: Policy, now: datetime | None = None) -> dict[str, int]:
    """Count the products whose model set is fresh, stale, missing or corrupt, from tokens and model_info.json.

    A set counts as fresh when its product's sales token is the one it recorded and
    :meth:`Policy.stale_reason` finds nothing else (age, versions); a token that
    changed counts as stale without hashing the sales, so a product whose sales
    were changed and then changed back counts as stale here while
    :func:`forecasting.lifecycle.stale_scan.stale_products` would find it fresh.
    Products too short to train are counted by their set like the others.

    Returns
    -------
    dict of str to int
        One count per state of :data:`STATES` (0 when none).
    """
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        tokens = sales_token.current_tokens(conn)
    counts: Counter[str] = Counter(dict.fromkeys(STATES, 0))
    for product_id, token in tokens.items():
        try:
            info = store.read_info(product_id)
        except ModelIntegrityError:
            counts["corrupt"] += 1
            continue
        if info is None:
            counts["missing"] += 1
        elif sales_unchanged(info, token) and policy.stale_reason(info, recorded_fingerprint(info) or "", now) is None:
            counts["fresh"] += 1
        else:
            counts["stale"] += 1
    return dict(counts)
