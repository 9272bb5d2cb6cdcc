"""One way in for every scan: keyboard wedge, scan page, serial or simulated scanner, scanner agent, API.

    take(db, ScanIn(code, source, station_id=…, operator_id=…, client_id=…), workflow="putaway")

1. cleans and size-checks the code (`clean`: MAX_CHARS, one limit for every way in; Refused when the
   request itself is wrong — nothing is logged then);
2. logs and resolves it once (services/scans.py: a known client id answers the first outcome, a
   trigger bounce is logged as ignored);
3. applies it to the workflow's step (station/workflows/<name>.py) in the same transaction, with the
   state the station (or the browser's floor session) holds, and keeps the step's answer with the
   scan (scan_applications) so a retry gets it again.

A page passes its own workflow (and the page is then the one open at its station). A scan from the
station's own scanner (serial, sim://, agent://) passes none: it goes to the workflow open at that
station, acting as the operator signed in on that page while their floor session lives; the page
learns the answer by polling /scan/station-feed (no second POST, no second resolve). Command and badge
barcodes from such a scanner are left to the page, which presses its button or signs in.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database
from ..models import ScanApplication
from ..scanning import ScanContext
from ..scanning.codes import handled_by_the_page
from ..services import scans
from ..services.actor import Actor
from ..services.errors import DomainError
from . import MODULES, Answer, Scanned, role_key, state, step_of

log = logging.getLogger(__name__)

MAX_CHARS = 16_384  # longer is not a barcode; the log keeps the first 4 KB (scans.RAW_LIMIT) of what it gets
DEVICE_IDLE_SECONDS = 30 * 60
# Workflows whose step only reads (the answer follows from the resolution): a page's scan is resolved
# before the write transaction, as a lookup always was, and keeps no answer row.
READ_ONLY = frozenset({"lookup", "trace"})


class Refused(ValueError):
    """The request is wrong before any scan exists (empty, too long, not text): nothing is logged."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class ScanIn:
    """One scan as it arrives: the code (text, or bytes from a device), where from, and who."""

    code: object
    source: str = "wedge"
    station_id: int | None = None
    operator_id: int | None = None
    floor_session_id: int | None = None  # holds the state when the browser is bound to no station
    client_id: str | None = None
    token_id: int | None = None
    now: dt.datetime | None = None  # when it was scanned (the agent's clock); default: now


@dataclass(frozen=True)
class Taken:
    """What became of a scan: its log outcome, and the answer of the workflow it was applied to."""

    outcome: scans.ScanOutcome
    workflow: str | None = None
    answer: Answer | None = None  # None: logged only (no workflow open, a bounce, a command for the page)

    @property
    def scan_id(self) -> int:
        return self.outcome.scan_id

    @property
    def resolution(self):
        return self.outcome.resolution


def clean(code: object) -> str | bytes:
    """The code, when it can be a scan at all; Refused in a worker's words otherwise."""
    if isinstance(code, (bytes, bytearray)):
        code = bytes(code)
        blank = not code.strip(b"\r\n\t ")
    elif isinstance(code, str):
        blank = not code.strip("\r\n\t ")
    else:
        raise Refused("bad_request", "The code must be text.")
    if blank:
        raise Refused("empty", "Nothing scanned — scan the label again.")
    if len(code) > MAX_CHARS:
        raise Refused("too_long", "That is far too long to be a barcode — nothing was logged.")
    return code


def take(db: Database, scan: ScanIn, workflow: str | None = None, *, bounce_ms: int = scans.DEFAULT_BOUNCE_MS,
         idle_seconds: float = DEVICE_IDLE_SECONDS) -> Taken:
    """Log one scan and apply it to `workflow` (a page's), or to the station's open workflow (None)."""
    code = clean(scan.code)
    if workflow in READ_ONLY:  # ingest answers a known client id itself; a page's lookup keeps no answer
        outcome = scans.ingest(db, code, **_log_args(scan, workflow, bounce_ms))
        if outcome.retried or outcome.ignored:
            return Taken(outcome, workflow)
        return Taken(outcome, workflow,
                     step_of(workflow)(None, {}, _scanned(outcome, code, scan, scan.operator_id, scan.token_id)))
    if scan.client_id is not None:
        with db.read() as session:
            earlier = _earlier(session, scan)
        if earlier is not None:
            return earlier
    with db.write() as session:
        return _take(session, code, scan, workflow, bounce_ms, idle_seconds)


