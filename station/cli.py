"""The `station` command (also `flask --app station ...`): init, demo, run, token, operator (set-pin, unlock,
locks, sign-out-everywhere)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup

from . import create_app, get_db
from .agent import scanner_agent_command  # also `python -m station.agent`, without Flask
from .config import ConfigError
from .models import Role, SequenceReset, TokenRole


@click.command("init")
def init_command() -> None:
    """Create or upgrade the database to the latest schema."""
    from .schema import upgrade

    upgrade(get_db(), current_app.config)
    click.echo(f"database ready: {get_db().engine.url.render_as_string(hide_password=True)}")


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has items.")
@click.option("--seed", default=2024, show_default=True, help="Random seed, for a repeatable site.")
def demo_command(if_empty: bool, seed: int) -> None:
    """Seed a realistic demo site: items, suppliers, locations, lots, orders, operators."""
    from .demo import seed_demo
    from .services.errors import DomainError

    try:
        summary = seed_demo(get_db(), seed=seed, if_empty=if_empty)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(summary)


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="Request threads per worker process.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes sharing the port (waitress in each); about one per CPU core.")
@click.option("--scanners/--no-scanners", default=True, show_default=True,
              help="Also read the stations' serial and simulated scanners (in worker 0).")
@click.option("--print-worker/--no-print-worker", default=True, show_default=True,
              help="Also send queued print jobs to the printers (in worker 0); see `station worker`.")
def run_command(host: str, port: int, threads: int, workers: int, scanners: bool, print_worker: bool) -> None:
    """Serve the station with a production WSGI server (waitress, in one or more processes)."""
    import signal
    import sys

    from .scanner_service import start_for
    from .server import serve

    app = current_app._get_current_object()

    def background():
        service = start_for(app) if scanners else None
        if service is not None:
            for s in service.status():
                click.echo(f"scanner {s['url']} -> {s['station']} ({s['state']})")
        printer = _start_print_worker(app) if print_worker else None
        expiry = _start_expiry_job(app)

        def stop() -> None:
            expiry.stop()
            if printer is not None:
                printer.stop()
            if service is not None:
                service.stop()
        return stop

    if workers == 1:
        # A service manager stops us with SIGTERM: leave like Ctrl+C, so the scanners close cleanly.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    click.echo(f"Station on http://{host}:{port}/  ({workers} worker process{'es' if workers > 1 else ''}; "
               f"Ctrl+C stops)")
    serve(app, host=host, port=port, threads=threads, workers=workers, background=background)


@click.command("scanners")
def scanners_command() -> None:
    """Read the stations' serial and simulated scanners into the scan log (no web server)."""
    import signal
    import threading

    from .scanner_service import start_for

    service = start_for(current_app._get_current_object())
    for s in service.status():
        click.echo(f"scanner {s['url']} -> {s['station']} ({s['state']})")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    click.echo("Reading scanners (Ctrl+C stops)")
    try:
        while not done.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


def _start_print_worker(app, **options):
    from .print_worker import PrintWorker

    worker = PrintWorker.for_app(app, **options).start()
    click.echo(f"print worker {worker.worker_id}: {worker.threads} thread(s), sim:// printers spool to "
               f"{worker.spool_root}")
    return worker


def _start_expiry_job(app):
    from .expiry_job import start_for

    job = start_for(app)
    click.echo("expiry job: lots past their date become expired now, hourly and after midnight")
    return job


@click.command("expire")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), help="Judge expiry as of this site date "
              "(default: today at the site, STATION_TIMEZONE).")
def expire_command(on) -> None:
    """Mark every available lot past its expiry date as expired (each with a lot event)."""
    from .services.expiry import expire_due

    with get_db().write() as session:
        expired = expire_due(session, on=on.date() if on else None)
    for e in expired:
        click.echo(f"{e.lot_number}  expired on {e.expiry.isoformat()}")
    click.echo(f"{len(expired)} lot(s) marked expired")


@click.command("worker")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Printers served at the same time.")
@click.option("--poll", default=0.5, show_default=True, type=click.FloatRange(0.01, 60),
              help="Seconds between looks for jobs queued by other processes.")
def worker_command(threads: int, poll: float) -> None:
    """Send queued print jobs to the printers (no web server); SIGTERM or Ctrl+C stops it cleanly.

    Any number may run against one PostgreSQL database: a job is sent by one of them only.
    """
    import signal
    import threading

    # The stop signal first: a SIGTERM while the worker starts must stop it cleanly, not kill it.
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    worker = _start_print_worker(current_app._get_current_object(), threads=threads, poll_s=poll)
    expiry = _start_expiry_job(current_app._get_current_object())
    click.echo("Sending print jobs (Ctrl+C stops)")
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        expiry.stop()
        worker.stop()
        click.echo(f"print worker stopped: {worker.stats.sent} sent, {worker.stats.retried} retried, "
                   f"{worker.stats.failed} failed")


