"""Expiry: lots past their expiry date become EXPIRED (with an event each), and what expires soon.

Expiry is judged by the site's calendar date (clock.today(), STATION_TIMEZONE): a lot whose expiry
date is 14 June may still be used on 14 June and is expired from 15 June, the same rule as
stock.ensure_pickable, which refuses such a lot at once even before this job has run.

Only AVAILABLE lots are turned into EXPIRED. A lot on hold, in quarantine or recalled keeps its
status: it is already stopped, and its status says why a person stopped it (a QA decision, a
recall) — overwriting that with "expired" would lose the reason and make a later release or the
recall's close-out refer to a status the lot no longer has. Releasing such a lot makes it
available again, and the next run of expire_due turns it into EXPIRED (ensure_pickable refuses
it in between). Consumed lots (no stock) have nothing left to expire.

Each lot marked also tells the ERP: a ``lot.expired`` event (services/events.py) in the same
transaction, written for a whole batch at once like its lot events.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, selectinload

from .. import clock
from ..models import Item, Location, Lot, LotEvent, LotStatus, Stock
from . import events
from .actor import NOBODY, Actor
from .event_bodies import lot_facts, lot_key

WEEKS = 12  # the chart: stock by expiry week for this many weeks, plus "expired"
LIST_LIMIT = 500  # rows shown in a dashboard table; the totals count them all


@dataclass(frozen=True)
class Expired:
    lot_id: int
    lot_number: str
    expiry: dt.date


def expire_due(session: Session, on: dt.date | None = None, by: Actor = NOBODY,
               limit: int | None = None) -> list[Expired]:
    """Turn every available lot whose expiry date is before `on` (default: the site's today) into
    EXPIRED, with one LotEvent each ("expire", "Expired on <expiry date>"; no operator: the system).

    One conditional UPDATE ... WHERE status = 'available' decides which lots change, so running it
    again, or in several processes at once, changes nothing more and fails nowhere: on PostgreSQL a
    second runner waits on the row locks, re-checks the WHERE and finds the lots no longer
    available; SQLite serialises writers. Events are written only for the rows this run changed.

    With `limit`, at most that many lots (the lowest ids) change: the job expires a backlog in short
    transactions of bounded size (after a long stop there may be tens of thousands).
    """
    today = on or clock.today()
    lots = Lot.__table__
    due = (lots.c.status == LotStatus.AVAILABLE.value, lots.c.expiry.is_not(None), lots.c.expiry < today)
    if limit is not None:
        batch = select(lots.c.id).where(*due).order_by(lots.c.id).limit(limit).scalar_subquery()
        due = (*due, lots.c.id.in_(batch))
    changed = session.execute(
        update(lots).where(*due).values(status=LotStatus.EXPIRED.value)
        .returning(lots.c.id, lots.c.lot_number, lots.c.expiry)
    ).all()
    if not changed:
        return []
    now = clock.now()
    session.execute(insert(LotEvent), [
        {"ts": now, "lot_id": row.id, "action": "expire", "from_status": LotStatus.AVAILABLE,
         "to_status": LotStatus.EXPIRED, "reason": f"Expired on {row.expiry.isoformat()}",
         "operator_id": by.operator_id, "station_id": by.station_id}
        for row in changed
    ])
    ids = {row.id for row in changed}
    for obj in list(session.identity_map.values()):  # loaded lots must not keep showing "available"
        if isinstance(obj, Lot) and obj.id in ids:
            session.expire(obj, ["status"])
    _tell_expired(session, sorted(ids), now, by)
    return sorted((Expired(r.id, r.lot_number, r.expiry) for r in changed), key=lambda e: e.lot_number)


TELL_CHUNK = 500  # lots loaded per query for their events (bound parameters per IN list stay few)


def _tell_expired(session: Session, ids: list[int], now: dt.datetime, by: Actor) -> None:
    """A ``lot.expired`` event per lot: the lots, items, GTINs and suppliers in four queries per chunk,
    the events in one INSERT per chunk, like the lot events above."""
    for start in range(0, len(ids), TELL_CHUNK):
        lots = session.scalars(select(Lot).where(Lot.id.in_(ids[start:start + TELL_CHUNK])).order_by(Lot.id)
                               .options(selectinload(Lot.item).selectinload(Item.gtins),
                                        selectinload(Lot.supplier))).all()
        events.record_many(session, "lot.expired", [
            (lot_key(lot), {"lot": lot_facts(lot), "from_status": LotStatus.AVAILABLE.value,
                            "reason": f"Expired on {lot.expiry.isoformat()}"})
            for lot in lots], by=by, at=now)


# --- the dashboard -------------------------------------------------------------------------------


@dataclass
class LotRow:
    lot_id: int
    lot_number: str
    sku: str
    name: str
    unit: str
    expiry: dt.date
    days_left: int  # negative: expired that many days ago
    status: str
    on_hand: int
    places: list[tuple[str, int]] = field(default_factory=list)  # (location code, qty)
    decimals: int = 0  # the item's, for the pages to write its quantities in


@dataclass
class Bucket:
    label: str  # "Expired", "This week", "22 Jun", ...
    start: dt.date | None  # None for the expired bucket
    lots: int = 0
    qty: dict[str, int] = field(default_factory=dict)  # unit -> quantity (units never add up)

    @property
    def qty_words(self) -> str:
        return " · ".join(f"{q:,} {u}" for u, q in sorted(self.qty.items())) or "—"


@dataclass
class Dashboard:
    today: dt.date
    days: int
    expiring: list[LotRow]
    expiring_total: int
    expired: list[LotRow]
    expired_total: int
    buckets: list[Bucket]


def _in_stock():
    return and_(Lot.on_hand > 0, Lot.status != LotStatus.CONSUMED)


def _is_expired(today: dt.date):
    """Past its date or already marked: the job may not have run yet today."""
    return or_(Lot.status == LotStatus.EXPIRED, and_(Lot.expiry.is_not(None), Lot.expiry < today))


def _lot_rows(session: Session, where, today: dt.date, limit: int) -> tuple[list[LotRow], int]:
    total = session.scalar(select(func.count()).select_from(Lot).where(where))
    rows = session.execute(
        select(Lot.id, Lot.lot_number, Item.sku, Item.name, Item.unit, Lot.expiry, Lot.status, Lot.on_hand,
               Item.qty_decimals)
        .join(Item, Item.id == Lot.item_id).where(where)
        .order_by(Lot.expiry, Lot.lot_number).limit(limit)).all()
    out = [LotRow(r.id, r.lot_number, r.sku, r.name, r.unit, r.expiry,
                  (r.expiry - today).days if r.expiry else 0, LotStatus(r.status).value, r.on_hand,
                  decimals=r.qty_decimals)
           for r in rows]
    by_id = {row.lot_id: row for row in out}
    if by_id:
        for lot_id, code, qty in session.execute(
                select(Stock.lot_id, Location.code, func.sum(Stock.qty))
                .join(Location, Location.id == Stock.location_id)
                .where(Stock.lot_id.in_(list(by_id)), Stock.qty > 0)
                .group_by(Stock.lot_id, Location.code).order_by(Stock.lot_id, Location.code)):
            by_id[lot_id].places.append((code, qty))
    return out, int(total or 0)


def expiring(session: Session, days: int, on: dt.date | None = None,
             limit: int = LIST_LIMIT) -> tuple[list[LotRow], int]:
    """Lots in stock, not expired, whose expiry date is today or within `days` days; soonest first."""
    today = on or clock.today()
    where = and_(_in_stock(), Lot.status != LotStatus.EXPIRED, Lot.expiry >= today,
                 Lot.expiry <= today + dt.timedelta(days=days))
    return _lot_rows(session, where, today, limit)


def expired_in_stock(session: Session, on: dt.date | None = None,
                     limit: int = LIST_LIMIT) -> tuple[list[LotRow], int]:
    """Lots past their expiry date (or marked expired) that still have stock on site."""
    today = on or clock.today()
    return _lot_rows(session, and_(_in_stock(), _is_expired(today)), today, limit)


def week_buckets(session: Session, on: dt.date | None = None, weeks: int = WEEKS) -> list[Bucket]:
    """Stock on site by expiry week: "Expired", then `weeks` weeks of 7 days from today. Lots
    without an expiry date are not in the chart."""
    today = on or clock.today()
    expired = Bucket("Expired", None)
    buckets = [expired] + [Bucket("This week" if n == 0 else _day_month(today + dt.timedelta(days=7 * n)),
                                  today + dt.timedelta(days=7 * n)) for n in range(weeks)]
    for unit, lots, qty in session.execute(
            select(Item.unit, func.count(), func.sum(Lot.on_hand)).join(Item, Item.id == Lot.item_id)
            .where(_in_stock(), _is_expired(today)).group_by(Item.unit)):
        expired.lots += lots
        expired.qty[unit] = expired.qty.get(unit, 0) + qty
    end = today + dt.timedelta(days=7 * weeks)
    for expiry, unit, lots, qty in session.execute(
            select(Lot.expiry, Item.unit, func.count(), func.sum(Lot.on_hand)).join(Item, Item.id == Lot.item_id)
            .where(_in_stock(), Lot.status != LotStatus.EXPIRED, Lot.expiry >= today, Lot.expiry < end)
            .group_by(Lot.expiry, Item.unit)):
        bucket = buckets[1 + (expiry - today).days // 7]
        bucket.lots += lots
        bucket.qty[unit] = bucket.qty.get(unit, 0) + qty
    return buckets


def _day_month(day: dt.date) -> str:
    return f"{day.day} {day:%b}"


def dashboard(session: Session, days: int, on: dt.date | None = None, limit: int = LIST_LIMIT) -> Dashboard:
    today = on or clock.today()
    soon, soon_total = expiring(session, days, today, limit)
    gone, gone_total = expired_in_stock(session, today, limit)
    return Dashboard(today, days, soon, soon_total, gone, gone_total, week_buckets(session, today))


def counts(session: Session, on: dt.date | None = None, within: int = 7) -> dict[str, int]:
    """At a glance: expired lots still in stock, lots expiring within `within` days."""
    today = on or clock.today()
    expired = session.scalar(select(func.count()).select_from(Lot).where(_in_stock(), _is_expired(today)))
    soon = session.scalar(select(func.count()).select_from(Lot).where(
        _in_stock(), Lot.status != LotStatus.EXPIRED, Lot.expiry >= today,
        Lot.expiry <= today + dt.timedelta(days=within)))
    return {"expired_in_stock": int(expired or 0), "expiring_soon": int(soon or 0)}


def places_words(places: list[tuple[str, int]]) -> str:
    return ", ".join(f"{code} {qty:,}" for code, qty in places) or "—"

