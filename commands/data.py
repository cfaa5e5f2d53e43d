"""Data commands: demo products, CSV imports of sales and calendars."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import click
from tqdm import tqdm

from commands import cli
from commands.database import open_engine


@cli.command("seed-demo")
@click.option("--products", default=5, show_default=True, help="Demo products (ids 1..N).")
@click.option("--days", default=3 * 365, show_default=True, help="Days of daily history each.")
@click.option("--seed", default=7, show_default=True)
@click.option("--if-empty", is_flag=True, help="Seed only a database without products (make run passes it).")
@click.pass_obj
def seed_demo_command(settings, products: int, days: int, seed: int, if_empty: bool) -> None:
    """Give products 1..N a realistic daily sales history ending yesterday."""
    from forecasting.data.demo import seed_demo

    ids = seed_demo(open_engine(settings), products=products, days=days, end=date.today() - timedelta(days=1),
                    seed=seed, only_into_empty=if_empty)
    if not ids and if_empty:
        click.echo("demo data skipped: the database holds products already")
    elif not ids:
        click.echo(f"demo data skipped: ids 1..{products} hold imported products")
    else:
        click.echo(f"demo data: products {ids[0]}..{ids[-1]}, {days} days each")


def calendar_options(command):
    """Add the flags that map CSV columns into the calendar."""
    for option in reversed([
        click.option("--open", "open", default=None, help="Column of 1/0: open or closed that day."),
        click.option("--holiday", "holidays", multiple=True,
                     help="Column naming the day's holiday or event; repeat for several (names joined)."),
        click.option("--regressor", "regressors", multiple=True,
                     help="Numeric column, as COLUMN or COLUMN=name (default name: Promo -> promo); repeat."),
        click.option("--holiday-codes/--no-holiday-codes", default=True, show_default=True,
                     help='Read holiday codes "0", "a", "b", "c" as none, public, easter, christmas (Rossmann).'),
    ]):
        command = option(command)
    return command


@cli.command("import-csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "keys", multiple=True, required=True, help="Column(s) naming the product; repeat for several.")
@click.option("--date", "date_column", default="date", show_default=True)
@click.option("--quantity", "quantity_column", default="sales", show_default=True)
@calendar_options
@click.pass_obj
def import_csv_command(settings, path: Path, keys: tuple[str, ...], date_column: str, quantity_column: str,
                       **calendar_flags) -> None:
    """Import a long-format sales CSV (plain or .gz): one row per product and day, with its calendar columns."""
    from forecasting.data.calendar_ingest import CalendarColumns
    from forecasting.data.ingest import import_csv
    from forecasting.errors import InvalidSalesData
    from jobs import metrics

    with tqdm(desc=f"importing {path.name}", unit=" rows", unit_scale=True, disable=None) as bar:
        try:
            report = import_csv(open_engine(settings), path, key_columns=list(keys), date_column=date_column,
                                quantity_column=quantity_column, progress=bar.update,
                                calendar=CalendarColumns.from_flags(**calendar_flags))
        except InvalidSalesData as exc:
            raise click.ClickException(str(exc)) from exc
    # Counted beside the running stack's samples, so /metrics shows the rows imported.
    metrics.configure(settings.prometheus_multiproc_dir)
    metrics.sales_ingested("csv", report.rows)
    click.echo(report)


@cli.command("import-calendar")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--date", "date_column", default="date", show_default=True)
@calendar_options
@click.option("--products", "product_list", default=None, help="Comma-separated product ids it holds for.")
@click.option("--all", "all_products", is_flag=True, help="It holds for every product.")
@click.pass_obj
def import_calendar_command(settings, path: Path, date_column: str, product_list: str | None, all_products: bool,
                            **calendar_flags) -> None:
    """Load one calendar CSV (a row per day, e.g. events and SNAP days) into several products' calendars."""
    from forecasting.data.calendar_ingest import CalendarColumns, import_calendar_csv
    from forecasting.errors import ForecastingError

    if bool(product_list) == all_products:
        raise click.UsageError("Pass exactly one of --products 1,2,3 or --all.")
    try:
        ids = None if all_products else [int(part) for part in product_list.split(",") if part.strip()]
    except ValueError:
        raise click.UsageError(f"--products takes ids separated by commas, got {product_list!r}.") from None
    try:
        report = import_calendar_csv(open_engine(settings), path, date_column=date_column, product_ids=ids,
                                     columns=CalendarColumns.from_flags(**calendar_flags))
    except ForecastingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report)
