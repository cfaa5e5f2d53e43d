"""Bulk retraining across hosts: 1 and 2 hosts, then one host killed mid-run (root; network namespaces).

    sudo .venv/bin/python -m bench.cluster [--products 1000] [--sample 100] [--hosts 2] [--kill-at 0.4]

Makes a bridge and network namespaces on this machine: `services` (PostgreSQL, RabbitMQ,
Redis for locks and job-end events, SeaweedFS's S3, each started here, bound to that host's
address only), `control` (beat; `manage.py` commands run there), and `h1`..`hN`, each running
the Procfile's training worker (`manage.py proc worker`, concurrency 1, pinned to a core of its
own; one of them also queues the batch's trainings) with its own var/ and model cache and no
model folder. Hosts reach the shared parts only over the bridge.

Imports Rossmann (1,115 stores as products), then retrains `--sample` of the first `--products`
products three times with `manage.py retrain IDS`: on 1 host, on 2 hosts, and on `--hosts` hosts
killing every process of the last one once `--kill-at` of the batch has ended. The time for all
`--products` is extrapolated from each run's products per minute (`--sample` >= `--products`
trains all of them in every run instead). Prints products per minute (1 and 2 hosts), the time
the batch took to finish after the kill, jobs lost, products trained twice, and model sets
readable from every host. `--cut-network` takes the host off the network before killing it
(no connection is closed: the broker learns of it from missed heartbeats only).

Beside the wall-clock figures it prints the CPU the training workers got and the products per
CPU-minute: on a machine whose cores other work keeps busy, the wall-clock scaling measures
that work; the cost per product carries over to hosts with a core each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, select

from bench import cluster_services as services
from bench.netns import Host, NamespacesUnavailable, Network
from config.settings import ROOT, load_settings

DATA = ROOT.parent / "shared" / "data" / "rossmann-store-sales" / "train.csv.gz"
RESULTS = ROOT / "bench" / "results"
TERMINAL = ("succeeded", "failed", "skipped", "cancelled")

#: Run in a host: load every set named in argv[1] the way a worker does (download into the host's
#: cache, signature and sha256s checked, members read); print how many loaded.
READER = """
import json, sys
from config.settings import load_settings, make_model_store
from forecasting.errors import ForecastingError
from forecasting.models.model_set import ModelSet
store = make_model_store(load_settings())
ok, failed = 0, []
for pid in map(int, sys.argv[1].split(",")):
    try:
        store.load(pid, ModelSet.load)
        ok += 1
    except (ForecastingError, OSError, ValueError) as exc:
        failed.append(f"{pid}: {exc}")
