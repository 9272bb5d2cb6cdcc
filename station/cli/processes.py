"""`station run`, `scanners`, `worker`, `expire` and `printer-emulator`: the long-running processes
(station/processes/) started from the command line."""
from __future__ import annotations

import click
from flask import current_app

from devices.printers.emulator import MODES as PRINTER_MODES

from .. import get_db

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
@click.option("--webhooks/--no-webhooks", default=True, show_default=True,
              help="Also deliver events to the webhook subscriptions (in worker 0); see `station worker`.")
def run_command(host: str, port: int, threads: int, workers: int, scanners: bool, print_worker: bool,
                webhooks: bool) -> None:
    """Serve the station with a production WSGI server (waitress, in one or more processes)."""
    import signal
    import sys

    from ..processes.scanner_service import start_for
    from ..server import serve

    app = current_app._get_current_object()

    def background():
        service = start_for(app) if scanners else None
        if service is not None:
            for s in service.status():
                click.echo(f"scanner {s['url']} -> {s['station']} ({s['state']})")
        printer = _start_print_worker(app) if print_worker else None
        expiry = _start_expiry_job(app)
        hooks = _start_webhook_worker(app) if webhooks else None

        def stop() -> None:
            if hooks is not None:
                hooks.stop()
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

    from ..processes.scanner_service import start_for

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
    from ..processes.print_worker import PrintWorker

    worker = PrintWorker.for_app(app, **options).start()
    click.echo(f"print worker {worker.worker_id}: {worker.threads} thread(s), sim:// printers spool to "
               f"{worker.spool_root}")
    return worker


def _start_webhook_worker(app, **options):
    from ..processes.webhook_worker import WebhookWorker

    worker = WebhookWorker.for_app(app, **options).start()
    allowed = ", ".join(str(n) for n in worker.networks) or "public addresses only"
    click.echo(f"webhook worker {worker.worker_id}: {worker.threads} thread(s); receivers: {allowed}")
    return worker


def _start_expiry_job(app):
    from ..processes.expiry_job import start_for

    job = start_for(app)
    click.echo("expiry job: lots past their date become expired now, hourly and after midnight")
    return job


@click.command("expire")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), help="Judge expiry as of this site date "
              "(default: today at the site, STATION_TIMEZONE).")
def expire_command(on) -> None:
    """Mark every available lot past its expiry date as expired (each with a lot event)."""
    from ..services.expiry import expire_due

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
@click.option("--webhooks/--no-webhooks", default=True, show_default=True,
              help="Also deliver events to the webhook subscriptions.")
@click.option("--webhook-threads", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Webhook deliveries made at the same time.")
def worker_command(threads: int, poll: float, webhooks: bool, webhook_threads: int) -> None:
    """Send queued print jobs to the printers and events to the webhook subscriptions (no web server);
    SIGTERM or Ctrl+C stops it cleanly.

    Any number may run against one PostgreSQL database: a job or a delivery is sent by one of them at a time.
    """
    import signal
    import threading

    # The stop signal first: a SIGTERM while the worker starts must stop it cleanly, not kill it.
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    worker = _start_print_worker(current_app._get_current_object(), threads=threads, poll_s=poll)
    expiry = _start_expiry_job(current_app._get_current_object())
    hooks = _start_webhook_worker(current_app._get_current_object(), threads=webhook_threads, poll_s=poll) \
        if webhooks else None
    click.echo("Sending print jobs (Ctrl+C stops)")
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if hooks is not None:
            hooks.stop()
            click.echo(f"webhook worker stopped: {hooks.stats.delivered} delivered, {hooks.stats.retried} "
                       f"retried, {hooks.stats.dead} given up")
        expiry.stop()
        worker.stop()
        click.echo(f"print worker stopped: {worker.stats.sent} sent, {worker.stats.retried} retried, "
                   f"{worker.stats.failed} failed")



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
