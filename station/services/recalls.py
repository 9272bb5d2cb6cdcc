"""Recalls: stop every lot made from a bad lot, list every customer who got any, track the work.

    preview_recall(session, lot= | supplier= + supplier_lot=)   what a recall would stop (no writes)
    open_recall(session, reason=, lot= | supplier= + supplier_lot=, by=)   -> Recall
    retrieval_sources(session, lot) -> list[Source]              where a lot can be retrieved from
    record_retrieved(session, recall, lot, qty, by=, note=, location= | customer=)   stock gathered
                                                                 back into the quarantine place
    mark_notified(session, recall, customer, by=, note=)         a customer was told
    close_recall(session, recall, reason=, by=, accept_unnotified=False)
    recall_report(session, recall) -> Report                    lots, stock now, customers, shipments
    recall_list(session) -> list[Summary]                        every recall with its progress

Rules, decided here and explained to the user in the messages:

* The affected set is the source lot(s) and every lot made or split from them at any depth
  (services.genealogy). A recall from a supplier's lot starts from every lot of ours received with
  that supplier and supplier lot number.
* Opening is one transaction: the affected lots' rows are locked, each gets a recall_lots row (its
  depth, status and stock at the start), and each that still matters becomes RECALLED with a
  LotEvent (who, station, "Recall R-…: <reason>") — including lots on hold, in quarantine or
  expired. A lot that is consumed (no stock left anywhere) keeps its status: there is nothing left
  to stop, and it is still listed. Customers who were shipped any affected lot get a
  recall_customers row with the quantity shipped. Nothing else changes.
* Refused (nothing written): no reason; no source, or both; an unknown lot or supplier; a supplier
  lot number that matches no lot received here; and a source already in an OPEN recall (the same
  recall twice — the message names the recall). A lot further down that is also in another open
  recall does not block a new one: stopping stock must never wait for paperwork.
* Retrieved: goods of an affected lot gathered back into the quarantine place (services.returns):
  stock on site moves there (a MOVE row), goods from a customer come back there (a RETURN row from
  that customer, at most what they received); both carry "recall R-…" as their reference, and the
  recall's count goes up by the same quantity in the same transaction. A lot can give back at most
  what was on site when the recall began plus what had been shipped of it.
* Closing needs a reason. With customers not yet marked notified, it is refused unless the caller
  says so explicitly (accept_unnotified=True; the page's tick box, the API's field): the reason
  then records why. Closing releases nothing: a recalled lot stays stopped.
* Every action writes an append-only recall_events row (who, station, when, what, note).
* Opening tells the ERP in the same transaction: one ``lot.recalled`` event per lot in the recall's
  scope (services/events.py), a lot that was already recalled by another recall too, with the recall's
  number and reason, the lot's depth below the source and its status and stock before.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .. import clock
from ..models import (
    Customer,
    Location,
    LocationKind,
    Lot,
    LotEvent,
    LotScheme,
    LotStatus,
    Movement,
    MovementKind,
    Recall,
    RecallCustomer,
    RecallEvent,
    RecallLot,
    RecallStatus,
    SequenceReset,
    Stock,
    Supplier,
)
from .actor import NOBODY, Actor
from . import events, returns
from .event_bodies import lot_facts, lot_key, qty_text
from .errors import Conflict, DomainError, Invalid, NotFound
from .numbering import draw, render
# What a recall covers (recall_scope) and its report and list (recall_report) are importable from here,
# where the pages, the API and the tests find every recall function.
from .recall_report import (  # noqa: F401
    Place,
    Report,
    ReportCustomer,
    ReportEvent,
    ReportLot,
    Shipment,
    Summary,
    _operator_name,
    _when,
    recall_list,
    recall_report,
    utc,
)
from .recall_scope import (  # noqa: F401
    MAX_TEXT,
    AffectedCustomer,
    AffectedLot,
    Preview,
    _affected,
    _clean,
    _note,
    _reason,
    _refuse_duplicate,
    preview_recall,
)
from .stock import move, require_positive

# Recall numbers come from the lot-numbering counters (one atomic upsert per draw, so two processes
# never get the same number) under a scheme of their own, made the first time it is needed.
SCHEME_NAME = "recall"
SCHEME_PATTERN = "R-{yyyy}-{seq:04}"
MAX_NUMBER = 20  # recalls.number


# --- opening ---------------------------------------------------------------------------------


def _scheme(session: Session) -> LotScheme:
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[session.get_bind().dialect.name]
    session.execute(dialect.insert(LotScheme).values(name=SCHEME_NAME, pattern=SCHEME_PATTERN,
                                                     reset=SequenceReset.YEARLY.value)
                    .on_conflict_do_nothing(index_elements=[LotScheme.name]))
    return session.scalar(select(LotScheme).where(LotScheme.name == SCHEME_NAME))


def next_number(session: Session, on: dt.date | None = None) -> str:
    """R-2026-0001, R-2026-0002, …: drawn in the caller's transaction, never the same twice."""
    scheme = _scheme(session)
    on = on or clock.today()
    number = render(scheme.pattern, draw(session, scheme, on), on)
    if len(number) > MAX_NUMBER:
        raise Invalid(f"Recall number {number!r} is longer than {MAX_NUMBER} characters; shorten the "
                      f"'{SCHEME_NAME}' numbering pattern.", code="recall_number_too_long")
    return number


