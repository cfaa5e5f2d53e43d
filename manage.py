"""Command line of the service: database, demo data, CSV import, training, the Procfile's processes."""

from __future__ import annotations

import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import click
from tqdm import tqdm

from config.logs import configure_logging
from config.settings import Settings, load_settings


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Demand forecasting service."""
    ctx.obj = load_settings()
    configure_logging("WARNING" if ctx.obj.log_level.upper() == "INFO" else ctx.obj.log_level)


def _engine(settings):
    """Return the settings' database engine, refusing a schema that is not this release's."""
    from forecasting.data import migrations
    from forecasting.data.database import make_engine
    from forecasting.errors import SchemaNotCurrent

    engine = make_engine(settings.database_url)
    try:
        migrations.require_current(engine)
    except SchemaNotCurrent as exc:
        engine.dispose()
        raise click.ClickException(str(exc)) from exc
    return engine


def _upgrade(settings) -> None:
    """Run the pending revisions on the settings' database and say where it ends."""
    from sqlalchemy.exc import DBAPIError

    from forecasting.data import migrations
    from forecasting.data.database import make_engine
    from forecasting.errors import UnknownSchema

    where = settings.database_url.split("@")[-1]
    engine = make_engine(settings.database_url)
    try:
        before = migrations.current_revision(engine)
        reached = migrations.upgrade(engine)
    except UnknownSchema as exc:
        raise click.ClickException(str(exc)) from exc
    except DBAPIError as exc:
        raise click.ClickException(f"cannot upgrade the database at {where}: {exc.orig}") from exc
    finally:
        engine.dispose()
    if before == reached:
        click.echo(f"database at revision {reached} (head), nothing to do: {where}")
    else:
        click.echo(f"database upgraded from {before or 'no revision'} to {reached} (head): {where}")


@cli.group("db")
def db_group() -> None:
    """Schema of the database: Alembic revisions in migrations/."""


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade_command(settings) -> None:
    """Create the tables, or bring an earlier release's database to this release's schema."""
    _upgrade(settings)


@cli.command("init-db")
@click.pass_obj
def init_db_command(settings) -> None:
    """Same as `db upgrade`, kept for existing scripts."""
    _upgrade(settings)


@cli.command("seed-demo")
@click.option("--products", default=5, show_default=True, help="Demo products (ids 1..N).")
@click.option("--days", default=3 * 365, show_default=True, help="Days of daily history each.")
@click.option("--seed", default=7, show_default=True)
@click.option("--if-empty", is_flag=True, help="Seed only a database without products (make run passes it).")
@click.pass_obj
def seed_demo_command(settings, products: int, days: int, seed: int, if_empty: bool) -> None:
    """Give products 1..N a realistic daily sales history ending yesterday."""
    from forecasting.data.demo import seed_demo

    ids = seed_demo(_engine(settings), products=products, days=days, end=date.today() - timedelta(days=1), seed=seed,
                    only_into_empty=if_empty)
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
            report = import_csv(_engine(settings), path, key_columns=list(keys), date_column=date_column,
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
        report = import_calendar_csv(_engine(settings), path, date_column=date_column, product_ids=ids,
                                     columns=CalendarColumns.from_flags(**calendar_flags))
    except ForecastingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report)


@cli.command("train")
@click.argument("product_ids", nargs=-1, type=int)
@click.option("--all", "all_products", is_flag=True, help="Every product with enough history.")
@click.option("--force", is_flag=True, help="Retrain even when the model set is fresh.")
@click.pass_obj
def train_command(settings, product_ids: tuple[int, ...], all_products: bool, force: bool) -> None:
    """Train model sets here, in this process (no worker needed)."""
    from config.settings import make_model_store
    from forecasting.data import products, sales
    from forecasting.errors import ForecastingError
    from forecasting.lifecycle import steps

    engine = _engine(settings)
    store = make_model_store(settings)
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
    try:
        batch, tally = _follow(engine, batch)
    except KeyboardInterrupt:
        _cancel_on_interrupt(settings, engine, batch["id"])
        batch = records.get_job(engine, job_id=batch["id"])
        tally = records.batch_counts(engine, batch)
    for failure in records.list_children_failed(engine, parent_id=batch["id"]):
        click.echo(f"product {failure['product_id']}: {failure['error']}")
    click.echo(f"batch {batch['status']}: {json.dumps(tally)}")
    sys.exit(0 if batch["status"] == "succeeded" else 1)


