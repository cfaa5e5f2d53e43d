"""Training commands: train here, or queue a bulk retrain on the workers and follow it."""

from __future__ import annotations

import json
import sys
import time

import click
from tqdm import tqdm

from commands import cli
from commands.database import open_engine


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

    engine = open_engine(settings)
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
    engine = open_engine(settings)
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
