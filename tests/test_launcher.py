"""The launcher: the Procfile as the one source of process lines, and a real start and stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import redis

import launcher
from config.settings import ROOT, Settings
from tests import services


def tiny_procfile(tmp_path: Path, *extra: str) -> Path:
    """Write a Procfile whose process `probe` records its pid, Redis URL and API_PORT, then sleeps."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "Path(sys.argv[1]).write_text(f\"{os.getpid()} {os.environ.get('REDIS_URL')} {sys.argv[2]}\")\n"
        "time.sleep(600)\n"
    )
    procfile = tmp_path / "Procfile"
    lines = [f'probe: "${{PYTHON}}" {script} {tmp_path / "probe.out"} "${{API_PORT}}"', *extra]
    procfile.write_text("# a comment line is not a process\n" + "\n".join(lines) + "\n")
    return procfile


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> str:
    """Return the text of `path` once written; fail if `proc` exits or time runs out first."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert proc.poll() is None, f"exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{path} not written in {timeout} s"
        time.sleep(0.1)
    return path.read_text()


def alive(pid: int) -> bool:
    """Tell whether `pid` still runs (a zombie awaiting its reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def run_launcher(tmp_path: Path, procfile: Path, **settings: object) -> subprocess.Popen:
    """Run launcher.run in its own process, with `settings` and a var/ folder under `tmp_path`; log to launcher.log."""
    code = ("import sys, launcher\nfrom pathlib import Path\nfrom config.settings import Settings\n"
            "from config.logs import configure_logging\nconfigure_logging('WARNING')\n"
            f"sys.exit(launcher.run(Settings(**{settings!r}), procfile=Path({str(procfile)!r}), "
            f"var=Path({str(tmp_path / 'var')!r})))")
    with open(tmp_path / "launcher.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=log)


@contextmanager
def launched(tmp_path: Path, procfile: Path, **settings: object) -> Iterator[subprocess.Popen]:
    """Run the launcher for the block; Ctrl-C (SIGINT) at its end must stop it cleanly (exit 0)."""
    proc = run_launcher(tmp_path, procfile, **settings)
    try:
        yield proc
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def log_lines(tmp_path: Path, msg: str) -> list[dict]:
    """Return the launcher's JSON log lines whose message is `msg`."""
    import json

    lines = (tmp_path / "launcher.log").read_text().splitlines()
    return [entry for entry in (json.loads(line) for line in lines if line.startswith("{")) if entry["msg"] == msg]


@pytest.mark.integration
def test_run_starts_its_own_redis_and_the_procfile_and_sigint_stops_them_all(tmp_path):
    with launched(tmp_path, tiny_procfile(tmp_path), embedded_redis_port=launcher.free_port(6391),
                  api_port=8125) as proc:
        pid, url, port = wait_for(tmp_path / "probe.out", proc).split()
        assert port == "8125"
        assert (tmp_path / "var" / "redis.url").read_text() == url  # other commands find it there
        assert redis.Redis.from_url(url).ping()
        redis_pids = [p.pid for p in psutil.Process(proc.pid).children() if p.name().startswith("redis-server")]
        assert len(redis_pids) == 1
    assert not alive(int(pid)) and not alive(redis_pids[0])
    assert not (tmp_path / "var" / "redis.url").exists()


def test_a_process_that_exits_is_restarted_with_backoff_and_the_others_keep_running(tmp_path):
    procfile = tiny_procfile(tmp_path, 'quitter: "${PYTHON}" -c "raise SystemExit(3)"')
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "redis.url").write_text("redis://127.0.0.1:2/0")  # another stack's Redis
    with launched(tmp_path, procfile, redis_url="redis://127.0.0.1:1/0", process_restart_max_delay_seconds=2) as proc:
        pid = int(wait_for(tmp_path / "probe.out", proc).split()[0])
        deadline = time.monotonic() + 60
        while len(log_lines(tmp_path, "process exited; restarting")) < 4:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        exits = log_lines(tmp_path, "process exited; restarting")
        assert {entry["process"] for entry in exits} == {"quitter"} and exits[0]["exit_code"] == 3
        assert [entry["restart_in_s"] for entry in exits[:4]] == [1.0, 2.0, 2.0, 2.0]  # doubling, capped
        assert log_lines(tmp_path, "process restarted")[0]["process"] == "quitter"
        assert alive(pid)  # the others were never stopped
    assert not alive(pid)
    assert (tmp_path / "var" / "redis.url").read_text() == "redis://127.0.0.1:2/0"  # not ours to remove


@pytest.mark.integration
def test_a_killed_process_comes_back_and_the_embedded_redis_keeps_its_data(tmp_path):
    with launched(tmp_path, tiny_procfile(tmp_path), embedded_redis_port=launcher.free_port(6392)) as proc:
        pid, url, _ = wait_for(tmp_path / "probe.out", proc).split()
        (tmp_path / "probe.out").unlink()
        os.kill(int(pid), signal.SIGKILL)
        new_pid = int(wait_for(tmp_path / "probe.out", proc).split()[0])
        assert new_pid != int(pid) and alive(new_pid)
        assert log_lines(tmp_path, "process exited; restarting")[0]["exit_code"] == -signal.SIGKILL

        client = redis.Redis.from_url(url)
        client.rpush("forecast", "a queued task")
        time.sleep(1.5)  # appendfsync everysec: on disk within a second
        [redis_pid] = [p.pid for p in psutil.Process(proc.pid).children() if p.name().startswith("redis-server")]
        os.kill(redis_pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            try:
                assert client.lrange("forecast", 0, -1) == [b"a queued task"]
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the embedded Redis did not come back"
                time.sleep(0.2)
        assert (tmp_path / "var" / "redis" / "appendonly.aof").exists()
    assert not alive(new_pid)


def test_a_line_naming_a_variable_nobody_sets_is_refused_by_name():
    with pytest.raises(SystemExit, match="Procfile line needs NOT_A_SETTING"):
        launcher.shell_line('"${PYTHON}" -m x --n "${NOT_A_SETTING}"', launcher.process_env(Settings()))


def test_every_placeholder_of_the_procfile_is_a_setting():
    env = launcher.process_env(Settings())
    for name, line in launcher.read_procfile().items():
        assert launcher.shell_line(line, env)[-1] == f"exec {line}", name


def test_the_settings_give_each_checkout_its_own_gunicorn_control_socket():
    env = launcher.process_env(Settings())
    assert Path(env["API_CONTROL_SOCKET"]).parent == ROOT / "var"
    assert '--control-socket "${API_CONTROL_SOCKET}"' in launcher.read_procfile()["api"]


def test_the_api_line_serves_and_keeps_its_control_socket_where_the_settings_say(tmp_path, redis_url):
    port = launcher.free_port(8126)
    # A short folder: a unix socket's path must stay under about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="ctl") as short:
        socket_path = Path(short) / "stack" / "gunicorn.ctl"
        database_url = services.migrated(f"sqlite:///{tmp_path / 'sales.db'}")
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
               "FORECASTING_MODELS_PATH": str(tmp_path / "models"), "API_PORT": str(port), "API_WORKERS": "1",
               "API_THREADS": "2", "API_CONTROL_SOCKET": str(socket_path), "LOG_LEVEL": "WARNING"}
        with subprocess.Popen([sys.executable, "manage.py", "proc", "api"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
            try:
                status = None
                deadline = time.monotonic() + 60
                while status is None:
                    assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not serve"
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as answer:
                            status = answer.status
                    except urllib.error.HTTPError as exc:
                        status = exc.code  # 503: no worker runs in this test
                        exc.close()
                    except OSError:
                        time.sleep(0.2)  # not listening yet
                assert status == 503
                assert socket_path.is_socket()
            finally:
                proc.terminate()
                proc.wait(30)


def test_every_service_of_the_compose_file_runs_a_procfile_line():
    compose = (ROOT / "docker-compose.yml").read_text()
    run_by_compose = set(re.findall(r'command: \["python", "manage.py", "proc", "([\w-]+)"\]', compose))
    assert run_by_compose == set(launcher.read_procfile())