def _follow(engine, batch: dict) -> tuple[dict, dict]:
    """Show the batch's progress until it ends; return it and its counts."""
    from jobs import records

    with tqdm(desc="retraining", unit=" products", disable=None) as bar:
        while True:
            batch = records.get_job(engine, job_id=batch["id"])
            tally = records.batch_counts(engine, batch)
            bar.total = tally["total"]
            bar.n = tally["succeeded"] + tally["failed"] + tally["skipped"] + tally["cancelled"]
            bar.set_postfix(ok=tally["succeeded"], failed=tally["failed"], skipped=tally["skipped"],
                            running=tally["running"], refresh=False)
            bar.refresh()
            if batch["status"] in records.TERMINAL:
                return batch, tally
            time.sleep(1)


def _cancel_on_interrupt(settings, engine, batch_id: str) -> None:
    """Ask whether Ctrl-C means to cancel the batch too, and cancel it if so."""
    import redis

    from jobs import control

    click.echo("")
    if not click.confirm(f"Cancel batch {batch_id} (its queued and running trainings) too?", default=True):
        click.echo(f"batch {batch_id} goes on on the workers; follow it with GET /api/v1/jobs/{batch_id}")
        sys.exit(130)
    _, cancelled = control.cancel_job(engine, job_id=batch_id)
    control.release(redis.Redis.from_url(settings.lock_url, socket_connect_timeout=2), cancelled)
    click.echo(f"cancelled {len(cancelled)} job(s)")


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


@cli.group("models")
def models_group() -> None:
    """Stored model sets."""


@models_group.command("resign")
@click.argument("product_ids", nargs=-1, type=int)
@click.option("--all", "all_sets", is_flag=True, help="Every stored set.")
@click.option("--source-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Keys of the environment the sets come from (comma-separated or one a line).")
@click.pass_obj
def resign_command(settings, product_ids: tuple[int, ...], all_sets: bool, source_key_file: Path | None) -> None:
    """Sign sets again with the first MODEL_SIGNING_KEYS key, once their signature and sha256s verify."""
    from config.settings import make_model_store
    from forecasting.errors import ForecastingError

    if bool(product_ids) == all_sets:
        raise click.UsageError("Name product ids or pass --all.")
    store = make_model_store(settings)
    source = _source_signer(source_key_file)
    ids = list(product_ids) or [s["product_id"] for s in store.list_infos()]
    failed = 0
    for pid in ids:
        try:
            changed = store.resign(pid, source=source)
        except ForecastingError as exc:
            failed += 1
            click.echo(f"product {pid}: not signed: {exc}")
            continue
        click.echo(f"product {pid}: {'signed again' if changed else 'already signed with the current key'}")
    sys.exit(1 if failed else 0)


def _source_signer(source_key_file: Path | None):
    """Return a Signer of the keys in `source_key_file` (comma-separated or one a line), or None."""
    from forecasting.store.signature import Signer

    if source_key_file is None:
        return None
    keys = [k.strip() for k in source_key_file.read_text(encoding="utf-8").replace("\n", ",").split(",")]
    if not any(keys):
        raise click.UsageError(f"{source_key_file} holds no key.")
    return Signer([k for k in keys if k])


@models_group.command("ls")
@click.pass_obj
def models_ls(settings) -> None:
    """List every stored set: product, status, trained, bytes (and why a set is not ok)."""
    from config.settings import make_model_store

    store = make_model_store(settings)
    entries = store.list_infos()
    click.echo(f"{len(entries)} model sets in {store.root}")
    for entry in entries:
        line = f"{entry['product_id']:>8}  {entry['status']:<10} {entry['trained_at'] or '-':<32} " \
               f"{entry['total_bytes']:>12}"
        click.echo(line + (f"  {entry['error']}" if entry.get("error") else ""))


