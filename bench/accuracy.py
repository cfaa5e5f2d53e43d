"""Held-out accuracy of the service beside the peers a user would pick, on four real data sets, in one run.

    .venv/bin/python -m bench.accuracy                          # every data set
    .venv/bin/python -m bench.accuracy --dataset rossmann       # one (both Rossmann variants)
    .venv/bin/python -m bench.accuracy --dataset store-item --series 10   # an even sample
    .venv/bin/python -m bench.accuracy --dataset m5-level9 --back 28      # a window 28 days earlier

Each method is trained per series on the same split and forecasts the held-out days in
one shot (LightGBM is one global model per data set). The process runs on one core with
one BLAS/OpenMP thread; seconds per series are CPU seconds (bench.clock), one core's time
even when other work shares the machine (the JSON also has wall seconds). Prints one table
per data set with the service's targets and writes bench/results/accuracy-<names>-<utc time>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bench import datasets, scores, targets
from bench.runner import Log, Outcome, Results, Reuse, run_all
from bench.service import accepts_calendar
from forecasting.models import metrics

RESULTS = datasets.ROOT / "bench" / "results"
METRIC_LABEL = {"smape": "SMAPE", "rmspe": "RMSPE", "rmsse": "RMSSE"}
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _series_metric(kind: str, actual: np.ndarray, forecast: np.ndarray, train: np.ndarray) -> float:
    if kind == "smape":
        return metrics.smape(actual, forecast)
    if kind == "rmspe":
        return scores.rmspe(actual, forecast)
    return scores.rmsse(actual, forecast, train)


def score(data: datasets.DataSet, outcomes: dict[str, Outcome]) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Return one method's row of the table and its per-series scores."""
    per_series: dict[str, dict[str, float]] = {}
    pooled: dict[str, list[np.ndarray]] = {"actual": [], "forecast": []}
    covered: dict[float, list[np.ndarray]] = {}
    for split in data.series:
        outcome = outcomes[split.key]
        keep = split.scored if split.scored is not None else np.ones(data.horizon, dtype=bool)
        train = split.train.to_numpy(dtype=float)
        per_series[split.key] = {
            "metric": _series_metric(data.metric, split.actual[keep], outcome.mean[keep], train),
            "mase": metrics.mase(split.actual, outcome.mean, train),
        }
        pooled["actual"].append(split.actual[keep])
        pooled["forecast"].append(outcome.mean[keep])
        for level, (lower, upper) in outcome.intervals.items():
            inside = (split.actual[keep] >= lower[keep]) & (split.actual[keep] <= upper[keep])
            covered.setdefault(level, []).append(inside)
    actual, forecast = np.concatenate(pooled["actual"]), np.concatenate(pooled["forecast"])
    values = [row["metric"] for row in per_series.values()]
    # Kaggle pools RMSPE over all open store-days; SMAPE and M5's RMSSE average the series.
    metric = scores.rmspe(actual, forecast) if data.metric == "rmspe" else float(np.nanmean(values))
    fine = [o for o in outcomes.values() if o.error is None]
    row: dict[str, Any] = {
        "metric": metric,
        "mase": float(np.nanmean([r["mase"] for r in per_series.values()])),
        "bias_pct": scores.bias_percent(actual, forecast),
        "seconds": float(np.mean([o.seconds for o in fine])) if fine else float("nan"),
        "wall_seconds": float(np.mean([o.wall_seconds for o in fine])) if fine else float("nan"),
        "failed": len(outcomes) - len(fine),
    }
    for level, hits in covered.items():
        row[f"coverage_{int(round(level * 100))}"] = float(100 * np.concatenate(hits).mean())
    return row, per_series


def facts(data: datasets.DataSet, results: Results) -> dict[str, Any]:
    """Return the service's figures the targets need beyond the table."""
    ensemble = results.get(targets.ENSEMBLE)
    if not ensemble:
        return {}
    trained = [o for o in ensemble.values() if o.train_seconds is not None]
    out: dict[str, Any] = {}
    if trained:
        out["train_seconds"] = float(np.mean([o.train_seconds for o in trained]))
        out["train_seconds_max"] = float(np.max([o.train_seconds for o in trained]))
        out["mean_weights"] = {m: float(np.mean([o.weights[m] for o in trained])) for m in trained[0].weights}
    if data.with_calendar:
        out["calendar_passed"] = accepts_calendar()
        closed = nonzero = 0
        for split in data.series:
            shut = split.calendar["open"].to_numpy()[-data.horizon:] == 0
            closed += int(shut.sum())
            nonzero += int((ensemble[split.key].mean[shut] > 0).sum())
        out.update(closed_days=closed, closed_days_nonzero=nonzero)
    # The item stopped selling before the bench's cutoff; an earlier window may still see it sell.
    if data.name == "m5-items" and data.back == 0 and datasets.M5_DEAD_ITEM in ensemble:
        out.update(dead_item=datasets.M5_DEAD_ITEM, dead_item_mean=float(ensemble[datasets.M5_DEAD_ITEM].mean.mean()))
    return out


def evaluate(data: datasets.DataSet, reuse: Reuse, log: Log, only: set[str] | None = None,
             skip: set[str] | None = None) -> dict[str, Any]:
    """Run and score every method on `data`; return its table, verdicts and per-series scores."""
    log(f"{data.name}: {data.description}")
    started = time.perf_counter()
    results = run_all(data, reuse, log, only, skip)
    table, per_series, errors = {}, {}, {}
    for method, outcomes in results.items():
        table[method], per_series[method] = score(data, outcomes)
        failed = {key: o.error for key, o in outcomes.items() if o.error}
        if failed:
            errors[method] = failed
    found = facts(data, results)
    return {
        "name": data.name, "description": data.description, "metric": data.metric, "horizon": data.horizon,
        "series": len(data.series), "seconds": time.perf_counter() - started, "table": table,
        "facts": found, "verdicts": targets.as_dicts(targets.judge(data.name, table, found)),
        "per_series": per_series, "errors": errors,
    }


