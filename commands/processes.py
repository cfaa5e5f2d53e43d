"""Process commands: run the whole stack from the Procfile, become one of its processes, print its settings."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commands import cli
from config.settings import Settings


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