@models_group.command("show")
@click.argument("product_id", type=int)
@click.pass_obj
def models_show(settings, product_id: int) -> None:
    """Print a set's model_info.json as stored, and whether its signature verifies."""
    from config.settings import make_model_store
    from forecasting.errors import ForecastingError

    try:
        inspected = make_model_store(settings).inspect(product_id)
    except ForecastingError as exc:
        raise click.ClickException(str(exc)) from exc
    if inspected is None:
        raise click.ClickException(f"No model set for product {product_id}.")
    info, problem = inspected
    click.echo(json.dumps({**info, "trusted": problem is None, "untrusted_reason": problem}, indent=2))


@models_group.command("rm")
@click.argument("product_id", type=int)
@click.pass_obj
def models_rm(settings, product_id: int) -> None:
    """Remove a product's set (and its saved forecast); the next forecast trains a new one."""
    from config.settings import make_model_store
    from forecasting.lifecycle import saved_forecasts

    if not make_model_store(settings).delete(product_id):
        raise click.ClickException(f"No model set for product {product_id}.")
    saved_forecasts.discard(_engine(settings), product_id=product_id)
    click.echo(f"product {product_id}: model set removed")


@models_group.command("export")
@click.argument("product_id", type=int)
@click.argument("target", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.pass_obj
def models_export(settings, product_id: int, target: Path) -> None:
    """Write a product's verified set, with its signed model_info.json, to a .tar.gz."""
    from config.settings import make_model_store
    from forecasting.errors import ForecastingError
    from forecasting.store.archive import export_set

    try:
        info = export_set(make_model_store(settings), product_id, target)
    except ForecastingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"product {product_id}: set {info['set_id']} written to {target}")


@models_group.command("import")
@click.argument("source_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Keys of the environment the archive comes from (comma-separated or one a line).")
@click.pass_obj
def models_import(settings, source_file: Path, source_key_file: Path | None) -> None:
    """Store a set exported elsewhere, once its signature and sha256s verify, signed with the current key."""
    from config.settings import make_model_store
    from forecasting.errors import ForecastingError
    from forecasting.lifecycle import saved_forecasts
    from forecasting.store.archive import import_set

    try:
        info = import_set(make_model_store(settings), source_file, source=_source_signer(source_key_file))
    except ForecastingError as exc:
        raise click.ClickException(str(exc)) from exc
    # A forecast saved from the replaced set must not be served as this set's.
    saved_forecasts.discard(_engine(settings), product_id=info["product_id"])
    click.echo(f"product {info['product_id']}: imported as set {info['set_id']}")


@cli.command("run")
@click.option("--procfile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Procfile to run instead of the service's own.")
@click.pass_obj
def run_command(settings: Settings, procfile: Path | None) -> None:
    """Start Redis (unless REDIS_URL is set) and every Procfile process; Ctrl-C stops all."""
    import launcher
    from jobs import metrics

    # A fresh stack counts from zero: the samples of the processes of an earlier run go.
    metrics.reset(settings.prometheus_multiproc_dir)
    sys.exit(launcher.run(settings, procfile=procfile or launcher.PROCFILE))


@cli.command("proc")
@click.argument("name")
@click.option("--procfile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Procfile to read instead of the service's own.")
@click.pass_obj
def proc_command(settings: Settings, name: str, procfile: Path | None) -> None:
    """Become the Procfile's process NAME, with every setting in its environment (one container, one process)."""
    import launcher

    launcher.exec_process(settings, name, procfile or launcher.PROCFILE)


@cli.command("procfile-env")
@click.pass_obj
def procfile_env_command(settings: Settings) -> None:
    """Print the settings as KEY=value lines for `honcho -e FILE start`."""
    import shlex

    from launcher import process_env

    for key, value in process_env(settings).items():
        click.echo(f"{key}={shlex.quote(value)}")


if __name__ == "__main__":
    cli()
