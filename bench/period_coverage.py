"""Coverage of weekly and monthly forecast bounds on held-out real demand, by dependence model.

    .venv/bin/python -m bench.period_coverage --dataset store-item --series 6
    .venv/bin/python -m bench.period_coverage --dataset rossmann --series 6

Each series is trained with the production settings on all but its last 91 days; the
daily forecast of those days is summed per whole week and whole month, and the bounds
of each sum made three ways: the service's AR(1) model (forecasting/models/aggregation.py,
``rho`` from the set's validation residuals), the sum of the daily bounds (comonotonic
days, ``rho = 1``) and independent days (``rho = 0``). Prints the share of periods whose
actual total lies inside each band, and the mean band width relative to the service's.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from config.settings import default_model_params
from forecasting.models import blends
from forecasting.models import model_set as sets
from forecasting.models.aggregation import aggregate

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
HELD_OUT = 91
MODELS = {"service (AR(1))": None, "sum of daily bounds": 1.0, "independent days": 0.0}


def load(dataset: str, count: int) -> list[pd.Series]:
    """Return `count` series of `dataset`, evenly spread over its products."""
    if dataset == "store-item":
        frame = pd.read_csv(DATA / "store-item-demand" / "train_stores_1_2.csv", parse_dates=["date"])
        keys = sorted(frame.groupby(["store", "item"]).groups)
        picked = [keys[i] for i in np.linspace(0, len(keys) - 1, count).astype(int)]
        return [frame[(frame.store == s) & (frame["item"] == i)].set_index("date")["sales"].astype(float)
                for s, i in picked]
    frame = pd.read_csv(DATA / "rossmann-store-sales" / "train.csv.gz", parse_dates=["Date"],
                        usecols=["Store", "Date", "Sales"])
    lengths = frame.groupby("Store").size()
    complete = sorted(lengths[lengths == lengths.max()].index)
    picked = [complete[i] for i in np.linspace(0, len(complete) - 1, count).astype(int)]
    return [frame[frame.Store == s].set_index("Date")["Sales"].sort_index().asfreq("D", fill_value=0).astype(float)
            for s in picked]


def main() -> None:
    """Print the coverage table of the data set named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("store-item", "rossmann"), required=True)
    parser.add_argument("--series", type=int, default=6)
    args = parser.parse_args()
    logging.getLogger("prophet").setLevel(logging.ERROR)
    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    inside = {(m, f, lvl): [] for m in MODELS for f in ("weekly", "monthly") for lvl in (80, 95)}
    widths = {(m, f): [] for m in MODELS for f in ("weekly", "monthly")}
    pairs = blends.bound_columns([0.8, 0.95])
    for number, series in enumerate(load(args.dataset, args.series), start=1):
        train, actual = series.iloc[:-HELD_OUT], series.iloc[-HELD_OUT:].to_numpy()
        model_set = sets.train_model_set(train, params=default_model_params(), min_samples=100, product_id=number)
        frame = sets.forecast(model_set, train, HELD_OUT)
        frame["actual"] = actual
        rho = blends.error_dependence(model_set)
        for model, fixed in MODELS.items():
            for frequency, shortest in (("weekly", 7), ("monthly", 28)):
                periods = aggregate(frame, frequency, rho=rho if fixed is None else fixed, bounds=pairs)
                periods = periods[periods["days"] >= shortest]
                for level, (lower, upper) in zip((80, 95), pairs, strict=True):
                    hit = (periods["actual"] >= periods[lower]) & (periods["actual"] <= periods[upper])
                    inside[(model, frequency, level)].extend(hit.astype(float).tolist())
                widths[(model, frequency)].append(float((periods["upper"] - periods["lower"]).mean()))
        print(f"series {number}: rho {rho:.2f}", flush=True)
    print(f"\n{args.dataset}, {args.series} series, last {HELD_OUT} days held out: share of whole periods covered")
    print(f"{'bounds':<22} {'week 80%':>9} {'week 95%':>9} {'month 80%':>10} {'month 95%':>10} "
          f"{'width/ours (wk, mo)':>20}")
    for model in MODELS:
        cells = [np.mean(inside[(model, f, lvl)]) for f in ("weekly", "monthly") for lvl in (80, 95)]
        ratio = [np.mean(widths[(model, f)]) / np.mean(widths[("service (AR(1))", f)]) for f in ("weekly", "monthly")]
        print(f"{model:<22} {cells[0]:>9.3f} {cells[1]:>9.3f} {cells[2]:>10.3f} {cells[3]:>10.3f} "
              f"{ratio[0]:>9.2f}, {ratio[1]:.2f}")
    counts = len(inside[("service (AR(1))", "weekly", 80)]), len(inside[("service (AR(1))", "monthly", 80)])
    print(f"({counts[0]} weeks, {counts[1]} months)")


if __name__ == "__main__":
    main()
