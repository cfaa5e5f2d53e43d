"""Metrics written to multiprocess files: configure, record, reset, and the CSV import's count."""

from __future__ import annotations

from click.testing import CliRunner
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from jobs import metrics
from manage import cli
from tests import services


def read(directory) -> dict[tuple[str, tuple], float]:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_job_end_is_counted_with_its_duration(tmp_path):
    metrics.configure(tmp_path / "m")
    for seconds in ("01.5", "03.0"):
        metrics.job_ended({"kind": "forecast", "status": "succeeded", "started_at": "2024-07-01T10:00:00+00:00",
                           "finished_at": f"2024-07-01T10:00:{seconds}+00:00"})
    # Refused at dispatch: it ended without starting, so it is counted without a duration.
    metrics.job_ended({"kind": "train", "status": "failed", "started_at": None,
                       "finished_at": "2024-07-01T10:00:00+00:00"})
    samples = read(tmp_path / "m")
    done = (("kind", "forecast"), ("status", "succeeded"))
    assert samples[("forecasting_jobs_total", done)] == 2
    assert samples[("forecasting_job_duration_seconds_count", done)] == 2
    assert samples[("forecasting_job_duration_seconds_sum", done)] == 4.5
    failed = (("kind", "train"), ("status", "failed"))
    assert samples[("forecasting_jobs_total", failed)] == 1
    assert ("forecasting_job_duration_seconds_count", failed) not in samples


def test_training_seconds_per_member(tmp_path):
    metrics.configure(tmp_path / "m")
    metrics.training_done({"members": ["prophet", "lstm", "random_forest"],
                           "training_seconds": {"prophet": 0.4, "lstm": 1.2, "random_forest": 0.1, "total": 1.8}})
    metrics.training_done({"training_seconds": None})
    samples = read(tmp_path / "m")
    assert samples[("forecasting_training_seconds_sum", (("member", "lstm"),))] == 1.2
    assert samples[("forecasting_training_seconds_count", (("member", "prophet"),))] == 1
    assert {dict(labels)["member"] for name, labels in samples if name == "forecasting_training_seconds_count"} == {
        "prophet", "lstm", "random_forest"}


def test_a_new_directory_starts_from_zero_and_reset_empties_it(tmp_path):
    metrics.configure(tmp_path / "a")
    metrics.forecast_served("saved")
    metrics.configure(tmp_path / "b")
    metrics.forecast_served("computed")
    assert read(tmp_path / "a") == {("forecasting_forecasts_served_total", (("source", "saved"),)): 1}
    assert read(tmp_path / "b") == {("forecasting_forecasts_served_total", (("source", "computed"),)): 1}
    metrics.reset(tmp_path / "a")
    assert read(tmp_path / "a") == {} and not list((tmp_path / "a").glob("*.db"))


def test_csv_import_counts_its_rows(tmp_path):
    csv = tmp_path / "sales.csv"
    csv.write_text("store,date,sales\n1,2024-07-01,3\n1,2024-07-02,4\n2,2024-07-01,5\n")
    env = {"DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "m")}
    result = CliRunner().invoke(cli, ["import-csv", str(csv), "--key", "store"], env=env)
    assert result.exit_code == 0, result.output
    assert read(tmp_path / "m")[("forecasting_sales_rows_ingested_total", (("source", "csv"),))] == 3
