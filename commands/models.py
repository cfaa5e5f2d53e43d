"""Model set commands on either store backend: list, show, remove, export, import, re-sign."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from commands import cli
from commands.database import open_engine


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
    saved_forecasts.discard(open_engine(settings), product_id=product_id)
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
    saved_forecasts.discard(open_engine(settings), product_id=info["product_id"])
    click.echo(f"product {info['product_id']}: imported as set {info['set_id']}")
