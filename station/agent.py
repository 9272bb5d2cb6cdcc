"""The station scanner agent: a small process on a station PC that reads its serial scanners and sends
every scan to the central server, keeping them on disk while the server cannot be reached.

    station scanner-agent --server http://station.example:8000 --station "Dock 1" \\
        --scanner 'serial:///dev/ttyACM0?terminator=CR' --spool /var/lib/station-agent
    (the station's agent token comes from $STATION_AGENT_TOKEN or --token-file; make it on the server
     with `station token create "Dock 1 agent" --role agent --station "Dock 1"`; `python -m station.agent`
     with the same options runs it on a PC without Flask)

Nothing is lost between the scanner and the scan log:
- Each framed scan is appended to the journal (`<spool>/journal.jsonl`, fsynced) BEFORE anything is
  sent, with its own client id and the time it was read. A crash or a power cut after that keeps it.
- One sender sends the journal's scans in order, one at a time, to POST /api/v1/scans. A scan leaves
  the journal only when the server has answered it (an "ack" line is appended). Until then the
  same scan, with the same client id, is sent again with backoff — and a scan the server logged
  but whose answer was lost is answered from the log (`retried`) instead of being logged twice.
- A scan the server refuses for itself (a 400/409/422 about that scan) is written to `rejected.jsonl`
  and skipped, so one bad scan cannot stop the queue. A refusal that concerns every scan (no or a
  revoked token, a token that is not this station's agent token, a station whose scanner is not
  agent://, an unknown station) stops sending and keeps everything until it is fixed.

On the server, set the station's scanner to `agent://` (Station set-up, as an admin) and make the
station's own agent token (`station token create NAME --role agent --station STATION`): the server
takes scans for a station only from that station's agent token (a token of any other role, even an
admin's, gets 403), and the station's pages take them like those of a scanner the server reads
itself — applied by the page open at the station as its signed-in operator, never with more rights.
The server does not try to open anything for an agent:// scanner.

It imports no Flask and opens no database: only `devices.scanners`, click (its command line) and the
standard library. `python -m station.agent` takes the same options as `station scanner-agent` and
runs without Flask or SQLAlchemy (tests/test_agent_standalone.py checks it).
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import signal
import threading
import urllib.error
import urllib.request
import uuid
from collections import OrderedDict
from pathlib import Path

import click  # the command line only (Flask's CLI is built on it; it imports no Flask)

log = logging.getLogger(__name__)

# A station's scanner_url saying "an agent on the station PC reads its scanners": not opened by the
# server's scanner service; the pages follow the station's scan feed as for a scanner of its own.
AGENT_SCANNER_URL = "agent://"

# 422 answers that concern every scan, not the one sent: keep the queue, fix the set-up (401/403/5xx
# are retried anyway).
BLOCKING_CODES = {"unknown_station"}
COMPACT_BYTES = 1 << 20  # rewrite the journal when nothing is pending and it has grown past this


class Journal:
    """Scans not yet answered by the server, kept in an append-only JSON-lines file.

    Lines are {"scan": {...}} when a scan is read and {"ack": client_id} when it is answered; the
    pending scans are the ones without an ack, in the order they were read. A torn last line (a
    crash mid-write) is ignored: its scan had not been acknowledged to anyone yet.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "journal.jsonl"
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, dict] = OrderedDict()
        self._load()
        self._file = open(self.path, "a", encoding="utf-8")

    def _load(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    log.warning("journal %s: a torn line was skipped", self.path)
                    continue
                if "scan" in entry:
                    self._pending[entry["scan"]["client_id"]] = entry["scan"]
                elif "ack" in entry:
                    self._pending.pop(entry["ack"], None)

    def _append(self, entry: dict) -> None:
        self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def add(self, scan: dict) -> None:
        with self._lock:
            self._append({"scan": scan})
            self._pending[scan["client_id"]] = scan

    def first(self) -> dict | None:
        with self._lock:
            return next(iter(self._pending.values()), None)

    def ack(self, client_id: str) -> None:
        with self._lock:
            self._append({"ack": client_id})
            self._pending.pop(client_id, None)
            if not self._pending and self._file.tell() > COMPACT_BYTES:
                self._compact()

    def _compact(self) -> None:
        # Nothing pending: start an empty journal (atomically, so a crash leaves the old or the new).
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.flush()
            os.fsync(f.fileno())
        self._file.close()
        os.replace(tmp, self.path)
        self._file = open(self.path, "a", encoding="utf-8")

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Agent:
    """Reads `scanner_urls` into the journal and sends the journal to `server` for `station`."""

    def __init__(self, *, server: str, token: str, station: str, scanner_urls: list[str], spool: Path,
                 timeout: float = 5.0, retry_max: float = 10.0) -> None:
        self.endpoint = server.rstrip("/") + "/api/v1/scans"
        self.token, self.station = token, station
        self.scanner_urls = list(scanner_urls)
        self.journal = Journal(spool)
        self.rejected_path = Path(spool) / "rejected.jsonl"
        self.timeout, self.retry_max = timeout, retry_max
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._scanners: list = []
        self._sender: threading.Thread | None = None
        self.sent = 0
        self.last_error: str | None = None

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> Agent:
        from devices.scanners import open_scanner

        try:
            for url in self.scanner_urls:
                self._scanners.append(open_scanner(url, lambda event, url=url: self._on_scan(url, event),
                                                   lambda status, url=url: self._on_status(url, status)))
        except Exception:
            self.stop()  # a bad URL: nothing half-started is left behind
            raise
        self._sender = threading.Thread(target=self._send_loop, name="agent sender", daemon=True)
        self._sender.start()
        return self

    def stop(self) -> None:
        for scanner in self._scanners:
            scanner.stop()
        self._scanners.clear()
        self._stop.set()
        self._wake.set()
        if self._sender is not None:
            self._sender.join(timeout=self.timeout + 1)
        self.journal.close()

    def __enter__(self) -> Agent:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def status(self) -> dict:
        return {"pending": len(self.journal), "sent": self.sent, "last_error": self.last_error}

    # --- reading ---------------------------------------------------------------------------------

    def _on_scan(self, url: str, event) -> None:
        if not event.raw or not getattr(event, "complete", True):
            # An unplug cut it short, or it never ended: "LOT:24-00" of "LOT:24-0017" could be
            # another lot, so it is not sent; the worker scans again.
            if event.raw:
                log.warning("scanner %s: incomplete scan %r discarded", url, event.raw[:80])
            return
        at = getattr(event, "received_at", None) or dt.datetime.now(dt.timezone.utc)
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
        self.journal.add({"client_id": f"agent-{uuid.uuid4().hex}", "source": url,
                          "raw_base64": base64.b64encode(event.raw).decode("ascii"),
                          "scanned_at": at.isoformat()})
        self._wake.set()

    @staticmethod
    def _on_status(url: str, status) -> None:
        log.info("scanner %s: %s %s", url, getattr(status, "state", "?"), getattr(status, "last_error", "") or "")

    # --- sending ---------------------------------------------------------------------------------

    def _send_loop(self) -> None:
        delay = 0.25
        while not self._stop.is_set():
            scan = self.journal.first()
            if scan is None:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            verdict = self._send(scan)
            if verdict == "retry":
                self._stop.wait(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            delay = 0.25
            if verdict == "rejected":
                with open(self.rejected_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"scan": scan, "error": self.last_error}) + "\n")
            self.journal.ack(scan["client_id"])
            self.sent += verdict == "sent"

    def _send(self, scan: dict) -> str:
        """"sent", "rejected" (this scan will never be taken) or "retry" (try the same scan later)."""
        body = json.dumps({"station": self.station, **scan}).encode()
        request = urllib.request.Request(self.endpoint, data=body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
            self.last_error = None
            return "sent"
        except urllib.error.HTTPError as exc:
            code, message = _error_of(exc)
            if exc.code == 403:  # the token or the station's set-up: the same for every scan
                message = self._refusal_words(code, message)
            self.last_error = f"{exc.code} {code}: {message}"
            if exc.code in (400, 409, 422) and code not in BLOCKING_CODES:  # 409: its client_id is taken
                log.warning("scan %s refused by the server and set aside: %s", scan["client_id"], message)
                return "rejected"
            level = logging.ERROR if exc.code in (401, 403) else logging.WARNING
            log.log(level, "server answered %s (%s); %d scan(s) kept, retrying", exc.code, message,
                    len(self.journal))
            return "retry"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            self.last_error = f"server unreachable: {reason}"
            log.info("server unreachable (%s); %d scan(s) kept", reason, len(self.journal))
            return "retry"


    def _refusal_words(self, code: str, message: str) -> str:
        """A 403 in words an installer can act on: what is wrong with the token or the station."""
        if code == "not_an_agent_station":
            return (f"station {self.station!r} does not take scans from an agent: an admin sets its scanner "
                    f"to {AGENT_SCANNER_URL} in Station set-up (server: {message})")
        return (f"this token is not the agent token of station {self.station!r}: make one on the server with "
                f"`station token create NAME --role agent --station {self.station!r}` and give it to the agent "
                f"($STATION_AGENT_TOKEN or --token-file) (server: {message})")


def _error_of(exc: urllib.error.HTTPError) -> tuple[str, str]:
    try:
        error = json.loads(exc.read() or b"{}").get("error") or {}
    except ValueError:
        error = {}
    finally:
        exc.close()  # it holds the connection's response
    return error.get("code", "http_error"), error.get("message", exc.reason or "")


# --- the command: `station scanner-agent` (station/cli.py adds it) or `python -m station.agent` --------

@click.command("scanner-agent")
@click.option("--server", required=True, help="The central server's base URL, e.g. http://10.0.0.5:8000.")
@click.option("--station", required=True, help="This station's name, as in the server's set-up.")
@click.option("--scanner", "scanners", multiple=True, required=True,
              help="A scanner URL (repeatable), e.g. 'serial:///dev/ttyACM0?terminator=CR'.")
@click.option("--spool", required=True, type=click.Path(file_okay=False),
              help="Folder for the journal of scans not yet sent (keep it on local disk).")
@click.option("--token-file", type=click.File("r"),
              help="File holding this station's agent token; else $STATION_AGENT_TOKEN. Make it on the server "
                   "with `station token create NAME --role agent --station STATION`.")
def scanner_agent_command(server: str, station: str, scanners: tuple[str, ...], spool: str, token_file) -> None:
    """Read this PC's scanners and send every scan to the server, buffering on disk while it is away.

    The token must be the agent token of this very station (`station token create NAME --role agent
    --station STATION` on the server), and the station's scanner must be agent:// in Station set-up;
    until both hold the server answers 403 and every scan is kept in the spool folder."""
    token = (token_file.read() if token_file else os.environ.get("STATION_AGENT_TOKEN", "")).strip()
    if not token:
        raise click.UsageError("no API token: set STATION_AGENT_TOKEN or give --token-file (make the "
                               f"station's agent token on the server with `station token create NAME "
                               f"--role agent --station {station!r}`)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        agent = Agent(server=server, token=token, station=station, scanner_urls=list(scanners), spool=spool)
        agent.start()
    except Exception as exc:  # noqa: BLE001 — a bad scanner URL or spool folder: say so and stop
        raise click.ClickException(str(exc)) from None
    click.echo(f"agent for station {station!r}: {len(scanners)} scanner(s) -> {server}; "
               f"{agent.status()['pending']} scan(s) waiting in {spool}")
    try:
        while not done.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()
        click.echo(f"agent stopped; {agent.status()['pending']} scan(s) kept for the next start")


if __name__ == "__main__":  # python -m station.agent: the same command, with no Flask app to build
    scanner_agent_command.main(prog_name="python -m station.agent")
