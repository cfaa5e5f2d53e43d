"""Command line of the service: database, demo data, CSV import, training, run."""

from __future__ import annotations

import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import click
from tqdm import tqdm

from config.logs import configure_logging
from config.settings import load_settings


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Demand forecasting service."""
    ctx.obj = load_settings()
    configure_logging("WARNING" if ctx.obj.log_level.upper() == "INFO" else ctx.obj.log_level)


def _engine(settings):
    import api.keys  # noqa: F401  (its table is created by init_db with the others)
    from forecasting.data.database import init_db, make_engine

    engine = make_engine(settings.database_url)
    init_db(engine)
    return engine


@cli.command("init-db")
@click.pass_obj
def init_db_command(settings) -> None:
    """Create the tables if they do not exist."""
    _engine(settings)
    click.echo(f"database ready: {settings.database_url.split('@')[-1]}")


@cli.command("seed-demo")
@click.option("--products", default=5, show_default=True, help="Demo products (ids 1..N).")
@click.option("--days", default=3 * 365, show_default=True, help="Days of daily history each.")
@click.option("--seed", default=7, show_default=True)
@click.pass_obj
def seed_demo_command(settings, products: int, days: int, seed: int) -> None:
    """Give products 1..N a realistic daily sales history ending yesterday."""
    from forecasting.data.demo import seed_demo

    ids = seed_demo(_engine(settings), products=products, days=days, end=date.today() - timedelta(days=1), seed=seed)
    if not ids:
        click.echo(f"demo data skipped: ids 1..{products} hold imported products")
    else:
        click.echo(f"demo data: products {ids[0]}..{ids[-1]}, {days} days each")


@cli.command("import-csv")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "keys", multiple=True, required=True, help="Column(s) naming the product; repeat for several.")
@click.option("--date", "date_column", default="date", show_default=True)
@click.option("--quantity", "quantity_column", default="sales", show_default=True)
@click.pass_obj
def import_csv_command(settings, path: Path, keys: tuple[str, ...], date_column: str, quantity_column: str) -> None:
    """Import a long-format sales CSV (plain or .gz): one row per product and day."""
    from forecasting.data.ingest import import_csv
    from forecasting.errors import InvalidSalesData

    with tqdm(desc=f"importing {path.name}", unit=" rows", unit_scale=True, disable=None) as bar:
        try:
            report = import_csv(_engine(settings), path, key_columns=list(keys), date_column=date_column,
                                quantity_column=quantity_column, progress=bar.update)
        except InvalidSalesData as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(report)


@cli.command("train")
@click.argument("product_ids", nargs=-1, type=int)
@click.option("--all", "all_products", is_flag=True, help="Every product with enough history.")
@click.option("--force", is_flag=True, help="Retrain even when the model set is fresh.")
@click.pass_obj
def train_command(settings, product_ids: tuple[int, ...], all_products: bool, force: bool) -> None:
    """Train model sets here, in this process (no worker needed)."""
    from forecasting.data import products, sales
    from forecasting.errors import ForecastingError
    from forecasting.lifecycle import steps
    from forecasting.store.model_store import ModelStore

    engine = _engine(settings)
    store = ModelStore(settings.forecasting_models_path)
    policy = steps.Policy.from_settings(settings)
    ids = list(product_ids) or ([p["id"] for p in products.list_products(engine, limit=10**9, offset=0)]
                                if all_products else [])
    if not ids:
        raise click.UsageError("Name product ids or pass --all.")
    failed = 0
    for pid in tqdm(ids, desc="training", unit=" products", disable=None):
        started = time.perf_counter()
        try:
            history = sales.load_history(engine, product_id=pid)
            reason = "requested" if force else steps.check(store=store, history=history, policy=policy)
            if reason:
                steps.train(engine=engine, store=store, history=history, policy=policy, reason=reason)
            tqdm.write(f"product {pid}: {'trained (' + reason + ')' if reason else 'fresh, skipped'} "
                       f"in {time.perf_counter() - started:.1f} s")
        except ForecastingError as exc:
            failed += 1
            tqdm.write(f"product {pid}: failed: {exc}")
    sys.exit(1 if failed else 0)


@cli.command("retrain")
@click.argument("product_ids", nargs=-1, type=int)
@click.option("--all", "all_products", is_flag=True, help="Every product.")
@click.option("--only-stale", is_flag=True, help="Only products whose model set is missing or stale.")
@click.option("--force/--no-force", default=None, help="Retrain fresh sets too (default: yes, except --only-stale).")
@click.option("--no-wait", is_flag=True, help="Queue the batch and return at once.")
@click.pass_obj
def retrain_command(settings, product_ids: tuple[int, ...], all_products: bool, only_stale: bool,
                    force: bool | None, no_wait: bool) -> None:
    """Queue a bulk retrain on the workers and follow it with a progress bar."""
    from forecasting.data.products import known_product_ids
    from jobs import records
    from jobs.celery_app import create_celery
    from jobs.dispatch import submit

    if sum([bool(product_ids), all_products, only_stale]) != 1:
        raise click.UsageError("Name product ids, or pass exactly one of --all / --only-stale.")
    engine = _engine(settings)
    if product_ids:
        unknown = sorted(set(product_ids) - known_product_ids(engine, product_ids=product_ids))
        if unknown:
            raise click.UsageError(f"Unknown product ids: {', '.join(map(str, unknown))}")
    selection = "ids" if product_ids else ("all" if all_products else "stale")
    params = {"selection": selection, "force": (selection != "stale") if force is None else force}
    if product_ids:
        params["product_ids"] = list(dict.fromkeys(product_ids))
    batch = submit(engine, create_celery(settings), kind="batch", product_id=None, params=params)
    click.echo(f"batch job {batch['id']}")
    if no_wait:
        return
    with tqdm(desc="retraining", unit=" products", disable=None) as bar:
        while True:
            batch = records.get_job(engine, job_id=batch["id"])
            tally = records.batch_counts(engine, batch)
            bar.total = tally["total"]
            bar.n = tally["succeeded"] + tally["failed"] + tally["skipped"]
            bar.set_postfix(ok=tally["succeeded"], failed=tally["failed"], skipped=tally["skipped"],
                            running=tally["running"], refresh=False)
            bar.refresh()
            if batch["status"] in records.TERMINAL:
                break
            time.sleep(1)
    for failure in records.list_children_failed(engine, parent_id=batch["id"]):
        click.echo(f"product {failure['product_id']}: {failure['error']}")
    click.echo(f"batch {batch['status']}: {json.dumps(tally)}")
    sys.exit(0 if batch["status"] == "succeeded" else 1)


@cli.group("api-keys")
def api_keys_group() -> None:
    """Create, list and revoke the API's keys."""


