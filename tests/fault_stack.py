"""A whole stack of real processes whose parts can be killed, stopped, filled or made read-only.

Its own Redis (append-only file, free port), optionally its own PostgreSQL (initdb and
pg_ctl as an unprivileged user, free port, temp dir), a model volume on a small tmpfs,
a training worker, a forecast worker and beat, all under one temp dir; the API runs in
this process. Used by the fault tests and by bench/faults.py.
"""

from __future__ import annotations

import errno
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, select

import launcher
from config.settings import ROOT
from forecasting.data.database import training_runs
from jobs.records import TERMINAL
from jobs.table import jobs
from tests import services
from tests.conftest import SMALL_MODELS

#: Recovery fast enough for a test: a heartbeat each second, lost after 6, a reconciler pass every 2 s.
FAST_RECOVERY = {
    "JOB_HEARTBEAT_SECONDS": 1, "JOB_HEARTBEAT_TIMEOUT_SECONDS": 6, "RECONCILE_INTERVAL_SECONDS": 2,
    "JOB_PUBLISH_GRACE_SECONDS": 3, "JOB_END_RETRY_SECONDS": 90, "RETRAIN_SCAN_INTERVAL_SECONDS": 36000,
    "MIN_FREE_DISK_MB": 1, "LOG_LEVEL": "INFO",
}
#: Even smaller models than the other integration tests: faults need many trainings, not good ones.
TINY_MODELS = {**SMALL_MODELS, "LSTM_EPOCHS": 1, "RF_TREES": 5}