def _event(session: Session, recall: Recall, action: str, by: Actor, *, lot_id: int | None = None,
           customer_id: int | None = None, qty: int | None = None, note: str | None = None) -> RecallEvent:
    event = RecallEvent(recall_id=recall.id, action=action, lot_id=lot_id, customer_id=customer_id, qty=qty,
                        note=(note or None) and note[:MAX_TEXT], operator_id=by.operator_id,
                        station_id=by.station_id, token_id=by.token_id)
    session.add(event)
    return event


def open_recall(session: Session, *, reason: str, lot=None, supplier=None, supplier_lot=None,
                by: Actor = NOBODY, note: str | None = None) -> Recall:
    """Start a recall from one of our lots (a Lot or its number) or from a supplier's lot (a Supplier
    or its code, and their lot number). Everything happens in the caller's transaction."""
    reason = _reason(reason, "a recall")
    preview = _affected(session, lot, supplier, supplier_lot, lock=True)
    _refuse_duplicate(preview)
    source_lot = session.scalar(select(Lot).where(Lot.lot_number == preview.lot_number)) \
        if preview.lot_number else None
    source_supplier = session.scalar(select(Supplier).where(Supplier.code == preview.supplier_code)) \
        if preview.supplier_code else None
    recall = Recall(number=next_number(session), reason=reason, status=RecallStatus.OPEN,
                    lot_id=source_lot.id if source_lot else None,
                    supplier_id=source_supplier.id if source_supplier else None,
                    supplier_lot=preview.supplier_lot, opened_at=clock.now(), opened_by_id=by.operator_id)
    session.add(recall)
    session.flush()
    why = f"Recall {recall.number}: {reason}"
    if len(why) > MAX_TEXT:
        why = why[:MAX_TEXT - 1] + "…"
    for affected in preview.lots:
        session.add(RecallLot(recall_id=recall.id, lot_id=affected.lot_id, depth=affected.depth,
                              status_before=LotStatus(affected.status), on_hand_at_start=affected.on_hand,
                              retrieved_qty=0))
        row = session.get(Lot, affected.lot_id)
        if affected.stops:
            session.add(LotEvent(lot_id=row.id, action="recall", from_status=row.status,
                                 to_status=LotStatus.RECALLED, reason=why, operator_id=by.operator_id,
                                 station_id=by.station_id, token_id=by.token_id))
            row.status = LotStatus.RECALLED
        _tell_recalled(session, recall, preview, affected, row, by)
    for customer in preview.customers:
        session.add(RecallCustomer(recall_id=recall.id, customer_id=customer.customer_id,
                                   shipped_qty=customer.shipped_qty))
    _event(session, recall, "open", by, lot_id=recall.lot_id,
           note=" — ".join(part for part in (f"{preview.source}: {reason}", _note(note)) if part))
    session.flush()
    return recall


def _tell_recalled(session: Session, recall: Recall, preview, affected, lot: Lot, by: Actor) -> None:
    events.record(session, "lot.recalled", {
        "lot": lot_facts(lot),
        "recall": {"number": recall.number, "reason": recall.reason, "source": preview.source,
                   "source_lot": preview.lot_number, "supplier": preview.supplier_code,
                   "supplier_lot": preview.supplier_lot},
        "depth": affected.depth, "status_before": affected.status, "on_hand_at_start": qty_text(affected.on_hand),
        "already_recalled": not affected.stops,
    }, key=lot_key(lot), by=by)


# --- progress --------------------------------------------------------------------------------


def recall_by_number(session: Session, number: str, *, lock: bool = False) -> Recall:
    query = select(Recall).where(Recall.number == _clean(number))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    recall = session.scalar(query)
    if recall is None:
        raise NotFound(f"There is no recall '{_clean(number)[:20]}'.", code="unknown_recall")
    return recall


def _require_open(recall: Recall, doing: str) -> None:
    if recall.status is not RecallStatus.OPEN:
        raise Conflict(f"Recall {recall.number} is closed; nothing more can be {doing}.", code="recall_closed")


