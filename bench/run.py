"""`make bench`: the seed pipeline (bench.reference) beside ours, in one run, on the same data.

    .venv/bin/python -m bench.run                 # everything, accuracy on every data set
    .venv/bin/python -m bench.run --series 10     # accuracy on an even sample of 10 series per data set
    .venv/bin/python -m bench.run --skip-speed --skip-round-trip --dataset m5-items

Each measured side runs in a fresh subprocess pinned to one core (taskset -c 0 when
available) with one thread for BLAS, OpenMP and TensorFlow: the same conditions for
both. The accuracy part (bench.accuracy: the service beside its peers on store-item,
Rossmann, M5 items and M5 level 9) runs the same way and prints its tables as it goes.
Prints a table and writes bench/results/bench-<utc time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.roundtrip import pinned

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
TARGETS = {"train_speedup": 10.0, "forecast_speedup": 50.0, "round_trip_vs_noop": 3.0, "disk_mb": 2.0,
           "peak_rss_mb": 600.0}


def _subprocess_json(args: list[str], log: Path) -> tuple[dict[str, Any], float]:
    """Run ``python -m <args>`` pinned and single-threaded; return its last stdout line as JSON and the wall time."""
    clock = time.perf_counter()
    done = subprocess.run(pinned([sys.executable, "-m", *args]), cwd=ROOT, env={**os.environ, **ONE_THREAD},
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - clock
    log.write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}); see {log}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def speed(work: Path, log: Any) -> dict[str, Any]:
    """Train and forecast one product with each side, each in fresh processes."""
    out: dict[str, Any] = {}
    for side in ("reference", "ours"):
        log(f"speed: training and forecasting with {side} ...")
        folder = work / side
        out[side], _ = _subprocess_json(["bench.speed", "train", "--side", side, "--work", str(folder)],
                                        work / f"{side}-train.log")
        cold, wall = _subprocess_json(["bench.speed", "cold", "--side", side, "--work", str(folder)],
                                      work / f"{side}-cold.log")
        out[side].update(cold_forecast_s=cold["cold_forecast_s"], cold_forecast_wall_s=wall,
                         cold_peak_rss_mb=cold["peak_rss_mb"])
    return out


def _row(name: str, ref: float | None, ours: float, unit: str, ratio: float | None, target: str, met: bool | None) -> str:
    ref_text = "" if ref is None else f"{ref:.3f}"
    ratio_text = "" if ratio is None else f"{ratio:.1f}x"
    verdict = "" if met is None else ("met" if met else "NOT MET")
    return f"{name:42} {ref_text:>11} {ours:>11.3f} {unit:5} {ratio_text:>9}  {target:12} {verdict}"


def speed_table(result: dict[str, Any]) -> tuple[str, dict[str, bool]]:
    """Return the speed/size/memory table and the verdict per target."""
    ref, ours = result["speed"]["reference"], result["speed"]["ours"]
    train_x = ref["train_second_product_s"] / ours["train_second_product_s"]
    forecast_x = ref["warm_forecast_s"] / ours["warm_forecast_s"]
    disk_mb, rss = ours["disk_bytes"] / 1e6, ours["peak_rss_mb_after_train"]
    verdicts = {"train_speedup": train_x >= TARGETS["train_speedup"],
                "forecast_speedup": forecast_x >= TARGETS["forecast_speedup"],
                "disk_mb": disk_mb <= TARGETS["disk_mb"], "peak_rss_mb": rss <= TARGETS["peak_rss_mb"]}
    lines = [(f"{'figure (one product, 1,100 days, one core)':42} {'reference':>11} {'ours':>11} {'unit':5} "
              f"{'ratio':>9}  {'target':12} verdict"),
             _row("full training per product, warm worker", ref["train_second_product_s"],
                  ours["train_second_product_s"], "s", train_x, ">= 10x", verdicts["train_speedup"]),
             _row("  first product of a fresh process", ref["train_s"], ours["train_s"], "s",
                  ref["train_s"] / ours["train_s"], "report", None),
             _row("warm forecast, 90 days (worker path)", ref["warm_forecast_s"], ours["warm_forecast_s"], "s",
                  forecast_x, ">= 50x", verdicts["forecast_speedup"]),
             _row("  ours: models only (training.forecast)", None, ours["warm_forecast_model_only_s"], "s",
                  ref["warm_forecast_s"] / ours["warm_forecast_model_only_s"], "", None),
             _row("first forecast after load (same process)", ref["first_forecast_s"], ours["first_forecast_s"], "s",
                  ref["first_forecast_s"] / ours["first_forecast_s"], "report", None),
             _row("cold forecast (fresh process: import+load)", ref["cold_forecast_wall_s"],
                  ours["cold_forecast_wall_s"], "s", ref["cold_forecast_wall_s"] / ours["cold_forecast_wall_s"],
                  "report", None),
             _row("disk per product", ref["disk_bytes"] / 1e6, disk_mb, "MB", ref["disk_bytes"] / ours["disk_bytes"],
                  "<= 2 MB", verdicts["disk_mb"]),
             _row("peak RSS of a process after training", ref["peak_rss_mb_after_train"], rss, "MB", None,
                  "<= 600 MB", verdicts["peak_rss_mb"])]
    detail = ", ".join(f"{k} {v:.2f}" for k, v in ours["train_detail_s"].items())
    lines.append(f"ours, first product, seconds per member (validation + final fit): {detail}")
    detail = ", ".join(f"{k} {v:.2f}" for k, v in ref["train_detail_s"].items())
    lines.append(f"reference, seconds per member (fit + validation forecast): {detail}")
    return "\n".join(lines), verdicts


ROUND_TRIP_ROWS = {
    "wait": "forecast job POST->result, Prefer: wait",
    "long_poll": "  POST, then GET /jobs/<id>?wait=",
    "poll": "  POST, then GET /jobs/<id> each ms",
    "computed": "  Prefer: wait, forecast computed",
}


def round_trip_table(trip: dict[str, Any]) -> tuple[str, dict[str, bool]]:
    """Return the job round-trip rows and the verdict (judged on POST->result with Prefer: wait)."""
    if "skipped" in trip:
        return f"round trip: skipped ({trip['skipped']})", {}
    noop, jobs = trip["noop_round_trip_s"], trip["forecast_job_round_trip_s"]
    met = jobs["wait"] / noop <= TARGETS["round_trip_vs_noop"]
    lines = [_row("Celery no-op task round trip (median)", None, 1000 * noop, "ms", None, "", None)]
    for kind, label in ROUND_TRIP_ROWS.items():
        lines.append(_row(label, None, 1000 * jobs[kind], "ms", jobs[kind] / noop,
                          "<= 3x no-op" if kind == "wait" else "report", met if kind == "wait" else None))
    lines.append(_row("first forecast job (training included)", None, trip["first_forecast_job_s"], "s", None,
                      "report", None))
    return "\n".join(lines), {"round_trip_vs_noop": met}


def accuracy_verdicts(acc: dict[str, Any]) -> dict[str, bool]:
    """Return the accuracy targets of every data set (bench.targets) as "<data set>: <figure>" -> met."""
    return {f"{name}: {v['figure']}": v["met"] for name, data in acc["datasets"].items() for v in data["verdicts"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=None,
                        help="accuracy on an even sample of N series per data set (default: bench.accuracy's)")
    parser.add_argument("--dataset", default="all", help="accuracy on this data set only (default all)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-round-trip", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args(argv)
    log = lambda text: print(text, flush=True)
    result: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "targets": TARGETS}
    verdicts: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        if not args.skip_speed:
            result["speed"] = speed(work, log)
            log(json.dumps(result["speed"], default=str))
        if not args.skip_round_trip:
            log("round trip: starting redis-server and two Celery workers ...")
            from bench.roundtrip import measure

            result["round_trip"] = measure(work / "round_trip")
        if "speed" in result:
            table, verdicts = speed_table(result)
            log("\n" + table)
        if result.get("round_trip"):
            table, met = round_trip_table(result["round_trip"])
            verdicts.update(met)
            log(table)
        if not args.skip_accuracy:
            command = ["bench.accuracy", "--dataset", args.dataset, "--out", str(work / "accuracy.json")]
            if args.series:
                command += ["--series", str(args.series)]
            log(f"\naccuracy: data set {args.dataset}, {args.series or 'default'} series (one core, one process) ...")
            _run_accuracy(command, work, result)
            if result.get("accuracy"):
                verdicts.update(accuracy_verdicts(result["accuracy"]))
    result["verdicts"] = verdicts
    if verdicts:
        log("\ntargets:\n" + "\n".join(f"  {k:70} {'met' if v else 'NOT MET'}" for k, v in verdicts.items()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    log(f"written: {path}")


def _run_accuracy(command: list[str], work: Path, result: dict[str, Any]) -> None:
    """Run bench.accuracy pinned and single-threaded; its progress and tables go straight to the terminal."""
    done = subprocess.run(pinned([sys.executable, "-m", *command]), cwd=ROOT, env={**os.environ, **ONE_THREAD},
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"accuracy failed ({done.returncode}); its output is above.")
    out = work / "accuracy.json"
    result["accuracy"] = json.loads(out.read_text()) if out.exists() else None


if __name__ == "__main__":
    main()
