"""The `station` command (also `flask --app station ...`): init and demo here; run, scanners, worker, expire
and printer-emulator (processes.py); token and operator (access.py); lot-scheme (lot_schemes.py); audit
verify (audit.py); scanner-agent (station/agent.py)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup

from .. import create_app, get_db
from ..agent import scanner_agent_command  # also `python -m station.agent`, without Flask
from ..config import ConfigError
from .access import operator_group, token_group
from .audit import audit_group
from .imports import import_command
from .lot_schemes import scheme_group
from .processes import expire_command, printer_emulator_command, run_command, scanners_command, worker_command


@click.command("init")
def init_command() -> None:
    """Create or upgrade the database to the latest schema."""
    from ..schema import upgrade

    upgrade(get_db(), current_app.config)
    click.echo(f"database ready: {get_db().engine.url.render_as_string(hide_password=True)}")


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has items.")
@click.option("--seed", default=2024, show_default=True, help="Random seed, for a repeatable site.")
def demo_command(if_empty: bool, seed: int) -> None:
    """Seed a realistic demo site: items, suppliers, locations, lots, orders, operators."""
    from ..demo import seed_demo
    from ..services.errors import DomainError

    try:
        summary = seed_demo(get_db(), seed=seed, if_empty=if_empty)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(summary)



def init_app(app) -> None:
    for command in (init_command, demo_command, run_command, scanners_command, token_group, scheme_group,
                    operator_group):
        app.cli.add_command(command)
    app.cli.add_command(printer_emulator_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(expire_command)
    app.cli.add_command(scanner_agent_command)
    app.cli.add_command(audit_group)
    app.cli.add_command(import_command)


def main() -> None:
    cli = FlaskGroup(create_app=create_app, add_default_commands=False,
                     help="Station: lot tracking, scanning and label printing.")
    try:
        cli.main(prog_name="station")
    except ConfigError as exc:  # a setting Station will not start with (a known secret key, …)
        click.echo(f"station: cannot start: {exc}", err=True)
        raise SystemExit(2) from None