def _lot_of(session: Session, recall: Recall, lot) -> tuple[Lot, RecallLot]:
    row = lot if isinstance(lot, Lot) else session.scalar(select(Lot).where(Lot.lot_number == _clean(lot)))
    entry = session.get(RecallLot, (recall.id, row.id)) if row is not None else None
    if entry is None:
        shown = row.lot_number if row is not None else _clean(lot)[:40]
        raise Invalid(f"Lot {shown} is not part of recall {recall.number}.", code="lot_not_in_recall",
                      field="lot")
    return row, entry


def shipped_of_lot(session: Session, lot_id: int) -> int:
    return session.scalar(select(func.coalesce(func.sum(Movement.qty), 0))
                          .where(Movement.lot_id == lot_id, Movement.kind == MovementKind.SHIP)) or 0


@dataclass(frozen=True)
class Source:
    """Where goods of a recalled lot can be retrieved from: a place on site, or a customer who got some."""

    kind: str  # "site" or "customer"
    code: str  # the location's or the customer's code
    name: str
    qty: int  # on site there now / what the customer may still send back

    @property
    def value(self) -> str:
        return f"{self.kind}:{self.code}"


def retrieval_sources(session: Session, lot: Lot) -> list[Source]:
    """The places on site holding `lot` (not a quarantine place: that is where retrieved goods go), then
    the customers who received it, with what each may still send back."""
    places = [Source("site", code, code, qty) for code, qty in session.execute(
        select(Location.code, func.sum(Stock.qty)).join(Stock, Stock.location_id == Location.id)
        .where(Stock.lot_id == lot.id, Stock.qty > 0, Location.kind != LocationKind.QUARANTINE)
        .group_by(Location.code).order_by(Location.code))]
    return places + [Source("customer", r.code, r.name, r.may_return)
                     for r in returns.receivers(session, lot) if r.may_return > 0]


def record_retrieved(session: Session, recall: Recall, lot, qty: int, *, by: Actor = NOBODY,
                     note: str | None = None, location=None, customer=None) -> RecallEvent:
    """Retrieve `qty` of an affected lot into the quarantine place: from `location` on site (a MOVE row),
    or from `customer` (a RETURN row from them), each with the recall in its reference. With neither,
    the lot's only place on site; several places, or none, are refused with the choices in words."""
    _require_open(recall, "recorded")
    row, entry = _lot_of(session, recall, lot)
    qty = require_positive(qty, of=row)  # `lot` may be its number: the item's decimals are the row's
    note = _note(note)
    shipped = shipped_of_lot(session, row.id)
    most = entry.on_hand_at_start + shipped
    # One conditional update: two supervisors recording at once cannot pass the limit together. The column
    # is compared with the limit itself (not `retrieved_qty + qty <= most`): a sum of a Quantity column is a
    # plain integer to SQLAlchemy, so `most` would be bound unscaled, not in millionths.
    done = session.execute(
        update(RecallLot).where(RecallLot.recall_id == recall.id, RecallLot.lot_id == row.id,
                                RecallLot.retrieved_qty <= most - qty)
        .values(retrieved_qty=RecallLot.retrieved_qty + qty).execution_options(synchronize_session=False)
    ).rowcount
    if done == 0:
        session.refresh(entry, ["retrieved_qty"])
        left = max(0, most - entry.retrieved_qty)
        raise Conflict(f"Lot {row.lot_number}: at most {most} can come back ({entry.on_hand_at_start} on site "
                       f"when the recall began + {shipped} shipped); {entry.retrieved_qty} already recorded, "
                       f"so {left} more at most — not {qty}.", code="over_retrieved", most=most,
                       retrieved=entry.retrieved_qty)
    session.expire(entry, ["retrieved_qty"])
    reference = f"recall {recall.number}"
    if customer is not None:
        who = _customer(session, customer)
        try:
            returns.book_return(session, lot=row, qty=qty, customer=who, by=by, reference=reference,
                                reason=" — ".join(p for p in (f"Recall {recall.number}", note) if p)[:200])
        except DomainError as exc:
            if exc.code == "customer_not_shipped":
                raise Invalid(f"{who.name} received nothing of lot {row.lot_number}; retrieve it from a customer "
                              f"who did, or from its place on site.", code="customer_not_shipped",
                              field="customer") from None
            raise
        return _event(session, recall, "retrieve", by, lot_id=row.id, customer_id=who.id, qty=qty, note=note)
    source = _site_source(session, row, location)
    place = returns.quarantine_place(session)
    if source.id == place.id:
        raise Invalid(f"Lot {row.lot_number} at {source.code} is in quarantine already; retrieve it from "
                      f"another place or a customer.", code="already_in_quarantine", field="location")
    with session.no_autoflush:  # the ledger row is append-only: its reference must be set before its insert
        moved = move(session, row, qty, source, place, by=by)
        moved.reference = reference
    where = f"{source.code} → {place.code}"
    return _event(session, recall, "retrieve", by, lot_id=row.id, qty=qty,
                  note=" — ".join(p for p in (where, note) if p))