@click.group("token")
def token_group() -> None:
    """API tokens."""


@token_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in TokenRole]), default=Role.SUPERVISOR.value,
              show_default=True,
              help="An operator role (the API routes of its workflows), or agent: a station PC's scanner "
                   "agent, which may only post its own station's scans.")
@click.option("--station", default=None,
              help="For --role agent (required): the station whose scans the token may post, by its name "
                   "as in Station set-up. Other roles take no station.")
def token_create_command(name: str, role: str, station: str | None) -> None:
    """Create an API token and print it (it is shown only once).

    \b
    station token create erp --role supervisor
    station token create "Dock PC agent" --role agent --station "Dock PC"
    """
    from .services.tokens import TokenError, create_token

    try:
        with get_db().write() as session:
            token = create_token(session, name, TokenRole(role), station=station)
    except TokenError as exc:  # nothing was stored
        raise click.ClickException(f"{exc} No token was made.") from None
    click.echo(token)


def _when(ts) -> str:
    """A stored timestamp as UTC to the minute ('2026-11-25 18:02 UTC'); '-' for none."""
    import datetime as dt

    if ts is None:
        return "-"
    ts = ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@token_group.command("list")
def token_list_command() -> None:
    """List the API tokens: id, name, role, station (agent tokens), created, revoked (never the secret
    or its hash)."""
    from sqlalchemy import select

    from .models import ApiToken, StationDevice

    with get_db().read() as session:
        rows = session.execute(select(ApiToken.id, ApiToken.name, ApiToken.role, StationDevice.name.label("station"),
                                      ApiToken.created_at, ApiToken.revoked_at)
                               .outerjoin(StationDevice, StationDevice.id == ApiToken.station_id)
                               .order_by(ApiToken.id)).all()
    if not rows:
        click.echo("No API tokens yet; make one with `station token create NAME --role ROLE`.")
        return
    table = [("ID", "NAME", "ROLE", "STATION", "CREATED", "REVOKED")]
    table += [(str(r.id), r.name, TokenRole(r.role).value, r.station or "-", _when(r.created_at),
               _when(r.revoked_at)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@token_group.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
def token_revoke_command(token_id: int) -> None:
    """Revoke the API token with this ID (`station token list` shows the ids)."""
    from sqlalchemy import update

    from . import clock
    from .models import ApiToken

    with get_db().write() as session:
        # Only a live token is revoked, so revoking twice keeps the first time and says so.
        done = session.execute(update(ApiToken).where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
                               .values(revoked_at=clock.now()).execution_options(synchronize_session=False))
        token = session.get(ApiToken, token_id)
        if token is None:
            raise click.ClickException(f"There is no API token {token_id}; `station token list` shows them.")
        name, revoked_at = token.name, token.revoked_at
    if done.rowcount == 0:
        click.echo(f"Token {token_id} ({name}) was already revoked at {_when(revoked_at)}; nothing changed.")
        return
    ttl = current_app.config.get("API_TOKEN_CACHE_SECONDS", 0)
    click.echo(f"Token {token_id} ({name}) revoked. A server that saw it lately accepts it for at most "
               f"{ttl:g} more seconds (STATION_API_TOKEN_CACHE_SECONDS).")


@click.group("operator")
def operator_group() -> None:
    """Operators (badges, roles, PINs)."""


@operator_group.command("set-pin")
@click.argument("badge")
@click.option("--pin", prompt="New PIN", hide_input=True, confirmation_prompt=True,
              help="The PIN (4 to 12 digits); asked for when not given.")
def operator_set_pin_command(badge: str, pin: str) -> None:
    """Set the sign-in PIN of the operator with BADGE (supervisors and admins need one)."""
    from sqlalchemy import select

    from .models import Operator
    from .services.pins import hash_pin

    pin = pin.strip()
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 12):
        raise click.ClickException("A PIN is 4 to 12 digits.")
    with get_db().write() as session:
        operator = session.scalar(select(Operator).where(Operator.badge == badge))
        if operator is None:
            raise click.ClickException(f"No operator has badge {badge!r}.")
        operator.pin_hash = hash_pin(pin)
        name = operator.name
    click.echo(f"PIN set for {name} ({badge}).")


def _operator_by_badge(session, badge: str):
    from sqlalchemy import select

    from .models import Operator

    operator = session.scalar(select(Operator).where(Operator.badge == badge))
    if operator is None:
        raise click.ClickException(f"No operator has badge {badge!r}; nothing was changed.")
    return operator


@operator_group.command("unlock")
@click.argument("badge")
def operator_unlock_command(badge: str) -> None:
    """Clear the PIN lock of the operator with BADGE (and the count of locks in a row)."""
    from .views.floor import unlock_pin

    with get_db().read() as session:
        operator = _operator_by_badge(session, badge)
        op_id, name, until = operator.id, operator.name, operator.pin_locked_until
    if unlock_pin(get_db(), op_id):
        click.echo(f"PIN lock cleared for {name} ({badge})" + (f"; it was locked until {_when(until)}." if until
                                                              else "."))
    else:
        click.echo(f"{name} ({badge}) had no PIN lock; nothing changed.")


@operator_group.command("sign-out-everywhere")
@click.argument("badge")
def operator_sign_out_everywhere_command(badge: str) -> None:
    """End every floor session of the operator with BADGE, on every device (a copied or forgotten
    session stops working at its next request)."""
    from .views.floor import END_EVERYWHERE, end_operator_sessions

    with get_db().read() as session:
        operator = _operator_by_badge(session, badge)
        op_id, name = operator.id, operator.name
    count = end_operator_sessions(get_db(), op_id, END_EVERYWHERE)
    click.echo(f"{name} ({badge}) signed out everywhere: {count} session{'s' if count != 1 else ''} ended.")


@operator_group.command("locks")
def operator_locks_command() -> None:
    """List the operators whose badge is locked or has wrong PINs counted."""
    from sqlalchemy import or_, select

    from . import clock
    from .models import Operator

    now = clock.now()
    with get_db().read() as session:
        rows = session.execute(select(Operator.badge, Operator.name, Operator.pin_failures, Operator.pin_locked_until,
                                      Operator.pin_lock_count)
                               .where(or_(Operator.pin_failures > 0, Operator.pin_lock_count > 0))
                               .order_by(Operator.badge)).all()
    if not rows:
        click.echo("No badge is locked and no wrong PINs are counted.")
    for r in rows:
        until = r.pin_locked_until
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=now.tzinfo)
        state = f"locked until {_when(until)}" if until is not None and until > now else "not locked"
        click.echo(f"{r.badge}\t{r.name}\t{state}\t{r.pin_failures} wrong PIN(s)\t{r.pin_lock_count} lock(s) in a row")


