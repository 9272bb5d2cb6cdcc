"""Scans sent in by programs: the station scanner agent logs its station's scans here.

    POST /scans   {station, client_id, code | raw_base64, source?, scanned_at?}  -> 201 the logged scan

Only an agent token (`station token create NAME --role agent --station STATION`) may post, only for
its own station, and only when that station's scanner is `agent://` (set-up): a scan logged here is
acted on by the page open at the station, as its signed-in operator, so a token of any other role
(even an admin's) or another station's agent gets 403 and nothing is logged. The page applies the
scan with the operator's own session and role checks — a command presses a button of that page, a
badge signs in as a badge scan would (a PIN role still needs its PIN) — so the agent never acts with
more rights than the operator at the station.

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

from flask import current_app, g
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from .. import clock, get_db
from ..agent import AGENT_SCANNER_URL
from ..models import Scan, StationDevice
from ..services import dates
from ..services.errors import Invalid
from ..services.scans import CLIENT_ID, RAW_LIMIT
from ..workflows import intake
from .core import AGENT_WORKFLOW, ApiCaller, ApiError, api_actor, route
from .schemas import Request, ResolutionOut

# A scan stamped further in the future than this is refused: the agent's clock is wrong (services/dates.py).
CLOCK_SKEW = dates.SCAN_FUTURE


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
                          "scan sent late from a buffer keeps its own time: at most 5 minutes ahead "
                          "of the server's clock, at most a year old (422 otherwise).")

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


@route("POST", "/scans", body=ScanIn, response=ScanOut, status=201, errors=(409,),
       workflow=AGENT_WORKFLOW,
       action="Posting a station's scans")
def create_scan(body: ScanIn) -> ScanOut:
    """Log a scan made at a station (the scanner agent's way in); a resend is answered once."""
    caller = g.api_token  # an agent token (route workflow): bound to one station
    station = _agents_station(caller, body.station)
    raw = body.code if body.code is not None else _decode(body.raw_base64)
    now = clock.now()
    at = body.scanned_at or now
    dates.check_scanned_at(at, now)  # CLOCK_SKEW ahead at most, a year back at most
    # Applied to the workflow open at the station, as its page's operator (station/workflows/intake.py).
    scan = intake.ScanIn(raw, source=f"agent:{body.source}", station_id=station.id, client_id=body.client_id,
                         now=at, token_id=api_actor().token_id)
    try:
        taken = intake.take(get_db(), scan, bounce_ms=current_app.config["SCAN_BOUNCE_MS"],
                            idle_seconds=float(current_app.config.get("FLOOR_IDLE_MINUTES", 30)) * 60)
    except intake.Refused as exc:
        raise Invalid(exc.message, code=exc.code, field="code") from None
    outcome = taken.outcome
    if outcome.retried:
        _same_station(outcome.scan_id, station)
    data = outcome.to_dict()
    return ScanOut(scan_id=data["scan_id"], retried=data["retried"], ignored=data["ignored"],
                   resolution=ResolutionOut(**data["resolution"]))


def _agents_station(caller: ApiCaller, name: str) -> StationDevice:
    """The station `name`, when the agent token `caller` is bound to it and its scanner is agent://;
    else 403 in words (422 unknown_station when the token's own station is gone). A scan posted here
    is acted on by the page open at that station, as its signed-in operator: only the agent of that
    very station may put scans there."""
    if caller.station_id is None or caller.station_name != name:
        raise ApiError(403, "wrong_station",
                       f"This token is not the agent token of station {name!r}: it is the agent token of "
                       f"station {caller.station_name!r} and may only post that station's scans. Give "
                       f"--station {caller.station_name!r}, or make a token for {name!r} with "
                       f"`station token create NAME --role agent --station {name!r}`.",
                       station=name, token_station=caller.station_name)
    with get_db().read() as session:
        station = session.get(StationDevice, caller.station_id)
        if station is not None:
            session.expunge(station)
    if station is None or station.name != name:  # renamed or gone since the token was cached
        raise Invalid(f"There is no station called {name!r}: check the agent's --station.",
                      code="unknown_station", field="station")
    if not (station.scanner_url or "").strip().startswith(AGENT_SCANNER_URL):
        raise ApiError(403, "not_an_agent_station",
                       f"Station {name!r} does not take scans from a scanner agent: its scanner is "
                       f"{(station.scanner_url or 'not set')!s:.80}. An admin sets it to "
                       f"{AGENT_SCANNER_URL} in Station set-up; until then nothing is logged.",
                       station=name)
    return station


def _same_station(scan_id: int, station: StationDevice) -> None:
    """A resend is answered with the first answer only at the station that logged it: a client_id
    already used elsewhere (another station, a page) is refused, so no agent reads another's scans."""
    with get_db().read() as session:
        logged_at = session.scalar(select(Scan.station_id).where(Scan.id == scan_id))
    if logged_at != station.id:
        raise ApiError(409, "client_id_taken",
                       "That client_id belongs to a scan made elsewhere; give each scan its own client_id "
                       "(the scanner agent makes one per scan). Nothing was logged.", field="client_id")


def _decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("raw_base64 is not valid base64.", code="bad_base64", field="raw_base64") from None