print(json.dumps({"ok": ok, "failed": failed[:5], "n_failed": len(failed)}))
"""


class Cluster:
    """The hosts of one bench run, the shared parts' settings, and the processes started in them."""

    def __init__(self, net: Network, work: Path, shared: services.Shared) -> None:
        self.net, self.work, self.shared = net, work, shared
        self.signing_key = secrets.token_hex(32)
        self.workers: dict[str, tuple[Host, subprocess.Popen]] = {}

    def env(self, host: Host) -> dict[str, str]:
        """Return the environment of a process of `host`: shared parts by address, every folder its own."""
        home = self.work / host.hostname
        var = home / "var"
        for folder in (var / "prometheus", var / "model-cache"):
            folder.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
            **self.shared.env(), "MODEL_SIGNING_KEYS": self.signing_key,
            # Every folder of its own: a model folder that is never made, a cache, samples, schedule.
            "FORECASTING_MODELS_PATH": str(home / "ml_models" / "forecasting"),
            "MODEL_STORE_CACHE_DIR": str(var / "model-cache"), "PROMETHEUS_MULTIPROC_DIR": str(var / "prometheus"),
            "MODEL_SIGNING_KEY_FILE": str(var / "model-signing.key"), "API_CONTROL_SOCKET": str(var / "gunicorn.ctl"),
            "BEAT_SCHEDULE": str(var / "celerybeat-schedule"),
            "WORKER_CONCURRENCY": "1", "FORECAST_WORKER_CONCURRENCY": "1", "LOG_LEVEL": "INFO",
            # Beat runs for its reconciler (a killed host's job is taken over after its heartbeat
            # stops); its stale scan would queue the untrained rest of the catalogue, so it waits a day.
            "RETRAIN_SCAN_INTERVAL_SECONDS": "86400",
        }

    def manage(self, host: Host, *args: str) -> str:
        """Run `manage.py ARGS` in `host`; return its output, or stop naming the command and its output."""
        done = subprocess.run(host.argv([sys.executable, "manage.py", *args]), cwd=ROOT, env=self.env(host),
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(args[:3])} ... failed in {host.hostname} ({done.returncode}):\n"
                             f"{done.stdout[-1500:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self, host: Host, process: str, core: int | None = None) -> subprocess.Popen:
        """Start the Procfile's `process` in `host` (`manage.py proc`), pinned to `core` if given."""
        pin = ["taskset", "-c", str(core)] if core is not None else []
        log = open(self.work / f"{host.hostname}-{process}.log", "ab")
        proc = subprocess.Popen(host.argv([*pin, sys.executable, "manage.py", "proc", process]), cwd=ROOT,
                                env=self.env(host), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.workers[f"{host.hostname}-{process}"] = (host, proc)
        return proc

    def wait_ready(self, celery, nodes: list[str], timeout: float = 300) -> None:
        """Wait until every Celery node in `nodes` answers a ping through the broker."""
        deadline = time.monotonic() + timeout
        while True:
            answered = {name for reply in celery.control.ping(timeout=1.0, destination=nodes) for name in reply}
            if set(nodes) <= answered:
                return
            dead = [name for name, (_, p) in self.workers.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise SystemExit(f"workers {sorted(set(nodes) - answered)} did not answer (exited: {dead}); "
                                 f"see the logs in {self.work}")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process, its live children and the children it reaped."""
    try:
        parent = psutil.Process(pid)
        t = parent.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in parent.children(recursive=True):
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return 0.0


def machine_busy_seconds() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def children(engine, batch_id: str) -> list[dict[str, Any]]:
    from jobs.table import jobs

    with engine.connect() as conn:
        rows = conn.execute(select(jobs.c.id, jobs.c.product_id, jobs.c.status, jobs.c.attempts, jobs.c.started_at,
                                   jobs.c.finished_at).where(jobs.c.parent_id == batch_id)).all()
    return [dict(r._mapping) for r in rows]


def succeeded_runs(engine, job_ids: list[str]) -> dict[int, int]:
    """Return, per product, how many trainings of these jobs ended with a saved set (training_runs)."""
    from forecasting.data.database import training_runs as runs

    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.product_id, func.count()).where(runs.c.job_id.in_(job_ids))
                            .where(runs.c.status == "succeeded").group_by(runs.c.product_id)).all()
    return {int(pid): int(n) for pid, n in rows}


def abandoned_runs(engine, job_ids: list[str]) -> int:
    """Return trainings of these jobs still marked running: cut short by a kill, never finished."""
    from forecasting.data.database import training_runs as runs

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(runs).where(runs.c.job_id.in_(job_ids))
                                .where(runs.c.status == "running")).scalar_one())


def run_batch(cluster: Cluster, ctl: Host, engine, ids: list[int], label: str,
              on_progress=None, timeout: float | None = None) -> dict[str, Any]:
    """Queue a bulk retrain of `ids` with `manage.py retrain` and follow it until it ends; return its figures."""
    from jobs import records

    cpu0 = {name: tree_cpu_seconds(p.pid) for name, (_, p) in cluster.workers.items()}
    busy0, wall0 = machine_busy_seconds(), time.monotonic()
    out = cluster.manage(ctl, "retrain", *map(str, ids), "--no-wait")
    batch_id = re.search(r"batch job (\S+)", out).group(1)
    timeout = timeout or max(600.0, 30.0 * len(ids))
    last_print = 0.0
    while True:
        batch = records.get_job(engine, job_id=batch_id)
        tally = records.batch_counts(engine, batch)
        ended = tally["succeeded"] + tally["failed"] + tally["skipped"] + tally["cancelled"]
        now = time.monotonic()
        if on_progress is not None:
            on_progress(ended, tally)
        if now - last_print >= 5 or batch["status"] in TERMINAL:
            rate = 60 * tally["succeeded"] / max(1e-9, now - wall0)
            print(f"  [{label}] {ended}/{tally['total'] or len(ids)} ended, {tally['running']} running, "
                  f"{tally['failed']} failed, {rate:.1f} per minute so far", flush=True)
            last_print = now
        if batch["status"] in TERMINAL or now - wall0 > timeout:
            break
        time.sleep(0.25)
    wall = time.monotonic() - wall0
    busy = machine_busy_seconds() - busy0
    cpu = {name: round(tree_cpu_seconds(p.pid) - cpu0.get(name, 0.0), 1) for name, (_, p) in cluster.workers.items()
           if name.split("-", 1)[1] == "worker"}  # the training workers, not the control host's beat
    rows = children(engine, batch_id)
    started = [r["started_at"] for r in rows if r["started_at"]]
    finished = [r["finished_at"] for r in rows if r["finished_at"]]
    # The workers' span: first training started to last ended (the CLI's own start-up left out).
    span = (max(finished) - min(started)).total_seconds() if started and finished else wall
    trained = succeeded_runs(engine, [r["id"] for r in rows])
    by_product = {r["product_id"]: r for r in rows}
    return {
        "batch_id": batch_id, "status": batch["status"], "counts": tally, "wall_seconds": round(wall, 1),
        "span_seconds": round(span, 1), "products_per_minute": round(60 * tally["succeeded"] / span, 2),
        "finished_at": batch["finished_at"],
        "lost": sum(1 for pid in ids if pid not in by_product or by_product[pid]["status"] not in TERMINAL),
        "failed": sum(1 for r in rows if r["status"] == "failed"),
        "trained_twice": sum(1 for n in trained.values() if n > 1),
        "trained": sum(trained.values()),
        "abandoned_runs": abandoned_runs(engine, [r["id"] for r in rows]),
        "redelivered": [{"product_id": r["product_id"], "attempts": r["attempts"], "started_at": r["started_at"],
                         "finished_at": r["finished_at"]} for r in rows if r["attempts"] > 1],
        "worker_cpu_seconds": cpu,
        "worker_cores": round(sum(cpu.values()) / wall, 2),
        # Products per CPU-minute the training workers got: the cost of a product wherever it runs.
        "products_per_cpu_minute": round(60 * tally["succeeded"] / max(1e-9, sum(cpu.values())), 2),
        "machine_busy_cores": round(busy / wall, 2),
    }


def readable_everywhere(cluster: Cluster, hosts: list[Host], ids: list[int]) -> dict[str, dict[str, Any]]:
    """Load every set of `ids` in each host (a process of its own there, its own cache); return the counts."""
    found = {}
    for host in hosts:
        done = subprocess.run(host.argv([sys.executable, "-c", READER, ",".join(map(str, ids))]), cwd=ROOT,
                              env=cluster.env(host), capture_output=True, text=True)
        lines = done.stdout.strip().splitlines()
        found[host.hostname] = json.loads(lines[-1]) if done.returncode == 0 and lines else \
            {"ok": 0, "n_failed": len(ids), "failed": [done.stderr[-500:]]}
    return found


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=1000, help="products of the bulk retrain (Rossmann stores)")
    parser.add_argument("--sample", type=int, default=100, help="products trained with the full models in each run")
    parser.add_argument("--hosts", type=int, default=2, choices=(2, 3), help="training hosts in the kill run")
    parser.add_argument("--kill-at", type=float, default=0.4, help="share of the kill run ended when a host dies")
    parser.add_argument("--cut-network", action="store_true",
                        help="take the host off the network before killing it (a power loss: no connection reset)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench.cluster makes network namespaces: run it as root.")
    if not DATA.exists():
        raise SystemExit(f"{DATA} not found (the shared Rossmann data set is needed).")
    work = Path(tempfile.mkdtemp(prefix="cluster-bench-"))
    work.chmod(0o755)  # PostgreSQL runs as its own user under it
    # SIGTERM ends the run as Ctrl-C does: through the finally below.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (nohup, a background job)
    net = None
    try:
        try:
            net = Network(f"fc{os.getpid() % 100000}")
            svc = net.add("services", 2)
        except NamespacesUnavailable as exc:
            raise SystemExit(f"blocked: network namespaces are not available here: {exc}") from exc
        report = measure(args, net, svc, work)
    except KeyboardInterrupt:
        print("interrupted: stopping every process and removing the namespaces", flush=True)
        raise SystemExit(130)
    finally:
        if net is not None:
            net.close()
        shutil.rmtree(work, ignore_errors=True)
    print_report(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(report, indent=2, default=str))


def measure(args: argparse.Namespace, net: Network, svc: Host, work: Path) -> dict[str, Any]:
    from forecasting.data.database import make_engine
    from forecasting.data.products import list_products
    from jobs.celery_app import create_celery

    print(f"network {net.prefix}.0/24 on bridge {net.bridge}; services at {svc.address}; logs in {work}", flush=True)
    busy0, wall0 = machine_busy_seconds(), time.monotonic()
    time.sleep(5)
    busy = (machine_busy_seconds() - busy0) / (time.monotonic() - wall0)
    idle_before = round(max(0.0, (os.cpu_count() or 1) - busy), 2)
    print(f"CPU free before the bench starts: {idle_before} of {os.cpu_count()} cores", flush=True)
    started = time.monotonic()
    _, database_url = services.start_postgres(svc, work)
    _, broker_url = services.start_rabbitmq(svc, work)
    _, redis_url = services.start_redis(svc, work)
    _, s3_url = services.start_seaweedfs(svc, work)
    shared = services.Shared(database_url, broker_url, redis_url, s3_url)
    print(f"shared parts up in {time.monotonic() - started:.0f} s: {shared.env()}", flush=True)
    ctl = net.add("control", 10)
    hosts = [net.add(f"h{n}", 10 + n) for n in range(1, args.hosts + 1)]
    cluster = Cluster(net, work, shared)
    cluster.manage(ctl, "db", "upgrade")
    started = time.monotonic()
    cluster.manage(ctl, "import-csv", str(DATA), "--key", "Store", "--date", "Date", "--quantity", "Sales")
    print(f"imported Rossmann over the network in {time.monotonic() - started:.0f} s", flush=True)
    settings = load_settings(environ=cluster.env(ctl), dotenv=None)
    engine, celery = make_engine(settings.database_url), create_celery(settings)
    ids = sorted(p["id"] for p in list_products(engine, limit=10**9, offset=0))[: args.products]
    sample = ids[: args.sample]
    cores = os.cpu_count() or 1
    core_of = {h.hostname: (n % cores) for n, h in enumerate(hosts)}
    cluster.start(ctl, "beat")
    report: dict[str, Any] = {"products": len(ids), "sample": len(sample), "cores": cores, "core_of": core_of,
                              "cores_free_before": idle_before,
                              "hosts_in_kill_run": args.hosts, "cut_network": args.cut_network}

    def start_hosts(some: list[Host]) -> None:
        for h in some:
            if f"{h.hostname}-worker" not in cluster.workers:
                cluster.start(h, "worker", core_of[h.hostname])
        cluster.wait_ready(celery, [f"training@{h.hostname}" for h in some])

    for n in (1, 2):
        start_hosts(hosts[:n])
        print(f"{n} host(s): retraining {len(sample)} products", flush=True)
        report[f"hosts_{n}"] = run_batch(cluster, ctl, engine, sample, f"{n} host(s)")
    report["scaling"] = round(report["hosts_2"]["products_per_minute"] / report["hosts_1"]["products_per_minute"], 2)
    # What 2 hosts would give with a whole core each, from the cost per product measured in each run.
    report["scaling_per_cpu"] = round(2 * report["hosts_2"]["products_per_cpu_minute"]
                                      / report["hosts_1"]["products_per_cpu_minute"], 2)
    report["extrapolated_minutes"] = {key: round(len(ids) / report[key]["products_per_minute"], 1)
                                      for key in ("hosts_1", "hosts_2")}

    start_hosts(hosts)
    victim = hosts[-1]
    killed: dict[str, Any] = {}

    # Half a product after the share is reached: the share is reached as a product ends, often the
    # victim's own, which then has just taken its next job; this way the kill lands mid-training.
    half_product = 30 / report["hosts_1"]["products_per_minute"]
    due: dict[str, float] = {}

    def kill_when_due(ended: int, tally: dict[str, int]) -> None:
        if killed or ended < args.kill_at * len(sample):
            return
        if time.monotonic() < due.setdefault("at", time.monotonic() + half_product):
            return
        if args.cut_network:
            victim.cut()
        killed.update(at=time.time(), monotonic=time.monotonic(), ended=ended, pids=len(victim.kill_all()))
        print(f"  killed every process of {victim.hostname} ({killed['pids']}) with {ended} of {len(sample)} "
              f"ended{' after cutting its link' if args.cut_network else ''}", flush=True)

    print(f"{len(hosts)} hosts: retraining {len(sample)} products, killing {victim.hostname} at "
          f"{args.kill_at:.0%}", flush=True)
    kill = run_batch(cluster, ctl, engine, sample, f"{len(hosts)} hosts, kill", on_progress=kill_when_due)
    if killed:
        end = datetime.fromisoformat(kill["finished_at"]).timestamp() if kill["finished_at"] else time.time()
        kill["kill"] = {"ended_before": killed["ended"], "remaining": len(sample) - killed["ended"],
                        "finish_after_kill_seconds": round(end - killed["at"], 1), "processes_killed": killed["pids"]}
        # The survivors' pace over the rest, the killed product's second start included: beside the
        # 1-host run's pace it shows what the loss cost (the load of the machine moves, so do both).
        kill["kill"]["products_per_minute_after"] = round(
            60 * kill["kill"]["remaining"] / max(1e-9, kill["kill"]["finish_after_kill_seconds"]), 2)
        for r in kill["redelivered"]:
            if r["started_at"]:
                r["restarted_after_kill_s"] = round(r["started_at"].timestamp() - killed["at"], 1)
    report["kill_run"] = kill
    if args.cut_network:
        victim.reconnect()  # the host comes back (no process of it running) and reads the sets too
    print("loading every set from every host", flush=True)
    report["readable"] = readable_everywhere(cluster, [ctl, *hosts], sample)
    report["readable_by"] = {h: v["ok"] for h, v in report["readable"].items()}
    return report


def print_report(r: dict[str, Any]) -> None:
    h1, h2, k = r["hosts_1"], r["hosts_2"], r["kill_run"]
    kill = k.get("kill", {})
    extrapolated = r["sample"] < r["products"]
    rows = [
        (f"products/min, 1 host ({r['sample']} products)", h1["products_per_minute"], ""),
        (f"products/min, 2 hosts ({r['sample']} products)", h2["products_per_minute"], ""),
        ("scaling 2 vs 1 host", r["scaling"], ">= 1.8"),
        ("CPU cores the training workers got, 1 / 2 hosts", f"{h1['worker_cores']} / {h2['worker_cores']}", "1 / 2"),
        ("whole machine busy, cores (1 / 2 hosts)", f"{h1['machine_busy_cores']} / {h2['machine_busy_cores']}",
         f"of {r['cores']}"),
        ("CPU free before the bench, cores", r["cores_free_before"], f"of {r['cores']}"),
        ("products per CPU-minute of the workers, 1 / 2 hosts",
         f"{h1['products_per_cpu_minute']} / {h2['products_per_cpu_minute']}", "equal"),
        ("scaling with a whole core per host (from the line above)", r["scaling_per_cpu"], ">= 1.8"),
        (f"{r['products']} products, {'extrapolated ' if extrapolated else ''}min (1 / 2 hosts)",
         f"{r['extrapolated_minutes']['hosts_1']} / {r['extrapolated_minutes']['hosts_2']}", ""),
        (f"kill run: {r['hosts_in_kill_run']} hosts, one killed after {kill.get('ended_before')} ended", "", ""),
        (f"  batch finished after the kill ({kill.get('remaining')} left), s", kill.get("finish_after_kill_seconds"), ""),
        ("  products/min after the kill, survivors / 1-host run",
         f"{kill.get('products_per_minute_after')} / {h1['products_per_minute']}", ""),
        ("  killed job(s) started again after the kill, s",
         ", ".join(str(x.get("restarted_after_kill_s")) for x in k["redelivered"]) or "-", ""),
        ("  jobs lost", k["lost"], "0"),
        ("  failed", k["failed"], "0"),
        ("  trained twice (training_runs)", k["trained_twice"], "0"),
        ("  trainings cut short by the kill (runs left running)", k["abandoned_runs"], ""),
        ("sets readable from every host", ", ".join(f"{h} {n}/{r['sample']}" for h, n in r["readable_by"].items()),
         "all"),
        ("lost / trained twice, 1- and 2-host runs", f"{h1['lost'] + h2['lost']} / "
                                                     f"{h1['trained_twice'] + h2['trained_twice']}", "0 / 0"),
    ]
    print(f"\n{'figure':58} {'ours':>30} {'target':>14}")
    for name, ours, target in rows:
        print(f"{name:58} {str(ours):>30} {target:>14}")


if __name__ == "__main__":
    main()