def free_port() -> int:
    """Return a TCP port nothing listens on now, picked by the OS (never 0, which redis-py reads as 6379)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Unavailable(RuntimeError):
    """This machine cannot provide a part of the stack (no PostgreSQL binaries, mounting refused)."""


@dataclass
class OwnRedis:
    """A redis-server on a free port, persisted to an append-only file in `workdir`."""

    workdir: Path
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.port = self.port or free_port()
        self.proc, url = launcher.start_redis(self.port, self.workdir)
        assert url == self.url, (url, self.url)

    def kill(self) -> None:
        """SIGKILL: what it had written to its append-only file (fsync'd each second) is what comes back."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def postgres_bin() -> Path:
    """Return the folder of initdb and pg_ctl (the newest /usr/lib/postgresql/*/bin), or raise Unavailable."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    if which:
        return Path(which).parent
    raise Unavailable("no initdb found (install PostgreSQL's server binaries)")


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "faultpg"], check=True)
    return "faultpg"


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster of its own: initdb and pg_ctl in `workdir`, on a free port, never the machine's service."""

    workdir: Path
    port: int = 0
    user: str = ""

    def _as_user(self, *argv: str | Path) -> list[str]:
        argv_s = [str(a) for a in argv]
        return argv_s if os.geteuid() != 0 else ["runuser", "-u", self.user, "--", *argv_s]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/faults"

    def create(self) -> None:
        bindir = postgres_bin()
        self.bin = bindir
        self.user = _unprivileged_user() if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, self.user)
            self.workdir.chmod(0o700)
        data = self.workdir / "data"
        subprocess.run(self._as_user(bindir / "initdb", "-D", data, "-U", self.user, "--auth=trust", "-E", "UTF8",
                                     "--no-sync"), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.start()
        subprocess.run(self._as_user(bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                                     "faults"), check=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(self._as_user(self.bin / "pg_ctl", "-D", self.workdir / "data", "-l", self.workdir / "pg.log",
                                     "-o", options, "-w", "-t", "60", "start"), check=True, stdout=subprocess.DEVNULL)

    def stop(self, mode: str = "immediate") -> None:
        subprocess.run(self._as_user(self.bin / "pg_ctl", "-D", self.workdir / "data", "-m", mode, "-w", "stop"),
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class Volume:
    """A small tmpfs for the model store: it can be filled up and made read-only."""

    path: Path
    size_mb: int = 64
    filler: Path | None = None

    def mount(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0755", "tmpfs",
                               str(self.path)], capture_output=True, text=True)
        if done.returncode != 0:
            raise Unavailable(f"mounting a tmpfs was refused: {done.stderr.strip() or done.returncode}")

    def fill(self) -> None:
        """Write files until the volume has no byte left (ENOSPC is the expected end of each)."""
        for name, chunk in (("filler", 2**20), ("filler-tail", 512)):
            fd = os.open(self.path / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                while os.write(fd, b"\0" * chunk):
                    continue
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
            finally:
                os.close(fd)

    def empty(self) -> None:
        for name in ("filler", "filler-tail"):
            (self.path / name).unlink(missing_ok=True)

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@dataclass
class Stack:
    """The processes of one stack and the API app in this process."""

    root: Path
    env: dict[str, str]
    redis: OwnRedis
    postgres: OwnPostgres | None
    volume: Volume | None
    exits: ExitStack = field(default_factory=ExitStack)
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    app: Any = None

    @property
    def client(self):
        return self.app.test_client()

    @property
    def engine(self):
        return self.app.extensions["forecasting"].engine

    @property
    def store(self):
        return self.app.extensions["forecasting"].store

    # --- processes -------------------------------------------------------------------------
    def start_worker(self, name: str) -> subprocess.Popen:
        """Start `training` or `forecast` (1 child unless the env says more) and wait until it answers.

        `training` takes the Procfile worker's queues; `forecast` those of both forecast workers of
        the Procfile: one process serves a first forecast and a fresh set's here.
        """
        queues = {"training": launcher.worker_queues("worker"),
                  "forecast": ",".join(launcher.worker_queues(p) for p in ("forecast-worker",
                                                                           "forecast-training-worker"))}[name]
        concurrency = int(self.env["WORKER_CONCURRENCY" if name == "training" else "FORECAST_WORKER_CONCURRENCY"])
        proc = self.exits.enter_context(launcher.celery_worker(
            self.env, queues=queues, concurrency=concurrency, name=f"{name}-{time.monotonic_ns()}",
            log=self.root / f"{name}.log", timeout=180))
        self.workers[name] = proc
        return proc

    def start_beat(self) -> None:
        log = open(self.root / "beat.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.entry", "beat", "--schedule", str(self.root / "beat-schedule")],
            cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT)
        self.workers["beat"] = proc

        def stop() -> None:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
            log.close()
        self.exits.callback(stop)

    def kill_worker(self, name: str) -> None:
        """SIGKILL a whole worker: its main process and every child at once."""
        main = psutil.Process(self.workers[name].pid)
        for proc in [main, *main.children(recursive=True)]:
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                continue
        self.workers[name].wait(30)

    def kill_child(self, name: str) -> int:
        """SIGKILL the pool child of a worker (the worker starts another); return its pid."""
        children = psutil.Process(self.workers[name].pid).children()
        assert len(children) == 1, children
        os.kill(children[0].pid, signal.SIGKILL)
        return children[0].pid

    def kill_running_child(self, kind: str = "train") -> int | None:
        """SIGKILL the process running a job of `kind` (its owner); return its pid, None when none runs."""
        with self.engine.connect() as conn:
            owners = conn.execute(select(jobs.c.owner).where(jobs.c.status == "running", jobs.c.kind == kind,
                                                             jobs.c.owner.is_not(None))).scalars().all()
        for owner in owners:
            pid = int(owner.rpartition(":")[2])
            try:
                os.kill(pid, signal.SIGKILL)
                return pid
            except ProcessLookupError:
                continue
        return None

    # --- jobs ------------------------------------------------------------------------------
    def job(self, job_id: str) -> dict[str, Any]:
        from jobs.records import get_job

        return get_job(self.engine, job_id=job_id)

    def wait_running(self, job_id: str, timeout: float = 240, percent: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] == "running" and job["progress"] >= percent:
                return
            if job["status"] in TERMINAL:
                raise AssertionError(f"job {job_id} ended before it could be interrupted: {job}")
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} never ran")

    def wait_ended(self, job_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Wait until every job has ended (or `timeout` s); return each job as it is then."""
        deadline = time.monotonic() + timeout
        while True:
            found = {job_id: self.job(job_id) for job_id in job_ids}
            if all(j["status"] in TERMINAL for j in found.values()) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    def succeeded_runs(self) -> dict[str, int]:
        """Return how many training runs succeeded per job: more than one is work done twice."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(training_runs.c.job_id, func.count())
                                .where(training_runs.c.status == "succeeded").group_by(training_runs.c.job_id)).all()
        return {job_id: int(n) for job_id, n in rows if job_id}

    def open_runs(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(training_runs)
                                    .where(training_runs.c.status == "running")).scalar_one())

    def all_job_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(jobs.c.id)).scalars())


