"""Weekly and monthly bounds cover held-out real demand about as often as their level says.

Production settings on a few real series (store-item demand and Rossmann stores, from
../shared/data), the last 91 days held out: 13 whole weeks and 2 or 3 whole months per
series. The band checked is wide on purpose: a handful of series, not a benchmark.
"""

import numpy as np
import pandas as pd
import pytest

from config.settings import default_model_params
from forecasting.models import blends
from forecasting.models import model_set as sets
from forecasting.models.aggregation import aggregate
from tests import services

HELD_OUT = 91
STORE_ITEM = services.SHARED_DATA / "store-item-demand" / "train_stores_1_2.csv"
ROSSMANN = services.SHARED_DATA / "rossmann-store-sales" / "train.csv.gz"
#: (frequency, level, lowest and highest mean coverage accepted)
BANDS = [("weekly", 80, 0.55, 0.97), ("weekly", 95, 0.8, 1.0), ("monthly", 80, 0.5, 1.0), ("monthly", 95, 0.7, 1.0)]


def real_series() -> list[pd.Series]:
    services.require(STORE_ITEM.is_file() and ROSSMANN.is_file(), "the store-item and Rossmann data sets")
    items = pd.read_csv(STORE_ITEM, parse_dates=["date"])
    chosen = [items[(items.store == 1) & (items.item == item)].set_index("date")["sales"] for item in (1, 11, 21)]
    stores = pd.read_csv(ROSSMANN, parse_dates=["Date"], usecols=["Store", "Date", "Sales"])
    for store in (1, 3, 25):
        # Rossmann's closed days are rows of 0 (read as closed weekdays by the set itself).
        chosen.append(stores[stores.Store == store].set_index("Date")["Sales"].sort_index().asfreq("D", fill_value=0))
    return [series.astype(float).rename("demand") for series in chosen]


@pytest.mark.slow
def test_period_bounds_cover_held_out_real_demand_within_a_sane_band():
    covered: dict[tuple[str, int], list[float]] = {(freq, level): [] for freq, level, _, _ in BANDS}
    for series in real_series():
        train, actual = series.iloc[:-HELD_OUT], series.iloc[-HELD_OUT:].to_numpy()
        model_set = sets.train_model_set(train, params=default_model_params(), min_samples=100, product_id=1)
        frame = sets.forecast(model_set, train, HELD_OUT)
        frame["actual"] = actual
        for frequency in ("weekly", "monthly"):
            periods = aggregate(frame, frequency, rho=blends.error_dependence(model_set),
                                bounds=blends.bound_columns([0.8, 0.95]))
            whole = periods[periods["days"] >= (7 if frequency == "weekly" else 28)]
            for level, (lower, upper) in zip((80, 95), blends.bound_columns([0.8, 0.95]), strict=True):
                inside = (whole["actual"] >= whole[lower]) & (whole["actual"] <= whole[upper])
                covered[(frequency, level)].extend(inside.astype(float).tolist())
    for frequency, level, lowest, highest in BANDS:
        coverage = float(np.mean(covered[(frequency, level)]))
        assert lowest <= coverage <= highest, (frequency, level, coverage)
