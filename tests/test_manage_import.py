"""The command line: CSV imports with calendar columns, and one calendar for many products."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from forecasting.data.calendar import read_calendar
from forecasting.data.database import make_engine
from manage import cli
from tests import services

SALES = """Store,Date,Sales,Open,Promo,StateHoliday,SchoolHoliday
1,2015-07-31,5263,1,1,0,1
1,2015-06-04,0,0,1,a,0
2,2015-07-31,6064,1,0,0,0
"""
CALENDAR = "date,event_name_1,snap_CA\n2015-07-31,Payday,1\n2015-08-01,,0\n"


@pytest.fixture
def run(tmp_path):
    url = services.migrated(f"sqlite:///{tmp_path / 'sales.db'}")

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})

    invoke.engine = lambda: make_engine(url)
    return invoke


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_import_csv_with_calendar_flags(run, tmp_path):
    result = run("import-csv", write(tmp_path, "train.csv", SALES), "--key", "Store", "--date", "Date",
                 "--quantity", "Sales", "--open", "Open", "--regressor", "Promo", "--regressor", "SchoolHoliday",
                 "--holiday", "StateHoliday")
    assert result.exit_code == 0, result.output
    assert "imported 3 rows for 2 products (2 new)" in result.output and "3 calendar rows written" in result.output
    rows = read_calendar(run.engine(), product_id=1)
    assert [(r["date"], r["open"], r["holiday"], r["regressors"]) for r in rows] == [
        ("2015-06-04", False, "public", {"promo": 1.0, "school_holiday": 0.0}),
        ("2015-07-31", True, "", {"promo": 1.0, "school_holiday": 1.0}),
    ]


def test_import_csv_names_a_missing_calendar_column(run, tmp_path):
    result = run("import-csv", write(tmp_path, "train.csv", SALES), "--key", "Store", "--date", "Date",
                 "--quantity", "Sales", "--regressor", "Customers")
    assert result.exit_code == 1
    assert "train.csv has no column 'Customers'" in result.output


def test_import_calendar_for_some_or_all_products(run, tmp_path):
    run("import-csv", write(tmp_path, "train.csv", SALES), "--key", "Store", "--date", "Date", "--quantity", "Sales")
    path = write(tmp_path, "calendar.csv", CALENDAR)
    result = run("import-calendar", path, "--holiday", "event_name_1", "--regressor", "snap_CA", "--products", "2")
    assert result.exit_code == 0, result.output
    assert "calendar of 2 days (2015-07-31..2015-08-01) for 1 products: 2 rows written" in result.output
    assert read_calendar(run.engine(), product_id=1) == []
    assert [r["holiday"] for r in read_calendar(run.engine(), product_id=2)] == ["Payday", None]
    # Product 2 already holds these values: only product 1's two days are written.
    assert "for 2 products: 2 rows written" in run("import-calendar", path, "--regressor", "snap_CA", "--all").output
    assert run("import-calendar", path, "--regressor", "snap_CA").exit_code == 2  # neither --products nor --all
    missing = run("import-calendar", path, "--regressor", "snap_CA", "--products", "1,7")
    assert missing.exit_code == 1 and "Product 7 does not exist" in missing.output