@click.group("lot-scheme")
def scheme_group() -> None:
    """Lot-numbering patterns, for the whole site or one item."""


@scheme_group.command("set")
@click.argument("pattern")
@click.option("--reset", type=click.Choice([r.value for r in SequenceReset]), default="daily",
              show_default=True, help="When the {seq} counter starts again at 1.")
@click.option("--item", "sku", help="Give this item its own pattern instead of the site default.")
def scheme_set_command(pattern: str, reset: str, sku: str | None) -> None:
    """Set a pattern, e.g. '{yy}{mm}{dd}-{seq:03}' or '{item}-{yy}{jjj}-{seq:04}'."""
    from .services.catalog import item_by_sku
    from .services.errors import DomainError
    from .services.numbering import set_scheme

    try:
        with get_db().write() as session:
            item = item_by_sku(session, sku) if sku else None
            scheme = set_scheme(session, pattern, SequenceReset(reset), item)
            click.echo(f"{scheme.name}: {scheme.pattern} (resets {scheme.reset.value})")
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


@scheme_group.command("list")
def scheme_list_command() -> None:
    """Show every pattern and the items that use it."""
    from sqlalchemy import select

    from .models import Item, LotScheme

    with get_db().read() as session:
        for scheme in session.scalars(select(LotScheme).order_by(LotScheme.name)):
            skus = session.scalars(select(Item.sku).where(Item.lot_scheme_id == scheme.id)).all()
            users = ", ".join(skus) if skus else ("all other items" if scheme.name == "default" else "-")
            click.echo(f"{scheme.name:<20} {scheme.pattern:<30} {scheme.reset.value:<8} {users}")


from devices.printers.emulator import MODES as PRINTER_MODES  # noqa: E402 - next to the command that uses it


@click.command("printer-emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (or of the emulator "
              "to switch, with --set-mode).")
@click.option("--port", default=9100, show_default=True, type=int, help="Printer port; 0 picks a free one.")
@click.option("--spool", type=click.Path(file_okay=False), help="Folder for the printed formats (NNNNNN.zpl) "
              "and jobs.jsonl. Required to serve.")
@click.option("--control-port", type=int, help="HTTP control port. Default: --port + 1 (a free one when --port "
              "is 0); with --set-mode, 9101.")
@click.option("--mode", type=click.Choice(list(PRINTER_MODES)), default="ready", show_default=True,
              help="Mode to start in.")
@click.option("--delay", type=float, help="Seconds per label in slow mode (default 0.5).")
@click.option("--drop-after", type=int, help="Bytes of a format read before drop mode cuts (default 16).")
@click.option("--set-mode", type=click.Choice(list(PRINTER_MODES)),
              help="Do not serve: switch the emulator already running at --host/--control-port to this mode.")
