"""Accuracy on real data: train through 2017-09-30, forecast 2017-10-01..12-31 in one shot.

    .venv/bin/python -m bench.accuracy --series 10
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from bench.data import CUTOFF, DATA_FILE, HORIZON, KNOWN_SMAPE, real_series
from forecasting.models import metrics

MEMBERS = ("prophet", "lstm", "random_forest")


def seasonal_naive(train: pd.Series, horizon: int) -> np.ndarray:
    """Return the same weekday 364 days before each forecast day."""
    values = train.to_numpy(dtype=float)
    return np.array([values[len(values) - 364 + step] for step in range(horizon)])


def evaluate(series: dict[tuple[int, int], pd.Series], params: Any, log: Any = None) -> dict[str, Any]:
    """Train the production ensemble per series on data through CUTOFF; score the next HORIZON days."""
    from forecasting.models.model_set import forecast, train_model_set

    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for number, (key, full) in enumerate(series.items(), start=1):
        train = full.loc[:CUTOFF]
        actual = full.loc[CUTOFF + pd.Timedelta(days=1):].iloc[:HORIZON].to_numpy(dtype=float)
        if len(actual) != HORIZON:
            raise ValueError(f"series {key} has {len(actual)} days after the cutoff, expected {HORIZON}.")
        clock = time.perf_counter()
        model_set = train_model_set(train, params=params, min_samples=100, product_id=number)
        frame = forecast(model_set, train, HORIZON)  # one shot from the cutoff: no peeking past it
        row: dict[str, Any] = {"series": list(key), "seconds": time.perf_counter() - clock,
                               "weights": model_set.weights}
        insample = train.to_numpy(dtype=float)
        candidates = {name: frame[name].to_numpy() for name in MEMBERS}
        candidates["ensemble"] = frame["forecast"].to_numpy()
        candidates["seasonal_naive"] = seasonal_naive(train, HORIZON)
        for name, values in candidates.items():
            row[name] = {"smape": metrics.smape(actual, values), "mase": metrics.mase(actual, values, insample)}
        row["validation"] = {name: model_set.metrics[name] for name in (*MEMBERS, "ensemble")}
        row["forecasts"] = {name: [round(float(v), 3) for v in values] for name, values in candidates.items()}
        row["actual"] = actual.tolist()
        row["coverage_80"] = metrics.coverage(actual, frame["lower"], frame["upper"])
        row["coverage_95"] = metrics.coverage(actual, frame["lower_95"], frame["upper_95"])
        rows.append(row)
        if log:
            log(f"  [{number}/{len(series)}] store {key[0]} item {key[1]}: ensemble SMAPE "
                f"{row['ensemble']['smape']:.2f} ({row['seconds']:.1f} s)")
    return summarise(rows, time.perf_counter() - started)


def summarise(rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Average the per-series scores."""
    names = (*MEMBERS, "ensemble", "seasonal_naive")
    table = {name: {m: float(np.nanmean([r[name][m] for r in rows])) for m in ("smape", "mase")} for name in names}
    return {
        "series": len(rows),
        "seconds": seconds,
        "scores": table,
        "coverage_80": float(np.mean([r["coverage_80"] for r in rows])),
        "coverage_95": float(np.mean([r["coverage_95"] for r in rows])),
        "mean_weights": {m: float(np.mean([r["weights"][m] for r in rows])) for m in MEMBERS},
        "known_smape": KNOWN_SMAPE,
        "rows": rows,
    }


def run(n_series: int | None, params: Any = None, log: Any = print) -> dict[str, Any] | None:
    """Evaluate on `n_series` real series (all when None); None when the data file is absent."""
    series = real_series(limit=n_series)
    if series is None:
        log(f"accuracy: skipped, {DATA_FILE} is absent.")
        return None
    if params is None:
        from config.settings import default_model_params

        params = default_model_params()
    return evaluate(series, params, log=log)


def format_table(result: dict[str, Any]) -> str:
    """Return the accuracy table as text."""
    lines = [(f"Accuracy: {result['series']} series, train <= {CUTOFF.date()}, {HORIZON}-day one-shot forecast "
              f"({result['seconds']:.0f} s)"),
             f"{'model':22} {'SMAPE':>7} {'MASE':>7}"]
    for name, values in result["scores"].items():
        lines.append(f"{name:22} {values['smape']:7.2f} {values['mase']:7.3f}")
    lines.append(f"interval coverage: 80% -> {100 * result['coverage_80']:.1f}%, 95% -> {100 * result['coverage_95']:.1f}%")
    lines.append("known SMAPE on this split: " + ", ".join(f"{k} {v}" for k, v in KNOWN_SMAPE.items()))
    weights = ", ".join(f"{k} {v:.2f}" for k, v in result["mean_weights"].items())
    lines.append(f"mean ensemble weights: {weights}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=None, help="evaluate an even sample of this many series")
    parser.add_argument("--params", default="{}", help="JSON overrides of the production model params")
    parser.add_argument("--out", default=None, help="write the result as JSON here")
    args = parser.parse_args(argv)
    from config.settings import default_model_params

    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(args.params).items()}
    result = run(args.series, default_model_params(**overrides))
    if result is None:
        sys.exit(0)
    print(format_table(result))
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(result, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
