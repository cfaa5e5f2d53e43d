"""Synthetic demo products: realistic daily demand for trying the service without real data."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from forecasting.data.database import bulk_upsert, sync_product_ids
from forecasting.data.database import products as products_table
from forecasting.data.database import sales as sales_table
from forecasting.errors import InvalidSalesData

log = logging.getLogger(__name__)


def seed_demo(engine: Engine, *, products: int, days: int, end: date, seed: int,
              only_into_empty: bool = False) -> list[int]:
    """Give demo products 1..`products` a synthetic daily history ending at `end`.

    Parameters
    ----------
    engine : Engine
        Sales database.
    products : int
        Number of demo products (ids 1..products, key ``demo=<id>``).
    days : int
        Days of history per product.
    end : datetime.date
        Last day of the history.
    seed : int
        Random seed: the same arguments give the same data.
    only_into_empty : bool
        Seed nothing when the database holds any product already, so demo rows
        never replace sales someone has edited (``make run`` seeds at every start).

    Returns
    -------
    list of int
        Ids of the products that now hold demo data (none when skipped). An id
        already used by a product that is not a demo product (e.g. imported
        data) is left alone and logged, so real sales are never overwritten.

    Notes
    -----
    Idempotent: a re-run replaces the demo products' sales instead of adding to
    them. Demand has a trend, weekly and yearly seasonality, promotion weeks,
    noise, integer units and a few zero days (stock-outs, Christmas).
    """
    if products < 1 or days < 1:
        raise InvalidSalesData(f"seed_demo needs products >= 1 and days >= 1, got {products} and {days}.")
    start = end - timedelta(days=days - 1)
    seeded: list[int] = []
    with engine.begin() as conn:
        existing = dict(conn.execute(select(products_table.c.id, products_table.c.key)).all())
        if only_into_empty and existing:
            return []
        for pid in range(1, products + 1):
            key = f"demo={pid}"
            if pid in existing and existing[pid] != key:
                log.warning("seed_demo leaves product %s alone: it is not a demo product (key %r)", pid, existing[pid])
                continue
            if pid not in existing:
                conn.execute(products_table.insert().values(
                    id=pid, key=key, name=f"Demo product {pid}", created_at=datetime.now(timezone.utc)))
            conn.execute(delete(sales_table).where(sales_table.c.product_id == pid))
            units = demo_demand(start, days, np.random.default_rng([seed, pid]))
            bulk_upsert(conn, product_ids=[pid] * days, dates=[start + timedelta(days=i) for i in range(days)],
                        quantities=units.tolist())
            seeded.append(pid)
        sync_product_ids(conn)
    return seeded


def demo_demand(start: date, days: int, rng: np.random.Generator) -> np.ndarray:
    """Return `days` integer daily units from `start`: trend, seasons, promotions, noise."""
    t = np.arange(days)
    day_index = pd.date_range(start, periods=days, freq="D")
    level = rng.uniform(20, 150)
    trend = np.clip(1 + rng.uniform(-0.05, 0.25) * t / 365.25, 0.3, None)
    week_shape = np.array([0.9, 0.85, 0.9, 1.0, 1.15, 1.35, 1.05]) * rng.uniform(0.95, 1.05, 7)
    weekly = week_shape[day_index.dayofweek.to_numpy()]
    phase = rng.uniform(0, 2 * np.pi)
    doy = day_index.dayofyear.to_numpy()
    yearly = 1 + rng.uniform(0.1, 0.3) * np.sin(2 * np.pi * doy / 365.25 + phase)
    december = 1 + 0.4 * np.exp(-(((doy - 355) / 10.0) ** 2))  # pre-Christmas peak
    promo = np.ones(days)
    for begin in rng.choice(days, size=max(1, days // 60), replace=False):
        promo[begin:begin + int(rng.integers(3, 8))] *= rng.uniform(1.3, 1.8)
    mean = level * trend * weekly * yearly * december * promo
    units = rng.poisson(mean * rng.gamma(20.0, 1 / 20.0, days)).astype(float)
    units[rng.random(days) < 0.01] = 0.0  # stock-outs
    units[(day_index.month == 12) & (day_index.day == 25)] = 0.0  # closed on Christmas day
    return units
