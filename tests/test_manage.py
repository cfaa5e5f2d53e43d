"""Every command of manage.py, through click's runner (or a real process where it execs or serves)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from honcho.environ import parse as parse_env
from sqlalchemy import func, select

import launcher
from forecasting.data.database import make_engine
from forecasting.data.products import create_product, list_products
from forecasting.data.sales import load_history, read_sales, upsert_sales
from jobs import records
from jobs.table import jobs
from manage import cli
from tests import services
from tests.conftest import SMALL_MODELS
from tests.test_launcher import alive, tiny_procfile, wait_for
from tests.workers.celery_process import celery_worker

ROOT = Path(__file__).resolve().parent.parent
MODEL_FILES = {"prophet_model.pkl", "lstm_model.h5", "rf_model.pkl", "scaler.pkl", "model_info.json"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Environment of a command: its own migrated SQLite file and model folder, small models, no Redis."""
    return {"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"), "FORECASTING_MODELS_PATH": str(tmp_path / "models"),
            "REDIS_URL": "redis://127.0.0.1:1/0", "LOG_LEVEL": "WARNING",
            **{key: str(value) for key, value in SMALL_MODELS.items()}}


def rows(env: dict[str, str], product_id: int) -> int:
    engine = make_engine(env["DATABASE_URL"])
    try:
        return load_history(engine, product_id=product_id).rows
    finally:
        engine.dispose()


def test_seed_demo_gives_each_product_its_days_and_replaces_them_on_a_rerun(runner, env):
    for _ in range(2):
        result = runner.invoke(cli, ["seed-demo", "--products", "2", "--days", "150"], env=env)
        assert result.exit_code == 0, result.output
        assert "demo data: products 1..2, 150 days each" in result.output
    assert rows(env, 1) == rows(env, 2) == 150


def test_seed_demo_if_empty_seeds_a_new_database_once_and_keeps_edited_sales(runner, env):
    first = runner.invoke(cli, ["seed-demo", "--products", "2", "--days", "150", "--if-empty"], env=env)
    assert first.exit_code == 0 and "demo data: products 1..2" in first.output
    engine = make_engine(env["DATABASE_URL"])
    upsert_sales(engine, product_id=1, rows=[(date.today() - timedelta(days=1), 12345.0)])
    engine.dispose()

    again = runner.invoke(cli, ["seed-demo", "--products", "5", "--days", "150", "--if-empty"], env=env)

    assert again.exit_code == 0 and "skipped: the database holds products already" in again.output
    engine = make_engine(env["DATABASE_URL"])
    assert read_sales(engine, product_id=1, start=date.today() - timedelta(days=1))[0]["quantity"] == 12345.0
    assert list_products(engine, limit=10)[-1]["id"] == 2
    engine.dispose()


def test_make_run_seeds_only_an_empty_database():
    assert "manage.py seed-demo --if-empty" in (ROOT / "Makefile").read_text()


def test_seed_demo_leaves_an_imported_product_alone(runner, env):
    engine = make_engine(env["DATABASE_URL"])
    create_product(engine, name="real", key="store=1", product_id=1)
    upsert_sales(engine, product_id=1, rows=[(date(2024, 1, 1), 4.0)])
    engine.dispose()

    result = runner.invoke(cli, ["seed-demo", "--products", "1", "--days", "30"], env=env)

    assert result.exit_code == 0, result.output
    assert "demo data skipped: ids 1..1 hold imported products" in result.output
    assert rows(env, 1) == 1


def test_import_csv_imports_the_rows_and_reports_them(runner, env, tmp_path):
    csv = tmp_path / "sales.csv"
    csv.write_text("day,store,item,units\n2024-01-01,1,7,3\n2024-01-02,1,7,4\n2024-01-01,2,7,5\n")

    result = runner.invoke(cli, ["import-csv", str(csv), "--key", "store", "--key", "item", "--date", "day",
                                 "--quantity", "units"], env=env)

    assert result.exit_code == 0, result.output
    assert "imported 3 rows for 2 products" in result.output


@pytest.mark.parametrize("args, code, message", [
    (["--key", "store", "--quantity", "nope"], 1, "nope"),
    ([], 2, "Missing option '--key'"),
])
def test_import_csv_refuses_what_it_cannot_read(runner, env, tmp_path, args, code, message):
    csv = tmp_path / "sales.csv"
    csv.write_text("date,store,sales\n2024-01-01,1,3\n")

    result = runner.invoke(cli, ["import-csv", str(csv), *args], env=env)

    assert result.exit_code == code
    assert message in result.output


def test_train_needs_product_ids_or_all(runner, env):
    result = runner.invoke(cli, ["train"], env=env)
    assert result.exit_code == 2
    assert "Name product ids or pass --all." in result.output


def test_train_trains_skips_a_fresh_set_and_retrains_on_force(runner, env):
    assert runner.invoke(cli, ["seed-demo", "--products", "1", "--days", "200"], env=env).exit_code == 0

    first = runner.invoke(cli, ["train", "1"], env=env)
    again = runner.invoke(cli, ["train", "--all"], env=env)
    forced = runner.invoke(cli, ["train", "1", "--force"], env=env)

    assert first.exit_code == 0, first.output
    assert "product 1: trained (" in first.output
    assert {p.name for p in (Path(env["FORECASTING_MODELS_PATH"]) / "1").iterdir()} == MODEL_FILES
    assert again.exit_code == 0 and "product 1: fresh, skipped" in again.output
    assert forced.exit_code == 0 and "product 1: trained (requested)" in forced.output


