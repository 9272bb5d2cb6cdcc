"""Scans sent in by programs: the station scanner agent (and scripted scanners) log scans here.

    POST /scans   {station, client_id, code | raw_base64, source?, scanned_at?}  -> 201 the logged scan

The scan goes through the same ingestion as a wedge or serial scan (services.scans.ingest): it is
resolved, logged against the station, and shows on the station's pages like a scan from its own
scanner. `client_id` makes a resend harmless: the agent resends a scan until it has an answer, and
a scan already logged under that id is answered with the first answer (`retried: true`), never
logged twice — the unique client_id in the scan log decides, across processes.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from .. import clock, get_db
from ..models import StationDevice
from ..scanning import ScanContext
from ..services.errors import Invalid
from ..services.scans import CLIENT_ID, RAW_LIMIT, ingest
from .core import route
from .schemas import Request, ResolutionOut

# A scan stamped further in the future than this is refused: the agent's clock is wrong.
CLOCK_SKEW = dt.timedelta(minutes=5)


class ScanIn(Request):
    station: Annotated[str, Field(min_length=1, max_length=60)] = Field(
        description="The station the scan was made at (its name, as in set-up).")
    client_id: Annotated[str, Field(pattern=CLIENT_ID.pattern)] = Field(
        description="The sender's id for this scan (8-64 letters, digits or _.:-); a resend with the "
                    "same id is answered with the first answer and logged once.")
    code: Annotated[str, Field(max_length=RAW_LIMIT)] | None = Field(
        None, description="The scan as text (GS as \\u001d). Give this or raw_base64.")
    raw_base64: Annotated[str, Field(max_length=RAW_LIMIT * 2)] | None = Field(
        None, description="The scan's bytes exactly as the scanner sent them, base64-encoded.")
    source: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        "agent", description="Where the scan came from, e.g. the agent's scanner URL.")
    scanned_at: dt.datetime | None = Field(
        None, description="When the scanner read it (with a time zone); default: when it arrives. A "
                          "scan sent late from a buffer keeps its own time.")

    @model_validator(mode="after")
    def _one_payload(self) -> ScanIn:
        if (self.code is None) == (self.raw_base64 is None):
            raise ValueError("give exactly one of code and raw_base64")
        if self.scanned_at is not None and self.scanned_at.tzinfo is None:
            raise ValueError("scanned_at needs a time zone (e.g. 2026-11-25T08:00:00Z)")
        return self


class ScanOut(BaseModel):
    scan_id: int = Field(description="The scan's id in the scan log.")
    retried: bool = Field(description="True when this client_id was logged before: the first answer.")
    ignored: bool = Field(description="True for a trigger bounce: logged, not acted on.")
    resolution: ResolutionOut


@route("POST", "/scans", body=ScanIn, response=ScanOut, status=201,
       workflow="lookup")
def create_scan(body: ScanIn) -> ScanOut:
    """Log a scan made at a station (the scanner agent's way in); a resend is answered once."""
    raw = body.code if body.code is not None else _decode(body.raw_base64)
    now = clock.now()
    at = body.scanned_at or now
    if at > now + CLOCK_SKEW:
        raise Invalid(f"scanned_at {at.isoformat()} is in the future: check the sender's clock.",
                      code="clock_skew", field="scanned_at")
    db = get_db()
    with db.read() as session:
        station_id = session.scalar(select(StationDevice.id).where(StationDevice.name == body.station))
    if station_id is None:
        raise Invalid(f"There is no station called {body.station!r}: check the agent's --station.",
                      code="unknown_station", field="station")
    outcome = ingest(db, raw, source=f"agent:{body.source}", station_id=station_id,
                     client_id=body.client_id, context=ScanContext(workflow="lookup"), now=at)
    data = outcome.to_dict()
    return ScanOut(scan_id=data["scan_id"], retried=data["retried"], ignored=data["ignored"],
                   resolution=ResolutionOut(**data["resolution"]))


def _decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("raw_base64 is not valid base64.", code="bad_base64", field="raw_base64") from None