def _take(session: Session, code, scan: ScanIn, workflow: str | None, bounce_ms: int,
          idle_seconds: float) -> Taken:
    operator_id, holder = scan.operator_id, state.holder(scan.station_id, scan.floor_session_id)
    acting_token = scan.token_id
    from_device = workflow is None
    if from_device:  # it acts as whoever opened the workflow (a page's operator, or an API token), not the agent
        workflow, operator_id, acting_token = _open_at_station(session, scan.station_id, idle_seconds)
    else:
        state.open_at(session, scan.station_id, workflow, floor_session_id=scan.floor_session_id,
                      operator_id=scan.operator_id, token_id=scan.token_id)
    outcome = scans.ingest(session, code, **_log_args(scan, workflow or "lookup", bounce_ms, operator_id))
    if outcome.retried:
        return Taken(outcome, workflow, _kept_answer(session, outcome.scan_id))
    if workflow is None or outcome.ignored:
        return Taken(outcome, workflow)
    if from_device and handled_by_the_page(scan_text(code)):  # a command or a badge: the page presses its
        return Taken(outcome, workflow)                        # button or signs in (the station feed)
    current = state.load(session, holder, workflow)
    answer = _step(session, workflow, current, _scanned(outcome, code, scan, operator_id, acting_token))
    if answer.state is not None and answer.state != current:
        state.save(session, holder, workflow, answer.state)
    if workflow not in READ_ONLY or from_device:
        session.add(ScanApplication(scan_id=outcome.scan_id, operator_id=operator_id, workflow=workflow,
                                    answer=answer.to_dict()))
    return Taken(outcome, workflow, answer)


def _step(session: Session, workflow: str, current: dict, scanned: Scanned) -> Answer:
    """Run the step in a savepoint: a refusal or a fault undoes the step's writes, never the scan's log."""
    try:
        with session.begin_nested():
            return step_of(workflow)(session, dict(current), scanned)
    except DomainError as exc:
        return Answer("error", exc.message)
    except Exception:  # noqa: BLE001 — the scan stays logged; the worker is told, the log has the trace
        log.exception("the %s step raised for scan %s", workflow, scanned.scan_id)
        return Answer("error", "This scan could not be applied because of a fault in Station.",
                      "It is in the scan log. Tell a supervisor.")


def _open_at_station(session: Session, station_id: int | None,
                     idle_seconds: float) -> tuple[str | None, int | None, int | None]:
    """The station's open workflow, its operator and token, when that operator may still use it."""
    if station_id is None:
        return None, None, None
    opened = state.open_workflow(session, station_id, idle_seconds=idle_seconds)
    if opened is None or opened.workflow not in MODULES:
        return None, None, None
    if opened.role is not None and not _may(opened.role, opened.workflow):
        return None, None, None
    return opened.workflow, opened.operator_id, opened.token_id


def _may(role: str, workflow: str) -> bool:
    from ..auth.roles import WORKFLOWS  # Flask-free

    return any(r.value == role for r in WORKFLOWS[role_key(workflow)])


def _log_args(scan: ScanIn, workflow: str, bounce_ms: int, operator_id: int | None = None) -> dict:
    return {"source": scan.source, "station_id": scan.station_id,
            "operator_id": operator_id if operator_id is not None else scan.operator_id,
            "client_id": scan.client_id, "context": ScanContext(workflow=workflow), "now": scan.now,
            "bounce_ms": bounce_ms, "token_id": scan.token_id}


def scan_text(code: str | bytes) -> str:
    return code.decode("utf-8", "replace") if isinstance(code, bytes) else code


def _scanned(outcome: scans.ScanOutcome, code, scan: ScanIn, operator_id: int | None,
             token_id: int | None) -> Scanned:
    raw = scan_text(code)
    return Scanned(scan_id=outcome.scan_id, resolution=outcome.resolution, raw=raw, source=scan.source,
                   actor=Actor(operator_id=operator_id, station_id=scan.station_id, raw_scan=raw[:200],
                               token_id=token_id))


def _earlier(session: Session, scan: ScanIn) -> Taken | None:
    """A scan with this client id was taken before: its first outcome and answer."""
    if not scans.CLIENT_ID.match(scan.client_id):
        raise scans.InvalidClientId(f"client_id must be 8-64 letters, digits or _.:- (got {scan.client_id[:80]!r})")
    earlier = scans.by_client_id(session, scan.client_id)
    if earlier is None:
        return None
    row = session.execute(select(ScanApplication.workflow, ScanApplication.answer)
                          .where(ScanApplication.scan_id == earlier.scan_id)).first()
    if row is None or row.answer is None:
        return Taken(earlier)
    return Taken(earlier, row.workflow, Answer.from_dict(row.answer))


def _kept_answer(session: Session, scan_id: int) -> Answer | None:
    answer = session.scalar(select(ScanApplication.answer).where(ScanApplication.scan_id == scan_id))
    return Answer.from_dict(answer) if answer else None


def applied(session: Session, scan_id: int) -> tuple[str, Answer] | None:
    """The workflow a logged scan was applied to and its answer (None: it was not applied)."""
    row = session.execute(select(ScanApplication.workflow, ScanApplication.answer)
                          .where(ScanApplication.scan_id == scan_id)).first()
    if row is None or row.workflow is None or row.answer is None:
        return None
    return row.workflow, Answer.from_dict(row.answer)
