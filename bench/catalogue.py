"""Bulk retraining of a real catalogue (Rossmann, 1,115 stores) with 1 and 2 worker processes.

    .venv/bin/python -m bench.catalogue [--sample 100] [--products 1000]
    .venv/bin/python -m bench.catalogue --sample 1000 --processes 2   # the whole catalogue, trained

Full three-model trainings run on a sample (about a second each on one core); the
orchestration of all 1,000 jobs is measured with the same jobs doing no training (every
set fresh, so each job takes its lock, loads the history, checks the fingerprint and is
skipped). The full retrain time is extrapolated from the sample's products per minute;
``--sample 1000`` trains all of them instead.
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from celery import Celery

from config.settings import ROOT, load_settings
from forecasting.data import sales_token
from forecasting.data.ingest import import_csv
from forecasting.data.sales import all_fingerprints
from forecasting.lifecycle.stale_scan import stale_products
from forecasting.store import model_info
from jobs import records
from jobs.celery_app import create_celery
from jobs.dispatch import submit
from launcher import celery_worker, scratch_stack, worker_queues
from workers.runtime import Runtime

DATA = ROOT.parent / "shared" / "data" / "rossmann-store-sales" / "train.csv.gz"
RESULTS = ROOT / "bench" / "results"


class PeakRss:
    """Sample the resident memory of a worker's child processes in the background."""

    def __init__(self, parent: psutil.Process) -> None:
        self.parent, self.peak, self._stop = parent, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            for child in self.parent.children():
                try:
                    self.peak = max(self.peak, child.memory_info().rss)
                except psutil.NoSuchProcess:
                    pass

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_batch(rt: Runtime, celery: Celery, ids: list[int], force: bool) -> tuple[float, dict[str, Any]]:
    """Queue one batch and wait for it; return wall seconds and the final batch job."""
    started = time.perf_counter()
    batch = submit(rt.engine, celery, kind="batch", product_id=None,
                   params={"selection": "ids", "product_ids": ids, "force": force})
    while (batch := records.get_job(rt.engine, job_id=batch["id"]))["status"] not in records.TERMINAL:
        time.sleep(0.2)
    return time.perf_counter() - started, batch


def audit(rt: Runtime, batch: dict[str, Any], ids: list[int]) -> dict[str, int]:
    """Count lost and duplicated jobs of a batch: each product must have exactly one ended job."""
    from sqlalchemy import func, select

    from jobs.table import jobs as table

    with rt.engine.connect() as conn:
        rows = conn.execute(select(table.c.product_id, func.count(), func.min(table.c.status))
                            .where(table.c.parent_id == batch["id"]).group_by(table.c.product_id)).all()
    per_product = {pid: n for pid, n, _ in rows}
    return {
        "lost": sum(1 for pid in ids if pid not in per_product),
        "duplicated": sum(n - 1 for n in per_product.values() if n > 1),
        "not_ended": sum(1 for _, _, status in rows if status not in records.TERMINAL),
    }


def clone_fresh_sets(rt: Runtime, source: int, ids: list[int]) -> None:
    """Give every product a model set that is fresh for its own data (copied from `source`, signed again)."""
    summaries = all_fingerprints(rt.engine, product_ids=ids)
    with rt.engine.connect() as conn:
        tokens = sales_token.current_tokens(conn, product_ids=ids)
    template = rt.store.path(source)
    info = json.loads((template / "model_info.json").read_text())
    for pid in ids:
        if rt.store.read_info(pid) is not None:
            continue
        target = rt.store.path(pid)
        shutil.copytree(template, target)
        s = summaries[pid]
        info.update(product_id=pid)
        info["data"] = {**info["data"], "fingerprint": s.fingerprint, "rows": s.rows,
                        "start": s.start.isoformat(), "end": s.end.isoformat(), "sales_token": tokens[pid]}
        # Signed with the store's key, as a training would: an unsigned copy is untrusted and retrained.
        (target / "model_info.json").write_text(model_info.dumps(rt.store.signer.sign(info)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=100, help="products trained with the full models")
    parser.add_argument("--products", type=int, default=1000, help="products in the orchestration run")
    parser.add_argument("--processes", default="1,2", help="worker process counts to measure, e.g. 2")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} not found (the shared Rossmann data set is needed)")
        return
    with scratch_stack("catalogue-bench-", 6391) as (work, redis_url):
        env = {"DATABASE_URL": f"sqlite:///{work / 'sales.db'}", "REDIS_URL": redis_url,
               "FORECASTING_MODELS_PATH": str(work / "models"), "LOG_LEVEL": "WARNING"}
        report = measure(args, env, work)
    print_report(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "catalogue.json").write_text(json.dumps(report, indent=2))