@api_keys_group.command("create")
@click.option("--name", required=True, help="Who or what uses the key, e.g. 'dashboard'; unique.")
@click.option("--scope", type=click.Choice(["read", "write", "admin"]), default="read", show_default=True,
              help="read: GET; write: forecasts, sales, products, retrains; "
                   "admin: deletes, bulk retrains, health details.")
@click.pass_obj
def api_keys_create(settings, name: str, scope: str) -> None:
    """Create a key and print it once, alone on the last line (store it now: only its hash is kept)."""
    from api.keys import KeyRefused, create_key

    try:
        key, token = create_key(_engine(settings), name=name, scope=scope)
    except KeyRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created key {key.id} {key.name!r}, scope {key.scope}, prefix {key.prefix}; "
               "it is shown this once, on the next line:")
    click.echo(token)


@api_keys_group.command("list")
@click.pass_obj
def api_keys_list(settings) -> None:
    """List every key: id, name, scope, prefix, created, revoked (never the key itself)."""
    from api.keys import list_keys

    rows = list_keys(_engine(settings))
    if not rows:
        click.echo("no API keys; create one with: manage.py api-keys create --scope admin --name NAME")
        return
    click.echo(f"{'id':>4}  {'name':<24} {'scope':<6} {'prefix':<12} {'created':<32} revoked")
    for key in rows:
        click.echo(f"{key.id:>4}  {key.name:<24} {key.scope:<6} {key.prefix:<12} {key.created_at or '':<32} "
                   f"{key.revoked_at or '-'}")


@api_keys_group.command("revoke")
@click.argument("name_or_id")
@click.pass_obj
def api_keys_revoke(settings, name_or_id: str) -> None:
    """Revoke a key by name or id; requests with it are refused from then on."""
    from api.keys import KeyRefused, revoke_key

    try:
        key = revoke_key(_engine(settings), name_or_id)
    except KeyRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked key {key.id} {key.name!r} ({key.prefix}) at {key.revoked_at}")


@cli.command("run")
@click.pass_obj
def run_command(settings) -> None:
    """Start Redis (unless REDIS_URL is set), the API, a worker and beat; Ctrl-C stops all."""
    from launcher import run

    sys.exit(run(settings))


if __name__ == "__main__":
    cli()