def _customer(session: Session, customer) -> Customer:
    if isinstance(customer, Customer):
        return customer
    found = session.scalar(select(Customer).where(Customer.code == _clean(customer)))
    if found is None:
        raise Invalid(f"There is no customer '{_clean(customer)[:20]}'.", code="unknown_customer", field="customer")
    return found


def _site_source(session: Session, lot: Lot, location) -> Location:
    """The place on site the goods are taken from: the one given, else the lot's only one."""
    if isinstance(location, Location):
        return location
    if location is not None:
        found = session.scalar(select(Location).where(Location.code == _clean(location)))
        if found is None:
            raise Invalid(f"There is no location '{_clean(location)[:30]}'.", code="unknown_location",
                          field="location")
        return found
    choices = retrieval_sources(session, lot)
    places = [c for c in choices if c.kind == "site"]
    if len(places) == 1:
        return session.scalar(select(Location).where(Location.code == places[0].code))
    said = ", ".join(f"{c.name} ({c.qty})" for c in choices) or "nowhere"
    raise Invalid(f"Say where the goods of lot {lot.lot_number} come from: {said}.", code="choose_source",
                  choices=[c.value for c in choices])


def mark_notified(session: Session, recall: Recall, customer, *, by: Actor = NOBODY,
                  note: str | None = None) -> RecallEvent:
    """Record that a listed customer has been told about the recall (how: the note)."""
    _require_open(recall, "recorded")
    row = customer if isinstance(customer, Customer) else \
        session.scalar(select(Customer).where(Customer.code == _clean(customer)))
    entry = session.get(RecallCustomer, (recall.id, row.id)) if row is not None else None
    if entry is None:
        shown = row.name if row is not None else _clean(customer)[:20]
        raise Invalid(f"{shown} received nothing of recall {recall.number}; there is no one to tell.",
                      code="customer_not_in_recall", field="customer")
    note = _note(note)
    now = clock.now()
    done = session.execute(
        update(RecallCustomer).where(RecallCustomer.recall_id == recall.id, RecallCustomer.customer_id == row.id,
                                     RecallCustomer.notified_at.is_(None))
        .values(notified_at=now, notified_by_id=by.operator_id, note=note)
        .execution_options(synchronize_session=False)).rowcount
    if done == 0:
        session.refresh(entry)
        who = _operator_name(session, entry.notified_by_id)
        raise Conflict(f"{row.name} was already marked notified on {_when(entry.notified_at)}"
                       f"{' by ' + who if who else ''}.", code="already_notified")
    session.expire(entry)
    return _event(session, recall, "notify", by, customer_id=row.id, note=note)


def close_recall(session: Session, recall: Recall, *, reason: str, by: Actor = NOBODY,
                 accept_unnotified: bool = False, note: str | None = None) -> RecallEvent:
    """Close a recall. Its lots stay recalled; closing only ends the follow-up."""
    reason = _reason(reason, "closing a recall")
    session.flush()
    session.refresh(recall, with_for_update=True)
    _require_open(recall, "closed")
    waiting = session.scalars(
        select(Customer.name).join(RecallCustomer, RecallCustomer.customer_id == Customer.id)
        .where(RecallCustomer.recall_id == recall.id, RecallCustomer.notified_at.is_(None))
        .order_by(Customer.name)).all()
    if waiting and not accept_unnotified:
        names = ", ".join(waiting[:5]) + (f" and {len(waiting) - 5} more" if len(waiting) > 5 else "")
        raise Conflict(f"{len(waiting)} customer{'s have' if len(waiting) != 1 else ' has'} not been marked "
                       f"notified: {names}. Mark them notified first — or, if they cannot be told, close "
                       f"anyway with a reason that says why.", code="customers_not_notified",
                       customers=list(waiting))
    recall.status = RecallStatus.CLOSED
    recall.closed_at = clock.now()
    recall.closed_by_id = by.operator_id
    recall.close_reason = reason
    words = reason if not waiting else f"{reason} (closed with {len(waiting)} customer(s) not notified)"
    return _event(session, recall, "close", by, note=" ".join(part for part in (words, _note(note)) if part))