def printer_emulator_command(host: str, port: int, spool: str | None, control_port: int | None, mode: str,
                             delay: float | None, drop_after: int | None, set_mode: str | None) -> None:
    """Listen like a networked Zebra: store every label format, answer ~HS, play faults.

    \b
    Modes: ready, offline (refuses connections), paper_out, head_open, ribbon_out,
    paused (formats are held, unprinted, until set back to ready), slow (--delay s per label),
    drop (cuts each connection inside its first format; it is discarded), silent (never answers ~HS).

    \b
    station printer-emulator --port 9100 --spool /tmp/labels
    station printer-emulator --set-mode paper_out --control-port 9101
    curl -d mode=ready http://127.0.0.1:9101/mode     (also GET /status, GET /jobs)
    """
    from devices.printers import emulator as emu

    if set_mode is not None:
        try:
            state = emu.remote_set_mode(host, control_port or 9101, set_mode, delay=delay, drop_after=drop_after)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"mode {state['mode']}: {state['host_status']}; {state['printed']} printed")
        return
    if not spool:
        raise click.UsageError("--spool DIR is required to serve (or give --set-mode MODE)")
    if control_port is None:
        control_port = port + 1 if port else 0
    options = {k: v for k, v in (("delay", delay), ("drop_after", drop_after)) if v is not None}
    try:
        emulator = emu.PrinterEmulator(host, port, spool, control_port=control_port, mode=mode, **options)
        emu.run(emulator, click.echo)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} or {control_port}: {exc.strerror or exc}") \
            from None


@click.group("audit")
def audit_group() -> None:
    """Tamper evidence of the append-only tables."""


@audit_group.command("verify")
@click.option("--chain", "chains", multiple=True,
              type=click.Choice(["movements", "lot_events", "recall_events", "scans"]),
              help="Walk only this chain (repeatable). Default: all four.")
@click.option("--anchor", "anchors", multiple=True, metavar="CHAIN:ID:HASH",
              help="A head recorded earlier (as printed: chain, last id, head); the row must still carry that "
                   "hash (repeatable).")
def audit_verify_command(chains: tuple[str, ...], anchors: tuple[str, ...]) -> None:
    """Walk the hash chains of the ledger (movements), lot events, recall events and the scan log in id
    order and name the first row that does not match. Exit code 0: every chain intact; 1: one is not.

    Record the heads it prints somewhere else (off this machine): someone who can rewrite every row
    and the head leaves a chain that verifies, and only an outside copy of an earlier head shows it —
    give it back with --anchor CHAIN:ID:HASH."""
    from .services import chain

    recorded: dict[str, dict[int, str]] = {}
    for anchor in anchors:
        name, _, rest = anchor.partition(":")
        row_id, _, value = rest.partition(":")
        if name not in chain.MODELS or not row_id.isdigit() or len(value) != 64:
            raise click.BadParameter(f"{anchor!r}: give CHAIN:ID:HASH, e.g. movements:48211:<64 hex digits>",
                                     param_hint="--anchor")
        if int(row_id):  # the head of a chain that was still empty anchors nothing
            recorded.setdefault(name, {})[int(row_id)] = value.lower()
    if chains:
        chains += tuple(name for name in recorded if name not in chains)
    reports = chain.verify(get_db(), chains or None, anchors=recorded)
    width = max(len(r.chain) for r in reports)
    for r in reports:
        state = "ok" if r.ok else "BROKEN"
        click.echo(f"{r.chain.ljust(width)}  {state:6}  {r.count} rows  last id {r.last_id}  head {r.head_hash}")
        if not r.ok:
            first = r.first
            where = f"{r.chain} id {first.row_id}" if first.row_id is not None else r.chain
            click.echo(f"  first bad row: {where}: {chain.WHAT[first.what]}: {first.detail}")
            if r.breaks > 1:
                click.echo(f"  ({r.breaks} places in this chain do not match in all)")
    broken = [r.chain for r in reports if not r.ok]
    if broken:
        click.echo(f"TAMPERED: not intact: {', '.join(broken)}", err=True)
        raise SystemExit(1)
    click.echo("all chains intact")


def init_app(app) -> None:
    for command in (init_command, demo_command, run_command, scanners_command, token_group, scheme_group,
                    operator_group):
        app.cli.add_command(command)
    app.cli.add_command(printer_emulator_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(expire_command)
    app.cli.add_command(scanner_agent_command)
    app.cli.add_command(audit_group)


def main() -> None:
    cli = FlaskGroup(create_app=create_app, add_default_commands=False,
                     help="Station: lot tracking, scanning and label printing.")
    try:
        cli.main(prog_name="station")
    except ConfigError as exc:  # a setting Station will not start with (a known secret key, …)
        click.echo(f"station: cannot start: {exc}", err=True)
        raise SystemExit(2) from None
