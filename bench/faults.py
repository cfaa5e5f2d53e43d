"""Faults under a bulk retrain: does every accepted job end, truthfully and once, and how soon after the part is back?

One stack (tests.fault_stack: real workers and beat, its own Redis, its own PostgreSQL, a
tmpfs model volume) runs a bulk retrain of every product (`POST /models/retrain {"all": true}`)
and the faults strike one after another while trainings run, each once the jobs the last
one interrupted are no longer left to a lost attempt. Printed per fault: the jobs it met (not ended when it struck, or
accepted while the part was down), how many succeeded, failed with their reasons, were lost
(never ended), duplicated (trainings that ran to the end twice for one job), and the seconds
from the part coming back until every job running when it struck had ended. `--separate`
gives each fault a stack and a bulk retrain of its own instead.

    .venv/bin/python -m bench.faults                       # 200 products, every fault (needs root for the tmpfs)
    .venv/bin/python -m bench.faults --products 40 --faults child,redis --separate
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from jobs import records
from tests.fault_stack import TINY_MODELS, Stack, Unavailable, fault_stack

# The shortest history a product may train on: the bench measures recovery, not models.
HISTORY_DAYS = 120
MODELS = {**TINY_MODELS, "VALIDATION_DAYS": 14, "LSTM_MAX_TRAIN_WINDOWS": 60}


@dataclass
class Row:
    fault: str
    accepted: int = 0
    succeeded: int = 0
    failed: Counter = field(default_factory=Counter)
    cancelled: int = 0
    lost: int = 0
    duplicated: int = 0
    recover_s: float | None = None
    ended_s: float | None = None
    down_s: float = 0.0
    total_s: float = 0.0
    api_statuses: Counter = field(default_factory=Counter)
    note: str = ""


def _running(stack: Stack) -> list[str]:
    from sqlalchemy import select

    from jobs.table import jobs

    with stack.engine.connect() as conn:
        return list(conn.execute(select(jobs.c.id).where(jobs.c.status == "running", jobs.c.owner.is_not(None)))
                    .scalars())


def _probe(stack: Stack, row: Row, forecasts: list[str]) -> None:
    for method, path, body in (("get", "/api/v1/products/1", None), ("post", "/api/v1/forecast", {"product_id": 1}),
                               ("get", "/api/v1/health", None)):
        response = getattr(stack.client, method)(path, **({"json": body} if body is not None else {}))
        row.api_statuses[response.status_code] += 1
        if path.endswith("forecast") and response.status_code == 202:
            forecasts.append(response.json["job_id"])


# Each fault: (stack options, inject) where inject(stack, probe) breaks the part, probes the API while it
# is down, brings the part back, and returns the monotonic time it came back.
def _child(stack: Stack, probe: Callable[[], None]) -> float:
    stack.kill_running_child()
    probe()
    return time.monotonic()


def _worker(stack: Stack, probe: Callable[[], None]) -> float:
    stack.kill_worker("training")
    probe()
    time.sleep(2)
    stack.start_worker("training")
    return time.monotonic()


def _forecast_worker(stack: Stack, probe: Callable[[], None]) -> float:
    stack.kill_worker("forecast")
    probe()
    time.sleep(2)
    stack.start_worker("forecast")
    return time.monotonic()


def _redis(stack: Stack, probe: Callable[[], None]) -> float:
    stack.redis.kill()
    probe()
    time.sleep(5)
    stack.redis.start()
    return time.monotonic()


def _postgres(stack: Stack, probe: Callable[[], None]) -> float:
    stack.postgres.stop("immediate")
    probe()
    time.sleep(10)
    stack.postgres.start()
    return time.monotonic()


def _full_disk(stack: Stack, probe: Callable[[], None]) -> float:
    stack.volume.fill()
    probe()
    time.sleep(20)
    stack.volume.empty()
    return time.monotonic()


def _read_only(stack: Stack, probe: Callable[[], None]) -> float:
    stack.volume.remount("ro")
    probe()
    time.sleep(20)
    stack.volume.remount("rw")
    return time.monotonic()


FAULTS: dict[str, tuple[dict, Callable[[Stack, Callable[[], None]], float]]] = {
    "kill -9 training child": ({}, _child),
    "kill -9 training worker": ({}, _worker),
    "kill -9 forecast worker": ({}, _forecast_worker),
    "Redis killed, restarted with its data": ({}, _redis),
    "PostgreSQL stopped 10 s, started": ({"postgres": True}, _postgres),
    "model volume full 20 s": ({"volume_mb": 64}, _full_disk),
    "model volume read-only 20 s": ({"volume_mb": 64}, _read_only),
}
SHORT = {"child": "kill -9 training child", "worker": "kill -9 training worker",
         "forecast": "kill -9 forecast worker", "redis": "Redis killed, restarted with its data",
         "postgres": "PostgreSQL stopped 10 s, started", "full": "model volume full 20 s",
         "readonly": "model volume read-only 20 s"}


def _snapshot(stack: Stack) -> tuple[list[str], list[str]]:
    """Return (jobs not ended, of them the trainings and forecasts running in a process)."""
    from sqlalchemy import select

    from jobs.table import jobs

    with stack.engine.connect() as conn:
        rows = conn.execute(select(jobs.c.id, jobs.c.kind, jobs.c.status, jobs.c.owner)
                            .where(jobs.c.status.not_in(records.TERMINAL))).all()
    # A batch runs until its last child ends: waiting for it is waiting for the whole bulk retrain.
    return [r.id for r in rows], [r.id for r in rows if r.status == "running" and r.owner and r.kind != "batch"]


def _tally(stack: Stack, row: Row, job_ids: list[str]) -> None:
    runs = stack.succeeded_runs()
    row.accepted = len(job_ids)
    for job_id in job_ids:
        job = stack.job(job_id)
        if job["status"] in ("succeeded", "skipped"):
            row.succeeded += 1
        elif job["status"] == "failed":
            row.failed[records.split_error(job["error"])[0]] += 1
        elif job["status"] == "cancelled":
            row.cancelled += 1
        else:
            row.lost += 1
        row.duplicated += max(0, runs.get(job_id, 0) - 1)


def _wait_all_ended(stack: Stack, job_ids: list[str], deadline: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() < deadline:
        if all(stack.job(j)["status"] in records.TERMINAL for j in job_ids):
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def _ended_after(stack: Stack, job_ids: list[str], back: datetime) -> float | None:
    """Seconds from `back` until the last of the jobs ended (None if one has not)."""
    jobs_ = [stack.job(j) for j in job_ids]
    if not jobs_ or any(j["finished_at"] is None for j in jobs_):
        return None if jobs_ else 0.0
    # 0 when they all ended while the part was still away (failed saying so, or needed nothing of it).
    return max(0.0, max((datetime.fromisoformat(j["finished_at"]) - back).total_seconds() for j in jobs_))


def _truthful(job: dict, attempts_then: int) -> bool:
    # Ended; or back in the queue, published; or running again under a new attempt.
    return job["status"] in records.TERMINAL or (job["status"] == "queued" and job["published_at"] is not None) \
        or (job["status"] == "running" and job["attempts"] > attempts_then)


def _wait_recovered(stack: Stack, job_ids: list[str], deadline: float) -> float | None:
    """Seconds until every job the fault interrupted shows where it truly is (none still held by a lost attempt)."""
    started = time.monotonic()
    then = {j: stack.job(j)["attempts"] for j in job_ids}
    while time.monotonic() < deadline:
        if all(_truthful(stack.job(j), then[j]) for j in job_ids):
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def run_sequence(names: list[str], products: int, timeout: float) -> list[Row]:
    """One stack with every part (its own PostgreSQL, tmpfs volume), one bulk retrain, the faults one after another.

    A fault's row counts the jobs it met: those not ended when it struck, and those accepted while
    the part was down. The next fault strikes once every job the last one interrupted has ended.
    """
    rows = {name: Row(fault=name) for name in names}
    exposed: dict[str, list[str]] = {}
    interrupted: dict[str, tuple[list[str], datetime]] = {}
    started = time.monotonic()
    with fault_stack(postgres=True, volume_mb=512, models=MODELS, concurrency=2,
                     products={pid: HISTORY_DAYS for pid in range(1, products + 1)}) as stack:
        response = stack.client.post("/api/v1/models/retrain", json={"all": True})
        assert response.status_code == 202, response.json
        batch_id = response.json["job_id"]
        for name in names:
            row, (_, inject) = rows[name], FAULTS[name]
            # Strike while trainings run.
            while not _snapshot(stack)[1]:
                if stack.job(batch_id)["status"] in records.TERMINAL:
                    row.note = "not run: the bulk retrain had ended"
                    break
                time.sleep(0.3)
            if row.note:
                continue
            pending, running = _snapshot(stack)
            forecasts: list[str] = []
            struck = time.monotonic()
            back = inject(stack, lambda: _probe(stack, row, forecasts))
            row.down_s = back - struck
            exposed[name] = pending + forecasts
            interrupted[name] = (running + forecasts, datetime.now(timezone.utc) - timedelta(
                seconds=time.monotonic() - back))
            row.recover_s = _wait_recovered(stack, running, back + timeout)
            print(f"{name}: {len(running)} running and {len(pending) - len(running)} queued when it struck; "
                  f"recovered in {_s(row.recover_s)} s", flush=True)
        _wait_all_ended(stack, [batch_id], time.monotonic() + timeout)
        for name, job_ids in exposed.items():
            _tally(stack, rows[name], job_ids)
            rows[name].ended_s = _ended_after(stack, *interrupted[name])
        whole = Row(fault=f"whole bulk retrain ({products} products)")
        _tally(stack, whole, stack.all_job_ids())
        whole.total_s = time.monotonic() - started
    return [*rows.values(), whole]


def run_fault(name: str, products: int, after_ended: int, timeout: float) -> Row:
    """One stack and one bulk retrain for this fault alone."""
    options, inject = FAULTS[name]
    row = Row(fault=name)
    started = time.monotonic()
    try:
        with fault_stack(products={pid: HISTORY_DAYS for pid in range(1, products + 1)}, models=MODELS,
                         concurrency=2, **options) as stack:
            response = stack.client.post("/api/v1/models/retrain", json={"all": True})
            assert response.status_code == 202, response.json
            batch_id = response.json["job_id"]
            while True:
                counts = stack.client.get(f"/api/v1/jobs/{batch_id}").json.get("counts") or {}
                done = counts.get("succeeded", 0) + counts.get("failed", 0) + counts.get("skipped", 0)
                if done >= after_ended and counts.get("running"):
                    break
                time.sleep(0.3)
            _, running = _snapshot(stack)
            forecasts: list[str] = []
            struck = time.monotonic()
            back = inject(stack, lambda: _probe(stack, row, forecasts))
            row.down_s = back - struck
            row.recover_s = _wait_recovered(stack, running, back + timeout)
            row.ended_s = _wait_all_ended(stack, running + forecasts, back + timeout)
            _wait_all_ended(stack, [batch_id, *forecasts], back + timeout)
            _tally(stack, row, stack.all_job_ids())
    except Unavailable as exc:
        row.note = f"not run: {exc}"
    row.total_s = time.monotonic() - started
    return row


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f}"


def print_table(rows: list[Row], title: str) -> None:
    print(f"\n{title}\naccepted: jobs the fault met (not ended when it struck, or accepted while the part was "
          "down); succeeded includes skipped; lost: not ended at the end; dup: trainings run to the end twice "
          "for one job; down: s the part was away; recover: s from the part back until every job running when "
          "it struck was ended, queued again or running again (none left to a lost attempt); ended: s until they "
          "had all ended (a requeued job waits its turn behind the bulk retrain)")
    header = f"{'fault':40} {'accepted':>8} {'succeeded':>9} {'lost':>4} {'dup':>3} {'down s':>6} {'recover s':>9} " \
             f"{'ended s':>8}  {'failed (reasons)':34} API answers while down"
    print(header)
    print("-" * len(header))
    for r in rows:
        if r.note:
            print(f"{r.fault:40} {r.note}")
            continue
        failed = ", ".join(f"{n} {code}" for code, n in r.failed.items()) or "0"
        whole = bool(r.total_s and not r.down_s)
        recover = "-" if whole else _s(r.recover_s)
        ended = "-" if whole else _s(r.ended_s)
        statuses = ", ".join(f"{n}x{code}" for code, n in sorted(r.api_statuses.items()))
        down = f"{r.down_s:.0f}" if r.down_s else "-"
        statuses = statuses or f"(whole run {r.total_s:.0f} s)"
        print(f"{r.fault:40} {r.accepted:>8} {r.succeeded:>9} {r.lost:>4} {r.duplicated:>3} {down:>6} {recover:>9} "
              f"{ended:>8}  {failed:34} {statuses}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--separate", action="store_true",
                        help="a stack and a bulk retrain per fault (slower) instead of one for all, in sequence")
    parser.add_argument("--faults", default=",".join(SHORT), help=f"comma-separated, of: {', '.join(SHORT)}")
    parser.add_argument("--after-ended", type=int, default=5, help="trainings ended before the fault")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds after the part is back before giving up")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # A stop by SIGTERM unwinds like Ctrl-C, so the stack's processes, PostgreSQL and tmpfs are cleaned up.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"stopped by signal {signum}"))
    names = [SHORT[short.strip()] for short in args.faults.split(",")]
    if not args.separate:
        print_table(run_sequence(names, args.products, args.timeout),
                    f"One bulk retrain of {args.products} products, the faults one after another")
        return
    rows = []
    for name in names:
        rows.append(run_fault(name, args.products, args.after_ended, args.timeout))
        print_table(rows[-1:], f"Bulk retrain of {args.products} products, this fault alone")
    print_table(rows, f"Bulk retrain of {args.products} products per fault, each on its own stack")


if __name__ == "__main__":
    main()