def measure(args: argparse.Namespace, env: dict[str, str], work: Path) -> dict[str, Any]:
    settings = load_settings(overrides=env)
    rt, celery = Runtime.create(settings), create_celery(settings)
    from forecasting.data import migrations

    migrations.upgrade(rt.engine)
    imported = import_csv(rt.engine, DATA, key_columns=["Store"], date_column="Date", quantity_column="Sales")
    started = time.perf_counter()
    stale, counts = stale_products(engine=rt.engine, store=rt.store, policy=rt.policy)
    report: dict[str, Any] = {
        "import": {"rows": imported.rows, "products": imported.products_total, "seconds": round(imported.seconds, 1)},
        "scan": {"products": counts["products"], "seconds": round(time.perf_counter() - started, 3)},
    }
    ids = sorted(pid for pid, _ in stale)[: args.products]
    sample = ids[: args.sample]
    for procs in [int(n) for n in args.processes.split(",")]:
        # The Procfile's training worker: it queues the batch's children too, between trainings.
        with celery_worker(env, queues=worker_queues("worker"), concurrency=procs, name=f"training{procs}",
                           log=work / "training.log") as training, \
                PeakRss(psutil.Process(training.pid)) as rss:
            train_s, batch = run_batch(rt, celery, sample, force=True)
            trained = records.batch_counts(rt.engine, batch)
            if not trained["succeeded"]:
                failures = records.list_children_failed(rt.engine, parent_id=batch["id"], limit=3)
                raise SystemExit(f"no product trained with {procs} process(es): {trained}; {failures}")
            clone_fresh_sets(rt, sample[0], ids)
            noop_s, noop_batch = run_batch(rt, celery, ids, force=False)
        report[f"procs_{procs}"] = {
            "sample": len(sample), "sample_seconds": round(train_s, 1), "sample_counts": trained,
            "products_per_minute": round(60 * trained["succeeded"] / train_s, 2),
            "noop_products": len(ids), "noop_seconds": round(noop_s, 1),
            "noop_counts": records.batch_counts(rt.engine, noop_batch),
            "overhead_pct": round(100 * (noop_s / len(ids)) / (train_s / len(sample)), 2),
            "peak_child_rss_mb": round(rss.peak / 2**20),
            "audit_sample": audit(rt, batch, sample), "audit_noop": audit(rt, noop_batch, ids),
        }
    started = time.perf_counter()
    _, counts = stale_products(engine=rt.engine, store=rt.store, policy=rt.policy)
    report["scan_unchanged"] = {"products": counts["products"], "fresh": counts["fresh"],
                                "seconds": round(time.perf_counter() - started, 3)}
    sizes = [rt.store.total_bytes(pid) for pid in sample]
    report["disk_per_product_mb"] = round(sum(sizes) / len(sizes) / 2**20, 2)
    runs = {key: value["products_per_minute"] for key, value in report.items() if key.startswith("procs_")}
    if {"procs_1", "procs_2"} <= set(runs):
        report["scaling"] = round(runs["procs_2"] / runs["procs_1"], 2)
    report["extrapolated_full_retrain_minutes"] = {key: round(len(ids) / rate, 1) for key, rate in runs.items()}
    return report


def print_report(r: dict[str, Any]) -> None:
    runs = {key: value for key, value in r.items() if key.startswith("procs_")}
    if set(runs) != {"procs_1", "procs_2"}:
        for key, run in runs.items():
            print(f"{key}: {run['sample']} products trained in {run['sample_seconds']} s "
                  f"({run['products_per_minute']} per minute), counts {run['sample_counts']}, "
                  f"peak child RSS {run['peak_child_rss_mb']} MB, audit {run['audit_sample']}")
        return
    p1, p2 = r["procs_1"], r["procs_2"]
    rows = [
        ("import Rossmann (rows / s)", f"{r['import']['rows']:,} / {r['import']['seconds']}", ""),
        ("stale scan of all products, s", f"{r['scan']['seconds']} ({r['scan']['products']} products)", "cheap"),
        ("  again once sets are fresh, s", f"{r['scan_unchanged']['seconds']} ({r['scan_unchanged']['fresh']} fresh)",
         "cheap"),
        ("products/min, 1 process (full models)", p1["products_per_minute"], ""),
        ("products/min, 2 processes (full models)", p2["products_per_minute"], ""),
        ("scaling 2 vs 1", r["scaling"], ">= 1.8"),
        ("orchestration overhead, 1 process, %", p1["overhead_pct"], "<= 5"),
        ("orchestration overhead, 2 processes, %", p2["overhead_pct"], "<= 5"),
        ("no-op batch of all products, s (1 / 2 proc)", f"{p1['noop_seconds']} / {p2['noop_seconds']}", ""),
        ("peak RSS per worker child, MB", max(p1["peak_child_rss_mb"], p2["peak_child_rss_mb"]), ""),
        ("disk per product, MB", r["disk_per_product_mb"], "seed: ~25"),
        ("lost / duplicated jobs", f"{sum(a['lost'] for p in (p1, p2) for a in (p['audit_sample'], p['audit_noop']))}"
                                   f" / {sum(a['duplicated'] for p in (p1, p2) for a in (p['audit_sample'], p['audit_noop']))}",
         "0 / 0"),
        ("full retrain of all, extrapolated min (1 / 2 proc)",
         f"{r['extrapolated_full_retrain_minutes']['procs_1']} / {r['extrapolated_full_retrain_minutes']['procs_2']}",
         "seed: overnight"),
    ]
    print(f"{'figure':52} {'ours':>28} {'target':>16}")
    for name, ours, target in rows:
        print(f"{name:52} {str(ours):>28} {target:>16}")


if __name__ == "__main__":
    main()
