"""API key commands: create (the key alone on the last line), list, revoke."""

from __future__ import annotations

import click

from commands import cli
from commands.database import open_engine


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
        key, token = create_key(open_engine(settings), name=name, scope=scope)
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

    rows = list_keys(open_engine(settings))
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
        key = revoke_key(open_engine(settings), name_or_id)
    except KeyRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked key {key.id} {key.name!r} ({key.prefix}) at {key.revoked_at}")