def _number(value: float | None, digits: int, width: int, sign: bool = False) -> str:
    if value is None or not np.isfinite(value):
        return f"{'-':>{width}}"
    return f"{value:{'+' if sign else ''}{width}.{digits}f}"


def format_table(result: dict[str, Any]) -> str:
    """Return one data set's table and the service's targets as text."""
    label = METRIC_LABEL[result["metric"]]
    digits = 2 if result["metric"] == "smape" else 3
    best = min(row["metric"] for row in result["table"].values())
    lines = [f"{result['name']}: {result['description']} ({result['seconds']:.0f} s)",
             f"  {'method':30} {label:>8} {'MASE':>7} {'bias %':>7} {'cov 80':>7} {'cov 95':>7} "
             f"{'s/series':>8} {'failed':>6}"]
    for method, row in result["table"].items():
        mark = "*" if row["metric"] == best else " "
        lines.append(f"  {method:30} {_number(row['metric'], digits, 7)}{mark} {_number(row['mase'], 3, 7)} "
                     f"{_number(row['bias_pct'], 1, 7, sign=True)} {_number(row.get('coverage_80'), 1, 7)} "
                     f"{_number(row.get('coverage_95'), 1, 7)} {_number(row['seconds'], 3, 8)} {row['failed']:>6}")
    lines.append(f"  (* best {label}; coverage and bias on the scored days; s/series: CPU seconds on one core)")
    if result["verdicts"]:
        lines.append(f"  {'target of the service ensemble':46} {'target':14} {'verdict':8} ours")
        for v in result["verdicts"]:
            lines.append(f"  {v['figure']:46} {v['target']:14} {'met' if v['met'] else 'NOT MET':8} {v['ours']}")
    if result["facts"].get("calendar_passed") is False:
        lines.append("  the service got no calendar: its training takes none yet (bench/service.py passes it once it does)")
    weights = result["facts"].get("mean_weights")
    if weights:
        lines.append("  mean ensemble weights: " + ", ".join(f"{k} {w:.2f}" for k, w in weights.items()))
    for method, failed in result["errors"].items():
        first = next(iter(failed.items()))
        lines.append(f"  {method} failed on {len(failed)} series (scored with the seasonal naive), e.g. "
                     f"{first[0]}: {first[1][:160]}")
    return "\n".join(lines)


def quiet_libraries() -> None:
    """Keep Prophet's and Stan's per-fit messages out of the progress lines."""
    for name in ("prophet", "prophet.plot", "cmdstanpy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # plotly is not needed here


def use_one_core() -> None:
    """Pin this process to one core with one BLAS/OpenMP thread, as a worker child trains."""
    from threadpoolctl import threadpool_limits

    for name in ONE_THREAD:
        os.environ.setdefault(name, "1")
    allowed = os.sched_getaffinity(0)
    if len(allowed) > 1:
        os.sched_setaffinity(0, {min(allowed)})
    threadpool_limits(1)


def run(names: list[str], limit: int | None, log: Log, only: set[str] | None = None,
        skip: set[str] | None = None, back: int = 0, rossmann_from: int = 1) -> dict[str, Any]:
    """Evaluate the data sets `names`, cut `back` days earlier; those whose files are absent are listed as skipped."""
    out: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "back": back, "rossmann_from": rossmann_from,
                           "datasets": {}, "skipped": []}
    for name in names:
        loaded = datasets.load(name, limit, back, rossmann_from)
        if not loaded:
            log(f"{name}: skipped, its data files are absent.")
            out["skipped"].append(name)
            continue
        reuse: Reuse = {}  # shared by the two Rossmann variants only
        for data in loaded:
            result = evaluate(data, reuse, log, only, skip)
            out["datasets"][data.name] = result
            print("\n" + format_table(result) + "\n", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*datasets.NAMES, "all"], default="all")
    parser.add_argument("--series", type=int, default=None,
                        help="an even sample of N series (Rossmann: the first N complete stores; default 100)")
    parser.add_argument("--methods", default=None, help="comma-separated words: run only methods named so")
    parser.add_argument("--skip", default=None, help="comma-separated words: leave out methods named so")
    parser.add_argument("--back", type=int, default=0,
                        help="move every cutoff N days earlier: the same series on a window the default does not score")
    parser.add_argument("--rossmann-from", type=int, default=1, metavar="STORE",
                        help="Rossmann's stores from this store number on (120 and up: stores the default does not score)")
    parser.add_argument("--out", default=None, help="also write the result JSON here")
    args = parser.parse_args(argv)
    use_one_core()
    quiet_libraries()
    log = lambda text: print(text, file=sys.stderr, flush=True)
    names = list(datasets.NAMES) if args.dataset == "all" else [args.dataset]
    only = set(args.methods.split(",")) if args.methods else None
    skip = set(args.skip.split(",")) if args.skip else None
    if args.back < 0:
        parser.error("--back must be 0 or more days")
    if args.rossmann_from < 1:
        parser.error("--rossmann-from must be a store number, 1 or more")
    result = run(names, args.series, log, only, skip, args.back, args.rossmann_from)
    text = json.dumps(result, indent=1, default=str)
    RESULTS.mkdir(parents=True, exist_ok=True)
    window = (f"-back{args.back}" if args.back else "") + (f"-from{args.rossmann_from}" if args.rossmann_from > 1 else "")
    path = RESULTS / f"accuracy-{args.dataset}{window}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)
    log(f"written: {path}")


if __name__ == "__main__":
    main()