def test_train_names_a_failed_product_and_exits_1(runner, env):
    assert runner.invoke(cli, ["seed-demo", "--products", "1", "--days", "30"], env=env).exit_code == 0

    result = runner.invoke(cli, ["train", "1"], env=env)

    assert result.exit_code == 1
    assert "product 1: failed: Product 1 has 30 days of sales history" in result.output


@pytest.mark.parametrize("args, message", [
    ([], "Name product ids, or pass exactly one of --all / --only-stale."),
    (["1", "--all"], "Name product ids, or pass exactly one of --all / --only-stale."),
    (["--all", "--only-stale"], "Name product ids, or pass exactly one of --all / --only-stale."),
    (["1", "9"], "Unknown product ids: 9"),
])
def test_retrain_refuses_a_bad_selection_before_queueing_anything(runner, env, args, message):
    assert runner.invoke(cli, ["seed-demo", "--products", "1", "--days", "30"], env=env).exit_code == 0

    result = runner.invoke(cli, ["retrain", *args], env=env)

    assert result.exit_code == 2
    assert message in result.output
    engine = make_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == 0
    engine.dispose()


def test_retrain_no_wait_records_a_queued_batch(runner, env, redis_url):
    env["REDIS_URL"] = redis_url
    assert runner.invoke(cli, ["seed-demo", "--products", "2", "--days", "150"], env=env).exit_code == 0

    result = runner.invoke(cli, ["retrain", "--all", "--no-wait"], env=env)

    assert result.exit_code == 0, result.output
    job_id = result.output.strip().removeprefix("batch job ")
    engine = make_engine(env["DATABASE_URL"])
    batch = records.get_job(engine, job_id=job_id)
    engine.dispose()
    assert batch["kind"] == "batch" and batch["status"] == "queued"
    assert batch["params"] == {"selection": "all", "force": True}


def test_retrain_follows_the_batch_on_a_real_worker_to_its_end(runner, env, redis_url, tmp_path):
    env["REDIS_URL"] = redis_url
    assert runner.invoke(cli, ["seed-demo", "--products", "2", "--days", "150"], env=env).exit_code == 0

    with celery_worker(env, log=tmp_path / "worker.log"):
        result = runner.invoke(cli, ["retrain", "1", "2"], env=env)

    assert result.exit_code == 0, result.output
    assert "batch succeeded" in result.output and '"succeeded": 2' in result.output
    for product_id in (1, 2):
        assert {p.name for p in (Path(env["FORECASTING_MODELS_PATH"]) / str(product_id)).iterdir()} == MODEL_FILES


def test_procfile_env_defines_every_placeholder_of_the_procfile(runner, env):
    env.update(API_PORT="8123", WORKER_CONCURRENCY="3")

    result = runner.invoke(cli, ["procfile-env"], env=env)

    assert result.exit_code == 0, result.output
    printed = parse_env(result.output)  # as `honcho -e FILE` reads it
    assert (printed["API_PORT"], printed["WORKER_CONCURRENCY"], printed["PYTHON"]) == ("8123", "3", sys.executable)
    for line in launcher.read_procfile().values():
        assert set(launcher.PLACEHOLDER.findall(line)) <= set(printed), line


def test_proc_becomes_the_named_process_with_the_settings(tmp_path, env):
    procfile = tiny_procfile(tmp_path)
    proc = subprocess.Popen([sys.executable, "manage.py", "proc", "--procfile", str(procfile), "probe"], cwd=ROOT,
                            env={**os.environ, **env, "API_PORT": "8123"})
    try:
        pid, _, port = wait_for(tmp_path / "probe.out", proc).split()
        assert (int(pid), port) == (proc.pid, "8123")  # exec'd: no shell or launcher left in between
    finally:
        proc.terminate()
        proc.wait(10)


def test_proc_names_the_processes_when_the_name_is_unknown(tmp_path, env):
    done = subprocess.run([sys.executable, "manage.py", "proc", "--procfile", str(tiny_procfile(tmp_path)), "nope"],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "has no process 'nope'; it has probe." in done.stderr


def test_run_starts_the_procfile_and_ctrl_c_stops_it(tmp_path, env, redis_url):
    procfile = tiny_procfile(tmp_path)
    with subprocess.Popen([sys.executable, "manage.py", "run", "--procfile", str(procfile)], cwd=ROOT,
                          env={**os.environ, **env, "REDIS_URL": redis_url, "API_PORT": "8124"},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        try:
            pid, url, port = wait_for(tmp_path / "probe.out", proc).split()
            assert (url, port) == (redis_url, "8124")  # a configured Redis is used, none started
            proc.send_signal(signal.SIGINT)
            output, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, output
    assert "started probe" in output
    assert not alive(int(pid))


@pytest.mark.parametrize("answer,status,code", [("y\n", "cancelled", 1), ("n\n", "queued", 130)])
def test_ctrl_c_while_following_a_retrain_asks_and_cancels_the_batch(runner, env, redis_url, monkeypatch,
                                                                     answer, status, code):
    from commands import training

    env["REDIS_URL"] = redis_url
    assert runner.invoke(cli, ["seed-demo", "--products", "2", "--days", "150"], env=env).exit_code == 0

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(training.time, "sleep", interrupt)
    result = runner.invoke(cli, ["retrain", "--all"], env=env, input=answer)

    assert result.exit_code == code, result.output
    assert "Cancel batch" in result.output
    job_id = result.output.splitlines()[0].removeprefix("batch job ")
    engine = make_engine(env["DATABASE_URL"])
    assert records.get_job(engine, job_id=job_id)["status"] == status
    engine.dispose()
