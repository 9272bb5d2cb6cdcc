"""Runs the stations' own scanners: each StationDevice.scanner_url is opened and its scans ingested.

A scan from a serial or simulated scanner goes through `workflows.intake.take` with
``source=<the scanner URL>`` and the station's id — the one way in for every scan — which logs it,
resolves it once and applies it to the workflow open at that station, in one transaction; the
station's page learns the answer from the station feed. Nothing is fanned out in memory, so the page
may be served by any process.

`station run` starts the service beside the web server (`--no-scanners` leaves it out) and
`station scanners` runs it alone. It is never started at import or by create_app. It re-reads
the stations every `refresh_s` seconds, so a scanner added, changed or removed in the database is
picked up without a restart. A serial port is opened exclusively (pyserial's lock), so when two
processes run the service, one reads the port and the other keeps retrying — a warm standby.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from dataclasses import dataclass, field

from sqlalchemy import select

from .. import netpolicy, unavailable
from ..agent import AGENT_SCANNER_URL
from ..db import Database
from ..models import ScannerReading, StationDevice
from ..services.scans import DEFAULT_BOUNCE_MS
from ..workflows import intake

log = logging.getLogger(__name__)


@dataclass
class BoundScanner:
    """One station's scanner and what it has done, for the diagnostics page."""

    station_id: int
    station: str
    url: str
    scanner: object | None = None  # devices.scanners.Scanner once opened
    state: str = "starting"
    error: str | None = None
    scans: int = 0
    failures: int = 0
    last_scan_at: dt.datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class ScannerService:
    """Opens every station's scanner_url with devices.scanners.open_scanner and ingests its scans."""

    def __init__(self, db: Database, *, bounce_ms: int = DEFAULT_BOUNCE_MS, refresh_s: float = 10.0,
                 idle_seconds: float = intake.DEVICE_IDLE_SECONDS, networks=None) -> None:
        self.db = db
        # STATION_DEVICE_NETWORKS: a scanner outside these is never opened, whatever its row says.
        self.networks = netpolicy.from_environment() if networks is None else netpolicy.parse_networks(networks)
        self.bounce_ms = bounce_ms
        self.refresh_s = refresh_s
        self.idle_seconds = idle_seconds  # a page's operator counts as gone after this long (FLOOR_IDLE_MINUTES)
        self._bound: dict[int, BoundScanner] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> ScannerService:
        """Open the scanners now, then keep them in step with the stations table in the background."""
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 — e.g. a database not initialised yet: the watcher retries
            log.warning("scanner service: stations not read yet (%s); retrying every %s s", exc, self.refresh_s)
        if self.refresh_s and self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="station scanners", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop every scanner (each waits for its reader thread) and the watcher; safe to repeat."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            bound, self._bound = list(self._bound.values()), {}
        for b in bound:
            self._close(b)

    def __enter__(self) -> ScannerService:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _watch(self) -> None:
        outage = False
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 — a database hiccup must not end the watcher
                problem = unavailable.describe(exc)
                if problem is None:
                    log.exception("scanner service: could not re-read the stations")
                elif not outage:  # one line when the outage starts, not a traceback every refresh
                    log.warning("scanner service: the database cannot be reached (%s); retrying", problem.code)
                outage = problem is not None
                continue
            if outage:
                log.warning("scanner service: the database is back")
                outage = False

    def refresh(self) -> None:
        """Open scanners for stations that have one, close those whose station dropped or changed it."""
        with self.db.read() as session:
            wanted = {sid: (name, url.strip()) for sid, name, url in session.execute(
                select(StationDevice.id, StationDevice.name, StationDevice.scanner_url)
                .where(StationDevice.scanner_url.is_not(None)))
                if url and url.strip() and not url.strip().startswith(AGENT_SCANNER_URL)}
        with self._lock:
            if self._stop.is_set():
                return
            stale = [b for sid, b in self._bound.items()
                     if sid not in wanted or wanted[sid][1] != b.url]
            for b in stale:
                del self._bound[b.station_id]
        for b in stale:
            self._close(b)
        for sid, (name, url) in sorted(wanted.items()):
            with self._lock:
                known = self._bound.get(sid)
                if known is not None:
                    known.station = name
                    if known.scanner is not None:
                        continue
                b = known or BoundScanner(sid, name, url)
                self._bound[sid] = b
            self._open(b)

    def _open(self, b: BoundScanner) -> None:
        from devices.scanners import open_scanner  # devices stay optional until a scanner is configured

        problem = netpolicy.refusal(b.url, self.networks)
        if problem:
            b.state, b.error = "error", f"Not opened: {problem}"
            log.warning("station %s: scanner %s not opened: %s", b.station, b.url, problem)
            return
        try:
            b.scanner = open_scanner(b.url, lambda event: self._on_scan(b, event),
                                     lambda status: self._on_status(b, status))
        except Exception as exc:  # noqa: BLE001 — a bad URL or a busy name is shown, not fatal
            b.state, b.error = "error", str(exc)
            log.warning("station %s: scanner %s not opened: %s", b.station, b.url, exc)
            self._publish(b)

    def _close(self, b: BoundScanner) -> None:
        if b.scanner is not None:
            try:
                b.scanner.stop()
            except Exception:  # noqa: BLE001
                log.exception("station %s: scanner %s did not stop cleanly", b.station, b.url)
        b.state = "stopped"
        self._publish(b)

    # --- events (on each scanner's reader thread) ----------------------------------------------

    def _on_scan(self, b: BoundScanner, event) -> None:
        """Ingest one framed scan; never raises into the reader thread."""
        if not event.raw:
            if event.error:
                log.warning("station %s: scanner %s: %s", b.station, b.url, event.error)
            return
        if not getattr(event, "complete", True):
            # Cut off by an unplug or over-long: "LOT:24-00" of "LOT:24-0017" could match
            # another lot, so it is never resolved; the worker scans again.
            log.warning("station %s: scanner %s: incomplete scan %r discarded (%s)",
                        b.station, b.url, event.raw[:80], event.error or "no terminator")
            return
        if event.error:  # undecodable bytes: logged and resolved as they came (resolve refuses them)
            log.info("station %s: scanner %s: %s", b.station, b.url, event.error)
        try:
            # The scan goes to the workflow open at the station (its page's operator), in the transaction
            # that logs it; the page learns the answer from the station feed.
            intake.take(self.db, intake.ScanIn(event.raw, source=b.url, station_id=b.station_id,
                                               now=_aware(getattr(event, "received_at", None))),
                        bounce_ms=self.bounce_ms, idle_seconds=self.idle_seconds)
        except Exception:  # noqa: BLE001 — the next scan must still be read
            with b.lock:
                b.failures += 1
            log.exception("station %s: a scan from %s could not be logged", b.station, b.url)
            return
        with b.lock:
            b.scans += 1
            b.last_scan_at = dt.datetime.now(dt.timezone.utc)
        self._publish(b)

    def _on_status(self, b: BoundScanner, status) -> None:
        state = getattr(status, "state", None)
        b.state = str(getattr(state, "value", state) or "unknown")
        b.error = getattr(status, "last_error", None)
        self._publish(b)

    def _publish(self, b: BoundScanner) -> None:
        """Write the scanner's state where every app process reads it (scanner_readings); a
        database hiccup costs only this update."""
        with b.lock:
            row = ScannerReading(station_id=b.station_id, url=b.url, state=b.state[:16], error=b.error,
                                 scans=b.scans, failures=b.failures, last_scan_at=b.last_scan_at,
                                 reader=f"{socket.gethostname()}:{os.getpid()}", updated_at=dt.datetime.now(dt.timezone.utc))
        try:
            with self.db.write() as session:
                session.merge(row)
        except Exception:  # noqa: BLE001 — the scanner keeps being read
            log.warning("station %s: scanner state not saved", b.station, exc_info=True)

    # --- for the diagnostics page -----------------------------------------------------------

    def status(self) -> list[dict]:
        """One dict per bound scanner: station, url, state, error, scans, failures, last scan time."""
        with self._lock:
            bound = sorted(self._bound.values(), key=lambda b: b.station)
        return [{"station": b.station, "url": b.url, "state": b.state, "error": b.error, "scans": b.scans,
                 "failures": b.failures, "last_scan_at": b.last_scan_at} for b in bound]


def _aware(ts: dt.datetime | None) -> dt.datetime | None:
    if ts is None:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=dt.timezone.utc)


def start_for(app) -> ScannerService:
    """Start the scanner service for `app` and remember it (the scan log page shows its status)."""
    service = ScannerService(app.extensions["station.db"], bounce_ms=app.config.get("SCAN_BOUNCE_MS",
                                                                                   DEFAULT_BOUNCE_MS),
                             idle_seconds=float(app.config.get("FLOOR_IDLE_MINUTES", 30)) * 60,
                             networks=app.config.get("DEVICE_NETWORKS", ()))
    app.extensions["station.scanners"] = service
    return service.start()
