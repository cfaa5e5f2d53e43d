"""Run every method on every series of a data set, timing each on the one core the process has."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bench import peers
from bench.clock import cpu_seconds
from bench.datasets import DataSet, SeriesSplit
from bench.service import MEMBERS, accepts_calendar, service_forecast, warm_up

Log = Callable[[str], None]


@dataclass
class Outcome:
    """One method's forecast of one series."""

    mean: np.ndarray
    intervals: dict[float, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: CPU seconds (one core; see bench.clock) and wall seconds of the fit and forecast.
    seconds: float = 0.0
    wall_seconds: float = 0.0
    #: The method failed on this series: its error, and ``mean`` is the seasonal naive fallback.
    error: str | None = None
    train_seconds: float | None = None
    weights: dict[str, float] | None = None


#: method -> series key -> outcome
Results = dict[str, dict[str, Outcome]]
#: Outcomes of methods that ignore the calendar, reused by the next variant of the same series.
Reuse = dict[tuple[str, str], Outcome]


def _fallback(split: SeriesSplit, horizon: int, error: BaseException) -> Outcome:
    # A failed series is scored with the seasonal naive forecast, so every method is scored on
    # the same series; the error is kept and counted in the table.
    return Outcome(peers.seasonal_naive(split.train, horizon).mean, error=f"{type(error).__name__}: {error}")


def run_service(data: DataSet, reuse: Reuse, log: Log) -> Results:
    """Train and forecast the service (ensemble and members) on each series."""
    names = ("service ensemble", *(f"service {m}" for m in MEMBERS))
    results: Results = {name: {} for name in names}
    warm_up()
    uses_calendar = data.with_calendar and accepts_calendar()
    started, errors = time.perf_counter(), 0
    for number, split in enumerate(data.series, start=1):
        cached = [reuse.get((name, split.key)) for name in names]
        if not uses_calendar and all(cached):
            for name, outcome in zip(names, cached):
                results[name][split.key] = outcome
            continue
        calendar = split.calendar if uses_calendar else None
        try:
            done = service_forecast(split.train, data.horizon, product_id=number, calendar=calendar)
        except Exception as err:  # recorded and counted, never hidden
            errors += 1
            fallback = _fallback(split, data.horizon, err)
            for name in names:
                results[name][split.key] = fallback
            log(f"  service failed on {split.key}: {fallback.error}")
            continue
        for name in names:
            outcome = Outcome(done.forecasts[name], done.intervals if name == "service ensemble" else {},
                              done.seconds, done.wall_seconds, train_seconds=done.train_seconds,
                              weights=done.weights)
            results[name][split.key] = outcome
            if not done.calendar_used:
                reuse[(name, split.key)] = outcome
        if number % 10 == 0 or number == len(data.series):
            log(f"  service: {number}/{len(data.series)} series, {time.perf_counter() - started:.0f} s, "
                f"{errors} failed")
    return results


def run_local(name: str, method: peers.LocalPeer, uses_calendar: bool, data: DataSet, reuse: Reuse,
              log: Log) -> dict[str, Outcome]:
    """Fit and forecast one local peer on each series (its first fit is repeated untimed: imports, JIT)."""
    takes_calendar = uses_calendar and data.with_calendar
    first = data.series[0]
    try:
        method(first.train, data.horizon, first.calendar if takes_calendar else None)
    except Exception as err:  # the timed loop records it per series
        log(f"  {name}: warm-up failed ({type(err).__name__}: {err})")
    out: dict[str, Outcome] = {}
    started, errors = time.perf_counter(), 0
    for split in data.series:
        if not takes_calendar and (name, split.key) in reuse:
            out[split.key] = reuse[(name, split.key)]
            continue
        clock, cpu = time.perf_counter(), cpu_seconds()
        try:
            forecast = method(split.train, data.horizon, split.calendar if takes_calendar else None)
            out[split.key] = Outcome(forecast.mean, forecast.intervals, cpu_seconds() - cpu,
                                     time.perf_counter() - clock)
        except Exception as err:  # recorded and counted, never hidden
            errors += 1
            out[split.key] = _fallback(split, data.horizon, err)
        if not takes_calendar:
            reuse[(name, split.key)] = out[split.key]
    log(f"  {name}: {len(data.series)} series, {time.perf_counter() - started:.1f} s, {errors} failed")
    return out


def run_global(data: DataSet, log: Log) -> dict[str, Outcome]:
    """Fit the global LightGBM on all series at once; each series is charged an equal share of the time."""
    clock, cpu = time.perf_counter(), cpu_seconds()
    try:
        forecasts = peers.lightgbm_global(data.series, data.horizon, data.with_calendar)
    except Exception as err:  # recorded and counted, never hidden
        log(f"  LightGBM global failed: {type(err).__name__}: {err}")
        return {s.key: _fallback(s, data.horizon, err) for s in data.series}
    share, wall = (cpu_seconds() - cpu) / len(data.series), (time.perf_counter() - clock) / len(data.series)
    log(f"  LightGBM global: {len(data.series)} series, {wall * len(data.series):.1f} s")
    return {s.key: Outcome(forecasts[s.key].mean, seconds=share, wall_seconds=wall) for s in data.series}


def _named(name: str, words: set[str] | None) -> bool:
    return bool(words) and any(word.lower() in name.lower() for word in words)


def run_all(data: DataSet, reuse: Reuse, log: Log, only: set[str] | None = None,
            skip: set[str] | None = None) -> Results:
    """Run the service and every peer that fits the data set (or those named in `only`, less `skip`)."""
    local = dict(peers.LOCAL)
    if data.name == "m5-items":
        local.update(peers.INTERMITTENT)

    def wanted(name: str) -> bool:
        return (only is None or _named(name, only)) and not _named(name, skip)

    results: Results = {}
    if wanted("service"):
        results.update(run_service(data, reuse, log))
    for name, (method, uses_calendar) in local.items():
        if wanted(name):
            label = name + (" + calendar" if uses_calendar and data.with_calendar else "")
            results[label] = run_local(name, method, uses_calendar, data, reuse, log)
    label = "LightGBM global" + (" + calendar" if data.with_calendar else "")
    if wanted("LightGBM"):
        results[label] = run_global(data, log)
    return results
