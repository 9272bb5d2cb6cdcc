"""Drive a station's workflow by API, one scan at a time: an integrator's test rig or a headless station.

    POST /api/v1/stations/<name>/scans   {"code", "client_id"?, "workflow"?} -> what the workflow did

The scan goes through the same intake as a wedge, serial or agent scan (station/workflows/intake.py):
logged and resolved once, applied to the workflow's step in the same transaction, with the state the
station holds — the same move, receipt or pick its page and its own scanner work on. Naming a
workflow makes it the one open at the station (its scanner's scans then go there too); without one,
the scan goes to the workflow already open there. The token's role must be allowed that workflow.
"""
from __future__ import annotations

from typing import Annotated, Literal

from flask import current_app, g
from pydantic import BaseModel, Field
from sqlalchemy import select

from .. import get_db
from ..auth import WORKFLOWS
from ..models import StationDevice
from ..services.errors import Invalid, NotFound
from ..services.scans import CLIENT_ID
from ..workflows import MODULES, intake, role_key, state
from .core import ApiError, api_actor, route
from .schemas import Request, ResolutionOut

WorkflowName = Literal[tuple(MODULES)]  # the workflows a scan can be applied to
# Any role that may use some workflow may call the route; the workflow itself is checked per request.
CALLERS = tuple(sorted({role_key(name) for name in MODULES}))


class StationScanIn(Request):
    code: Annotated[str, Field(min_length=1, max_length=intake.MAX_CHARS,
                               description="The code as scanned (GS1 separators as GS, 0x1D).")]
    client_id: Annotated[str | None, Field(default=None, pattern=CLIENT_ID.pattern,
                                           description="Your id for this scan (8-64 of A-Z a-z 0-9 _ . : -): "
                                                       "a resend gets the first answer, nothing is done twice.")]
    workflow: WorkflowName | None = Field(
        default=None, description="The workflow to apply it to (it becomes the one open at the station). "
                                  "Default: the workflow open at the station.")


class AnswerOut(BaseModel):
    kind: Literal["ok", "error", "info", "warn"] = Field(description="Green, red, neutral or amber banner.")
    message: str = Field(description="What happened, in the worker's words.")
    detail: str | None = Field(description="The next thing to do, or why.")
    data: dict = Field(description="Facts of the step (e.g. what was moved), as the page uses them.")


class StationScanOut(BaseModel):
    scan_id: int = Field(description="The scan's id in the scan log.")
    retried: bool = Field(description="True when this client_id was taken before: the first answer.")
    ignored: bool = Field(description="True for a trigger bounce: logged, not acted on.")
    workflow: str | None = Field(description="The workflow the scan was applied to (null: none open).")
    answer: AnswerOut | None = Field(description="What the workflow did (null: logged only).")
    state: dict = Field(description="The workflow's state at the station after the scan.")
    resolution: ResolutionOut


@route("POST", "/stations/<name>/scans", body=StationScanIn, response=StationScanOut, status=200,
       errors=(403, 404, 409), workflow=CALLERS, action="Driving a station's workflow")
def drive_station(name: str, body: StationScanIn) -> StationScanOut:
    """Apply a scan to a station's workflow and answer what the workflow did."""
    actor = api_actor()
    db = get_db()
    with db.read() as session:
        station_id = session.scalar(select(StationDevice.id).where(StationDevice.name == name))
        if station_id is None:
            raise NotFound(f"There is no station called {name[:60]!r}.", code="unknown_station")
        workflow = body.workflow
        if workflow is None:
            opened = state.open_workflow(session, station_id, idle_seconds=_idle_seconds())
            if opened is None:
                raise ApiError(409, "no_workflow_open",
                               f"No workflow is open at station {name!r}: name one in \"workflow\".",
                               station=name)
            workflow = opened.workflow
    role = g.api_token.operator_role  # route(workflow=CALLERS) let no agent token in
    if role not in WORKFLOWS[role_key(workflow)]:
        raise ApiError(403, "forbidden", f"A {role.value} token may not use the {workflow} workflow.",
                       workflow=workflow)
    scan = intake.ScanIn(body.code, source="api", station_id=station_id, client_id=body.client_id,
                         token_id=actor.token_id)
    try:
        taken = intake.take(db, scan, workflow, bounce_ms=current_app.config["SCAN_BOUNCE_MS"])
    except intake.Refused as exc:
        raise Invalid(exc.message, code=exc.code, field="code") from None
    with db.read() as session:
        after = state.load(session, state.holder(station_id, None), workflow)
    answer = taken.answer
    return StationScanOut(scan_id=taken.scan_id, retried=taken.outcome.retried, ignored=taken.outcome.ignored,
                          workflow=taken.workflow, state=after,
                          answer=AnswerOut(**answer.to_dict()) if answer else None,
                          resolution=ResolutionOut(**taken.resolution.to_dict()))


def _idle_seconds() -> float:
    return float(current_app.config.get("FLOOR_IDLE_MINUTES", 30)) * 60
