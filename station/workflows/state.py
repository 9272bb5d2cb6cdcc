"""Where workflow state lives: workflow_states rows, held by a station or by a floor session.

A station holds its workflows' state ("station:<id>"): its pages, its own scanner and the API all
work on the same move, receipt or pick. A browser bound to no station holds its own ("session:<id>",
its floor session). station_workflows says which workflow is open at a station, so a scan of the
station's own scanner knows where to go.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .. import clock
from ..models import FloorSession, Operator, StationWorkflow, WorkflowState


def holder(station_id: int | None, floor_session_id: int | None) -> str | None:
    """Who holds the state: the station, else the browser's floor session; None when neither."""
    if station_id is not None:
        return f"station:{station_id}"
    if floor_session_id is not None:
        return f"session:{floor_session_id}"
    return None


def load(session: Session, holder_key: str | None, workflow: str) -> dict:
    if holder_key is None:
        return {}
    state = session.scalar(select(WorkflowState.state).where(WorkflowState.holder == holder_key,
                                                             WorkflowState.workflow == workflow))
    return dict(state) if isinstance(state, dict) else {}


def save(session: Session, holder_key: str | None, workflow: str, state: dict) -> None:
    """Store `state` ({} forgets it)."""
    if holder_key is None:
        return
    if not state:
        session.execute(delete(WorkflowState).where(WorkflowState.holder == holder_key,
                                                    WorkflowState.workflow == workflow))
        return
    _upsert(session, WorkflowState, {"holder": holder_key, "workflow": workflow, "state": state,
                                     "updated_at": clock.now()}, ("holder", "workflow"))


def open_at(session: Session, station_id: int | None, workflow: str, *, floor_session_id: int | None = None,
            operator_id: int | None = None, token_id: int | None = None) -> None:
    """Make `workflow` the one open at the station (no-op without a station)."""
    if station_id is None:
        return
    _upsert(session, StationWorkflow, {"station_id": station_id, "workflow": workflow,
                                       "floor_session_id": floor_session_id, "operator_id": operator_id,
                                       "token_id": token_id, "updated_at": clock.now()}, ("station_id",))


def close_at(session: Session, station_id: int) -> None:
    """No workflow is open at the station any more (its page was left for one that takes no scans)."""
    session.execute(delete(StationWorkflow).where(StationWorkflow.station_id == station_id))


def is_open_at(session: Session, station_id: int) -> bool:
    return session.scalar(select(StationWorkflow.station_id).where(StationWorkflow.station_id == station_id)) is not None


@dataclass(frozen=True)
class Open:
    """The workflow open at a station, and who opened it."""

    workflow: str
    operator_id: int | None
    role: str | None  # the operator's role value (None for an API token's workflow)
    token_id: int | None


def open_workflow(session: Session, station_id: int, *, idle_seconds: float) -> Open | None:
    """The workflow open at the station, if whoever opened it is still there: a page's floor session
    not ended and used within `idle_seconds`, or an API token's choice. None otherwise."""
    row = session.execute(
        select(StationWorkflow.workflow, StationWorkflow.floor_session_id, StationWorkflow.operator_id,
               StationWorkflow.token_id, FloorSession.ended_at, FloorSession.last_seen_at, Operator.role,
               Operator.active)
        .outerjoin(FloorSession, FloorSession.id == StationWorkflow.floor_session_id)
        .outerjoin(Operator, Operator.id == StationWorkflow.operator_id)
        .where(StationWorkflow.station_id == station_id)).first()
    if row is None:
        return None
    if row.floor_session_id is not None:
        seen = row.last_seen_at
        if seen is not None and seen.tzinfo is None:
            seen = seen.replace(tzinfo=dt.timezone.utc)  # SQLite: naive UTC
        if row.ended_at is not None or seen is None or not row.active:
            return None
        if (clock.now() - seen).total_seconds() > idle_seconds:
            return None
    elif row.token_id is None:
        return None
    role = getattr(row.role, "value", row.role)
    return Open(row.workflow, row.operator_id, role, row.token_id)


def _upsert(session: Session, model, values: dict, keys: tuple[str, ...]) -> None:
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(model).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=list(keys),
                                      set_={k: v for k, v in values.items() if k not in keys})
    session.execute(stmt)
