"""Supervisor reports: who picked another lot than the FIFO/FEFO suggestion, how often and why, and
which scans were refused — for a range of the site's calendar dates.

An override pick is a ledger row of kind "pick" with followed_suggestion false; its `reason` is the
reason the picker chose. The ledger does not record which lot was suggested instead (the pick
service knows it only while refusing), so the report cannot show it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .. import clock
from ..db import Database
from ..spreadsheet import qty_cell
from ..models import Movement, MovementKind, Operator
from . import audit, scans
from .errors import Invalid

DEFAULT_DAYS = 30
ROWS_SHOWN = 200


@dataclass(frozen=True)
class OperatorLine:
    operator_id: int | None
    name: str  # "(nobody signed in)" for picks made without an operator (API, scripts)
    badge: str | None
    picks: int
    overrides: int

    @property
    def rate(self) -> float:
        return self.overrides / self.picks if self.picks else 0.0

    @property
    def rate_words(self) -> str:
        return f"{self.rate * 100:.0f}%"


@dataclass(frozen=True)
class Refusals:
    name: str
    badge: str | None
    error: str  # the refusal's kind (scans.error), e.g. "unknown_gtin"
    count: int


@dataclass
class OverrideReport:
    date_from: dt.date
    date_to: dt.date
    operators: list[OperatorLine]
    reasons: list[tuple[str, int]]  # (reason, overrides), most first
    rows: list  # the latest override rows (audit.ledger_query columns)
    total_picks: int
    total_overrides: int
    refused: list[Refusals]
    refused_total: int

    @property
    def rate_words(self) -> str:
        return f"{(self.total_overrides / self.total_picks * 100) if self.total_picks else 0:.0f}%"


NOBODY_NAME = "(nobody signed in)"
NO_REASON = "(no reason given)"


def date_range(date_from: dt.date | None, date_to: dt.date | None,
               today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The asked range; by default the last DEFAULT_DAYS days up to today (site dates)."""
    today = today or clock.today()
    date_to = date_to or today
    date_from = date_from or date_to - dt.timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        raise Invalid(f"The 'from' date {date_from} is after the 'to' date {date_to} — swap them.",
                      code="invalid_range", field="from")
    return date_from, date_to


def _in_range(column, start: dt.datetime, end: dt.datetime):
    return (column >= start) & (column < end)


def override_report(session: Session, date_from: dt.date, date_to: dt.date,
                    rows_shown: int = ROWS_SHOWN) -> OverrideReport:
    start, end = audit.day_bounds(date_from, date_to)
    is_override = Movement.followed_suggestion.is_(False)
    # One pass over the range's picks: per operator, overridden or not, and the reason of overrides.
    overridden = case((is_override, 1), else_=0)
    why = case((is_override, Movement.reason), else_=None)
    groups = session.execute(
        select(Movement.operator_id, Operator.name, Operator.badge, overridden, why, func.count())
        .outerjoin(Operator, Operator.id == Movement.operator_id)
        .where(Movement.kind == MovementKind.PICK, _in_range(Movement.ts, start, end))
        .group_by(Movement.operator_id, Operator.name, Operator.badge, overridden, why)).all()
    per_operator: dict = {}
    per_reason: dict[str, int] = {}
    for op_id, name, badge, is_over, reason, n in groups:
        picks_, overs = per_operator.get(op_id, (name, badge, 0, 0))[2:]
        per_operator[op_id] = (name, badge, picks_ + n, overs + (n if is_over else 0))
        if is_over:
            per_reason[reason or NO_REASON] = per_reason.get(reason or NO_REASON, 0) + n
    operators = [OperatorLine(op_id, name or NOBODY_NAME, badge, picks_, overs)
                 for op_id, (name, badge, picks_, overs) in per_operator.items()]
    operators.sort(key=lambda o: (-o.overrides, -o.rate, o.name))
    reasons = sorted(per_reason.items(), key=lambda r: (-r[1], r[0]))
    # The rows' ids first, from the movements table alone; then the joins for those rows only.
    ids = list(session.scalars(
        select(Movement.id).where(Movement.kind == MovementKind.PICK, is_override, _in_range(Movement.ts, start, end))
        .order_by(Movement.id.desc()).limit(rows_shown)))
    rows = session.execute(audit.ledger_query(audit.Resolved()).where(Movement.id.in_(ids))).all() if ids else []
    # Refused by the resolver or by the workflow step (a held lot scanned on picking): services.scans.
    counts = scans.refused(session, start, end)
    who = {op.id: op for op in session.scalars(select(Operator).where(Operator.id.in_({c[0] for c in counts})))}
    refused = [Refusals(who[op].name if op in who else NOBODY_NAME, who[op].badge if op in who else None,
                        error, int(n)) for op, error, n in counts]
    refused.sort(key=lambda r: (-r.count, r.name, r.error))
    return OverrideReport(
        date_from, date_to, operators, reasons, rows,
        total_picks=sum(o.picks for o in operators), total_overrides=sum(o.overrides for o in operators),
        refused=refused, refused_total=sum(r.count for r in refused))


def override_rows_query(start: dt.datetime, end: dt.datetime):
    """Override picks in [start, end), newest first (the audit ledger's columns)."""
    return (audit.ledger_query(audit.Resolved(start=start, end=end), overrides_only=True)
            .where(Movement.kind == MovementKind.PICK))


OVERRIDE_CSV_HEADER = ["id", "time (site)", "operator", "badge", "station", "order", "lot", "sku", "item", "qty",
                       "unit", "picked from", "reason"]


def _override_csv_row(row, zone) -> list:
    return [row.id, audit._local_iso(row.ts, zone), row.operator_name or NOBODY_NAME, row.operator_badge or "",
            row.station_name or "", row.order_number or "", row.lot_number, row.sku, row.item_name,
            qty_cell(row.qty, row.decimals), row.unit, row.from_code or "", row.reason or ""]


def overrides_csv(db: Database, date_from: dt.date, date_to: dt.date):
    start, end = audit.day_bounds(date_from, date_to)
    return audit.stream_csv(db, override_rows_query(start, end), _override_csv_row, OVERRIDE_CSV_HEADER)