@contextmanager
def fault_stack(*, postgres: bool = False, volume_mb: int | None = None, models: dict[str, Any] | None = None,
                products: dict[int, int] | None = None, beat: bool = True, workers: tuple[str, ...] = ("training",
                "forecast"), concurrency: int = 1, **overrides: Any) -> Iterator[Stack]:
    """Run a stack of real processes: its own Redis, SQLite (or its own PostgreSQL), workers and beat.

    `products` maps product id to days of history (default: 1 and 2 with 400 days each).
    """
    from api import create_app
    from forecasting.data.products import create_product
    from forecasting.data.sales import upsert_sales
    from tests.api.conftest import history

    with tempfile.TemporaryDirectory(prefix="faults-") as tmp, ExitStack() as cleanup:
        root = Path(tmp)
        root.chmod(0o755)
        own_redis = OwnRedis(root / "redis")
        own_redis.start()
        cleanup.callback(own_redis.stop)
        own_pg = None
        if postgres:
            own_pg = OwnPostgres(root / "pg")
            own_pg.create()
            cleanup.callback(own_pg.stop, "fast")
        vol = None
        models_dir = root / "models"
        if volume_mb:
            vol = Volume(root / "volume", size_mb=volume_mb)
            vol.mount()
            cleanup.callback(vol.unmount)
            models_dir = vol.path / "models"
        env = {k: str(v) for k, v in {**(models or TINY_MODELS), **FAST_RECOVERY}.items()}
        database_url = own_pg.url if own_pg else f"sqlite:///{root / 'sales.db'}"
        env.update(DATABASE_URL=database_url, REDIS_URL=own_redis.url, FORECASTING_MODELS_PATH=str(models_dir),
                   MODEL_SIGNING_KEYS="fault-suite-signing-key-0123456789abcdef",
                   PROMETHEUS_MULTIPROC_DIR=str(root / "prometheus"), BEAT_SCHEDULE=str(root / "beat-schedule"),
                   WORKER_CONCURRENCY=str(concurrency), FORECAST_WORKER_CONCURRENCY="1")
        env.update({k: str(v) for k, v in overrides.items()})
        services.migrated(database_url)
        stack = Stack(root=root, env=env, redis=own_redis, postgres=own_pg, volume=vol)
        stack.app = create_app({**env, "LOG_LEVEL": "CRITICAL"})
        for pid, days in (products or {1: 400, 2: 400}).items():
            create_product(stack.engine, name=f"p{pid}", product_id=pid)
            # Each product its own level, so two products' sets never look alike.
            upsert_sales(stack.engine, product_id=pid, rows=[(d, q + pid % 17) for d, q in history(days)])
        with stack.exits:
            for name in workers:
                stack.start_worker(name)
            if beat:
                stack.start_beat()
            yield stack
        stack.app.extensions["forecasting"].engine.dispose()


def probe(stack: Stack, calls: list[tuple[str, str, Any]]) -> list[tuple[str, int, str]]:
    """Call each (method, path, body) on the API; return (path, status, title or '') of each answer."""
    seen = []
    for method, path, body in calls:
        response = getattr(stack.client, method)(path, **({"json": body} if body is not None else {}))
        title = response.json.get("title", "") if response.is_json and isinstance(response.json, dict) else ""
        seen.append((path, response.status_code, title))
    return seen


def retry_until(check: Callable[[], bool], timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False

