"""Command line of the service: database, demo data, CSV import, training, keys, model sets, the Procfile's processes.

One module per group of commands; each registers its commands on `cli` when imported.
"""

from __future__ import annotations

import click

from config.logs import configure_logging
from config.settings import load_settings


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Demand forecasting service."""
    ctx.obj = load_settings()
    configure_logging("WARNING" if ctx.obj.log_level.upper() == "INFO" else ctx.obj.log_level)


# Imported for the commands they register on `cli`.
from commands import data, database, keys, models, processes, training  # noqa: E402, F401
