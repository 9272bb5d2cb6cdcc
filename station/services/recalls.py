"""Recalls: stop every lot made from a bad lot, list every customer who got any, track the work.

    preview_recall(session, lot= | supplier= + supplier_lot=)   what a recall would stop (no writes)
    open_recall(session, reason=, lot= | supplier= + supplier_lot=, by=)   -> Recall
    record_retrieved(session, recall, lot, qty, by=, note=)      stock gathered back
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
* Retrieved: how much of an affected lot was gathered back (stock on site put aside, or goods the
  customer returned). It is a count the supervisor records; it moves no stock (moves are the floor's
  job and stay on the ledger). A lot can give back at most what was on site when the recall began
  plus what had been shipped of it.
* Closing needs a reason. With customers not yet marked notified, it is refused unless the caller
  says so explicitly (accept_unnotified=True; the page's tick box, the API's field): the reason
  then records why. Closing releases nothing: a recalled lot stays stopped.
* Every action writes an append-only recall_events row (who, station, when, what, note).
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .. import clock
from ..models import (ApiToken, Customer, Item, Location, Lot, LotEvent, LotLink, LotScheme, LotStatus, Movement,
                      MovementKind, Operator, Recall, RecallCustomer, RecallEvent, RecallLot, RecallStatus,
                      SequenceReset, StationDevice, Stock, Supplier)
from .actor import NOBODY, Actor, who_column
from .errors import Conflict, Invalid, NotFound
from .genealogy import descendants
from .numbering import draw, render
from .stock import require_positive

# Recall numbers come from the lot-numbering counters (one atomic upsert per draw, so two processes
# never get the same number) under a scheme of their own, made the first time it is needed.
SCHEME_NAME = "recall"
SCHEME_PATTERN = "R-{yyyy}-{seq:04}"
MAX_NUMBER = 20  # recalls.number
MAX_TEXT = 200   # reasons and notes


# --- what a recall covers --------------------------------------------------------------------


@dataclass(frozen=True)
class AffectedLot:
    lot_id: int
    lot_number: str
    sku: str
    item_name: str
    unit: str
    depth: int
    status: str
    on_hand: int
    stops: bool                      # its status becomes RECALLED (False: it already is)
    other_recalls: tuple[str, ...]   # open recalls that already cover it


@dataclass(frozen=True)
class AffectedCustomer:
    customer_id: int
    code: str
    name: str
    shipped_qty: int


@dataclass(frozen=True)
class Preview:
    source: str                      # "lot 260615-001" / "supplier ACME's lot S-77"
    lot_number: str | None
    supplier_code: str | None
    supplier_lot: str | None
    start_ids: tuple[int, ...]
    lots: list[AffectedLot]
    customers: list[AffectedCustomer]

    @property
    def stopped(self) -> int:
        return sum(1 for lot in self.lots if lot.stops)

    @property
    def on_hand(self) -> int:
        return sum(lot.on_hand for lot in self.lots)

    @property
    def shipped(self) -> int:
        return sum(c.shipped_qty for c in self.customers)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _reason(reason: str | None, what: str) -> str:
    text = _clean(reason)
    if not text:
        raise Invalid(f"Write why — {what} needs a reason (a complaint, a supplier notice, a lab result).",
                      code="reason_required", field="reason")
    if len(text) > MAX_TEXT:
        raise Invalid(f"The reason is {len(text)} characters long; keep it to {MAX_TEXT}.",
                      code="reason_too_long", field="reason")
    return text


def _note(note: str | None) -> str | None:
    text = _clean(note)
    if len(text) > MAX_TEXT:
        raise Invalid(f"The note is {len(text)} characters long; keep it to {MAX_TEXT}.",
                      code="note_too_long", field="note")
    return text or None


def _source(session: Session, lot, supplier, supplier_lot) -> tuple[str, Lot | None, Supplier | None, str | None,
                                                                    list[int]]:
    """The lots a recall starts from: (words, lot, supplier, supplier lot, their ids)."""
    if isinstance(lot, str):
        lot = _clean(lot) or None
    if isinstance(supplier, str):
        supplier = _clean(supplier) or None
    supplier_lot = _clean(supplier_lot) or None
    if lot is not None and (supplier is not None or supplier_lot is not None):
        raise Invalid("Start the recall from one of our lots or from a supplier's lot number, not both.",
                      code="recall_source")
    if lot is None and supplier is None and supplier_lot is None:
        raise Invalid("Say what is recalled: scan or type one of our lot numbers, or choose the supplier "
                      "and type their lot number.", code="recall_source", field="lot")
    if lot is not None:
        if not isinstance(lot, Lot):
            found = session.scalar(select(Lot).where(Lot.lot_number == lot))
            if found is None:
                raise Invalid(f"There is no lot '{lot[:40]}' here — check the number on the label.",
                              code="unknown_lot", field="lot")
            lot = found
        return f"lot {lot.lot_number}", lot, None, None, [lot.id]
    if supplier is None or supplier_lot is None:
        raise Invalid("A supplier's lot needs both: the supplier and the lot number they printed.",
                      code="recall_source", field="supplier" if supplier is None else "supplier_lot")
    if not isinstance(supplier, Supplier):
        found = session.scalar(select(Supplier).where(Supplier.code == supplier))
        if found is None:
            raise Invalid(f"There is no supplier '{supplier[:20]}'.", code="unknown_supplier", field="supplier")
        supplier = found
    ids = list(session.scalars(select(Lot.id).where(Lot.supplier_id == supplier.id,
                                                    Lot.supplier_lot == supplier_lot).order_by(Lot.id)))
    if not ids:
        raise Invalid(f"Nothing was received here from {supplier.name} ({supplier.code}) with their lot number "
                      f"'{supplier_lot[:40]}' — check the number on their notice.",
                      code="no_supplier_lot", field="supplier_lot")
    return f"{supplier.name}'s lot {supplier_lot}", None, supplier, supplier_lot, ids


def _depths(session: Session, start_ids: list[int], ids: set[int]) -> dict[int, int]:
    """Each affected lot's distance (in links) from the nearest source lot."""
    children: dict[int, list[int]] = defaultdict(list)
    for component, output in session.execute(
            select(LotLink.component_lot_id, LotLink.output_lot_id).where(LotLink.component_lot_id.in_(ids))):
        children[component].append(output)
    depth = {lot_id: 0 for lot_id in start_ids}
    queue = deque(start_ids)
    while queue:
        here = queue.popleft()
        for child in children.get(here, ()):
            if child not in depth:
                depth[child] = depth[here] + 1
                queue.append(child)
    return depth


def _open_recalls_of(session: Session, ids) -> dict[int, list[str]]:
    covered: dict[int, list[str]] = defaultdict(list)
    for lot_id, number in session.execute(
            select(RecallLot.lot_id, Recall.number).join(Recall, Recall.id == RecallLot.recall_id)
            .where(RecallLot.lot_id.in_(list(ids)), Recall.status == RecallStatus.OPEN).order_by(Recall.id)):
        covered[lot_id].append(number)
    return covered


def _stops(status: LotStatus, on_hand: int) -> bool:
    # Every affected lot is stopped, a used-up one too: stock booked back into it later (a customer
    # return, a count correction) must not make it pickable while the recall stands. Only a lot
    # already RECALLED (by another recall) keeps its status.
    return status is not LotStatus.RECALLED


def _shipped_by_customer(session: Session, ids) -> list[AffectedCustomer]:
    rows = session.execute(
        select(Customer.id, Customer.code, Customer.name, func.sum(Movement.qty))
        .join(Customer, Customer.id == Movement.customer_id)
        .where(Movement.kind == MovementKind.SHIP, Movement.lot_id.in_(list(ids)))
        .group_by(Customer.id, Customer.code, Customer.name).order_by(Customer.name, Customer.code))
    return [AffectedCustomer(cid, code, name, int(qty)) for cid, code, name, qty in rows]


def _affected(session: Session, lot, supplier, supplier_lot, *, lock: bool) -> Preview:
    words, lot, supplier, supplier_lot, start_ids = _source(session, lot, supplier, supplier_lot)
    ids = descendants(session, start_ids)
    depth = _depths(session, start_ids, ids)
    query = (select(Lot, Item.sku, Item.name, Item.unit).join(Item, Item.id == Lot.item_id)
             .where(Lot.id.in_(sorted(ids))).order_by(Lot.id))
    if lock:
        # Lock the lots in id order (no deadlock between two recalls) and read their status afresh.
        query = query.with_for_update(of=Lot).execution_options(populate_existing=True)
    rows = session.execute(query).all()
    covered = _open_recalls_of(session, ids)
    lots = [AffectedLot(row.id, row.lot_number, sku, name, unit, depth.get(row.id, 0), row.status.value,
                        row.on_hand, _stops(row.status, row.on_hand), tuple(covered.get(row.id, ())))
            for row, sku, name, unit in rows]
    lots.sort(key=lambda a: (a.depth, a.lot_number))
    return Preview(words, lot.lot_number if lot else None, supplier.code if supplier else None, supplier_lot,
                   tuple(start_ids), lots, _shipped_by_customer(session, ids))


def _refuse_duplicate(preview: Preview) -> None:
    """The same source twice while the first recall is open: say which recall already has it."""
    starts = [lot for lot in preview.lots if lot.lot_id in preview.start_ids]
    if starts and all(lot.other_recalls for lot in starts):
        first = starts[0]
        number = first.other_recalls[0]
        what = f"Lot {first.lot_number} is" if len(starts) == 1 else \
            f"Every lot of {preview.source} ({len(starts)}) is"
        raise Conflict(f"{what} already in open recall {number} — it is stopped there. Open {number} to "
                       f"follow it up, or close it before starting another.",
                       code="already_recalled", recall=number)


def preview_recall(session: Session, *, lot=None, supplier=None, supplier_lot=None) -> Preview:
    """What a recall from this source would stop and whom it would list; writes nothing.
    Refuses exactly as open_recall would (except for the reason, asked for at the confirm step)."""
    preview = _affected(session, lot, supplier, supplier_lot, lock=False)
    _refuse_duplicate(preview)
    return preview


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
        if affected.stops:
            row = session.get(Lot, affected.lot_id)
            session.add(LotEvent(lot_id=row.id, action="recall", from_status=row.status,
                                 to_status=LotStatus.RECALLED, reason=why, operator_id=by.operator_id,
                                 station_id=by.station_id, token_id=by.token_id))
            row.status = LotStatus.RECALLED
    for customer in preview.customers:
        session.add(RecallCustomer(recall_id=recall.id, customer_id=customer.customer_id,
                                   shipped_qty=customer.shipped_qty))
    _event(session, recall, "open", by, lot_id=recall.lot_id,
           note=" — ".join(part for part in (f"{preview.source}: {reason}", _note(note)) if part))
    session.flush()
    return recall


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
    return int(session.scalar(select(func.coalesce(func.sum(Movement.qty), 0))
                              .where(Movement.lot_id == lot_id, Movement.kind == MovementKind.SHIP)) or 0)


def record_retrieved(session: Session, recall: Recall, lot, qty: int, *, by: Actor = NOBODY,
                     note: str | None = None) -> RecallEvent:
    """Record that `qty` of an affected lot was gathered back (put aside on site, or returned)."""
    _require_open(recall, "recorded")
    row, entry = _lot_of(session, recall, lot)
    require_positive(qty)
    note = _note(note)
    shipped = shipped_of_lot(session, row.id)
    most = entry.on_hand_at_start + shipped
    # One conditional update: two supervisors recording at once cannot pass the limit together.
    done = session.execute(
        update(RecallLot).where(RecallLot.recall_id == recall.id, RecallLot.lot_id == row.id,
                                RecallLot.retrieved_qty + qty <= most)
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
    return _event(session, recall, "retrieve", by, lot_id=row.id, qty=qty, note=note)


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


# --- the report ------------------------------------------------------------------------------


def _operator_name(session: Session, operator_id: int | None) -> str | None:
    return session.scalar(select(Operator.name).where(Operator.id == operator_id)) if operator_id else None


def _when(ts: dt.datetime | None) -> str:
    if ts is None:
        return ""
    ts = ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(clock.site_zone()).strftime("%Y-%m-%d %H:%M")


def utc(ts: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives back naive datetimes; every timestamp is stored in UTC.
    return None if ts is None else ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Place:
    location: str
    qty: int


@dataclass(frozen=True)
class ReportLot:
    lot_number: str
    sku: str
    item_name: str
    unit: str
    depth: int
    status_before: str
    status_now: str
    on_hand_at_start: int
    shipped_qty: int
    retrieved_qty: int
    stock_now: list[Place]
    other_recalls: tuple[str, ...]

    @property
    def on_hand_now(self) -> int:
        return sum(p.qty for p in self.stock_now)

    @property
    def to_retrieve(self) -> int:
        """Everything of it that can come back: on site at the start plus shipped."""
        return self.on_hand_at_start + self.shipped_qty

    @property
    def left(self) -> int:
        return max(0, self.to_retrieve - self.retrieved_qty)


@dataclass(frozen=True)
class Shipment:
    order: str | None
    ts: dt.datetime
    lot_number: str
    qty: int


@dataclass(frozen=True)
class ReportCustomer:
    code: str
    name: str
    shipped_qty: int
    notified_at: dt.datetime | None
    notified_by: str | None
    note: str | None
    shipments: list[Shipment]


@dataclass(frozen=True)
class ReportEvent:
    ts: dt.datetime
    action: str
    operator: str | None
    station: str | None
    lot_number: str | None
    customer: str | None
    qty: int | None
    note: str | None


@dataclass(frozen=True)
class Report:
    number: str
    status: str
    reason: str
    source: str
    lot_number: str | None
    supplier_code: str | None
    supplier_name: str | None
    supplier_lot: str | None
    opened_at: dt.datetime
    opened_by: str | None
    closed_at: dt.datetime | None
    closed_by: str | None
    close_reason: str | None
    lots: list[ReportLot]
    customers: list[ReportCustomer]
    events: list[ReportEvent] = field(default_factory=list)

    @property
    def lots_stopped(self) -> int:
        return sum(1 for lot in self.lots if lot.status_now == LotStatus.RECALLED.value)

    @property
    def stock_at_start(self) -> int:
        return sum(lot.on_hand_at_start for lot in self.lots)

    @property
    def stock_now(self) -> int:
        return sum(lot.on_hand_now for lot in self.lots)

    @property
    def shipped(self) -> int:
        return sum(c.shipped_qty for c in self.customers)

    @property
    def retrieved(self) -> int:
        return sum(lot.retrieved_qty for lot in self.lots)

    @property
    def to_retrieve(self) -> int:
        return sum(lot.to_retrieve for lot in self.lots)

    @property
    def notified(self) -> int:
        return sum(1 for c in self.customers if c.notified_at is not None)


def _source_words(lot_number, supplier_code, supplier_name, supplier_lot) -> str:
    if lot_number:
        return f"lot {lot_number}"
    return f"{supplier_name or supplier_code}'s lot {supplier_lot}"


def recall_report(session: Session, recall: Recall) -> Report:
    """Each affected lot (item, depth, status before and now, stock now by location, retrieved), each
    customer (shipments: order, date, lot, qty; notified), the events, and the totals."""
    entries = session.execute(
        select(RecallLot, Lot.lot_number, Lot.status, Item.sku, Item.name, Item.unit)
        .join(Lot, Lot.id == RecallLot.lot_id).join(Item, Item.id == Lot.item_id)
        .where(RecallLot.recall_id == recall.id)).all()
    ids = [entry.lot_id for entry, *_ in entries]
    numbers = {entry.lot_id: number for entry, number, *_ in entries}
    places: dict[int, list[Place]] = defaultdict(list)
    for lot_id, code, qty in session.execute(
            select(Stock.lot_id, Location.code, func.sum(Stock.qty)).join(Location, Location.id == Stock.location_id)
            .where(Stock.lot_id.in_(ids), Stock.qty > 0).group_by(Stock.lot_id, Location.code)
            .order_by(Stock.lot_id, Location.code)):
        places[lot_id].append(Place(code, int(qty)))
    shipped: dict[int, int] = defaultdict(int)
    by_customer: dict[int, list[Shipment]] = defaultdict(list)
    for lot_id, customer_id, reference, ts, qty in session.execute(
            select(Movement.lot_id, Movement.customer_id, Movement.reference, Movement.ts, Movement.qty)
            .where(Movement.kind == MovementKind.SHIP, Movement.lot_id.in_(ids)).order_by(Movement.ts, Movement.id)):
        shipped[lot_id] += qty
        if customer_id is not None:
            by_customer[customer_id].append(Shipment(reference, utc(ts), numbers[lot_id], qty))
    covered = _open_recalls_of(session, ids)
    lots = [ReportLot(number, sku, name, unit, entry.depth, entry.status_before.value, status.value,
                      entry.on_hand_at_start, shipped[entry.lot_id], entry.retrieved_qty, places[entry.lot_id],
                      tuple(n for n in covered.get(entry.lot_id, ()) if n != recall.number))
            for entry, number, status, sku, name, unit in entries]
    lots.sort(key=lambda lot: (lot.depth, lot.lot_number))
    customers = [
        ReportCustomer(code, name, entry.shipped_qty, utc(entry.notified_at),
                       _operator_name(session, entry.notified_by_id), entry.note, by_customer[entry.customer_id])
        for entry, code, name in session.execute(
            select(RecallCustomer, Customer.code, Customer.name).join(Customer, Customer.id == RecallCustomer.customer_id)
            .where(RecallCustomer.recall_id == recall.id).order_by(Customer.name, Customer.code))]
    supplier = session.get(Supplier, recall.supplier_id) if recall.supplier_id else None
    lot_number = session.scalar(select(Lot.lot_number).where(Lot.id == recall.lot_id)) if recall.lot_id else None
    return Report(
        number=recall.number, status=recall.status.value, reason=recall.reason,
        source=_source_words(lot_number, supplier and supplier.code, supplier and supplier.name, recall.supplier_lot),
        lot_number=lot_number, supplier_code=supplier.code if supplier else None,
        supplier_name=supplier.name if supplier else None, supplier_lot=recall.supplier_lot,
        opened_at=utc(recall.opened_at), opened_by=_operator_name(session, recall.opened_by_id),
        closed_at=utc(recall.closed_at), closed_by=_operator_name(session, recall.closed_by_id),
        close_reason=recall.close_reason, lots=lots, customers=customers, events=_events(session, recall))


def _events(session: Session, recall: Recall) -> list[ReportEvent]:
    rows = session.execute(
        select(RecallEvent, who_column(Operator.name, ApiToken.name), StationDevice.name, Lot.lot_number,
               Customer.name)
        .outerjoin(Operator, Operator.id == RecallEvent.operator_id)
        .outerjoin(ApiToken, ApiToken.id == RecallEvent.token_id)
        .outerjoin(StationDevice, StationDevice.id == RecallEvent.station_id)
        .outerjoin(Lot, Lot.id == RecallEvent.lot_id)
        .outerjoin(Customer, Customer.id == RecallEvent.customer_id)
        .where(RecallEvent.recall_id == recall.id).order_by(RecallEvent.id))
    return [ReportEvent(utc(e.ts), e.action, who, station, lot, customer, e.qty, e.note)
            for e, who, station, lot, customer in rows]


# --- the list --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    number: str
    status: str
    reason: str
    source: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    lots: int
    retrieved: int
    to_retrieve: int
    customers: int
    notified: int


def recall_list(session: Session, *, status: str | None = None, limit: int = 200) -> list[Summary]:
    """Recalls, open ones first, newest first, each with its progress."""
    query = (select(Recall, Lot.lot_number, Supplier.code, Supplier.name)
             .outerjoin(Lot, Lot.id == Recall.lot_id).outerjoin(Supplier, Supplier.id == Recall.supplier_id)
             .order_by((Recall.status == RecallStatus.OPEN).desc(), Recall.id.desc()).limit(limit))
    if status:
        query = query.where(Recall.status == RecallStatus(status))
    rows = session.execute(query).all()
    ids = [recall.id for recall, *_ in rows]
    lot_counts = {rid: (n, int(got or 0), int(start or 0)) for rid, n, got, start in session.execute(
        select(RecallLot.recall_id, func.count(), func.sum(RecallLot.retrieved_qty),
               func.sum(RecallLot.on_hand_at_start))
        .where(RecallLot.recall_id.in_(ids)).group_by(RecallLot.recall_id))}
    shipped = {rid: int(qty or 0) for rid, qty in session.execute(
        select(RecallLot.recall_id, func.sum(Movement.qty))
        .join(Movement, Movement.lot_id == RecallLot.lot_id)
        .where(RecallLot.recall_id.in_(ids), Movement.kind == MovementKind.SHIP).group_by(RecallLot.recall_id))}
    people = {rid: (n, int(told or 0)) for rid, n, told in session.execute(
        select(RecallCustomer.recall_id, func.count(), func.count(RecallCustomer.notified_at))
        .where(RecallCustomer.recall_id.in_(ids)).group_by(RecallCustomer.recall_id))}
    out = []
    for recall, lot_number, code, name in rows:
        n_lots, got, start = lot_counts.get(recall.id, (0, 0, 0))
        n_customers, told = people.get(recall.id, (0, 0))
        out.append(Summary(recall.number, recall.status.value, recall.reason,
                           _source_words(lot_number, code, name, recall.supplier_lot), utc(recall.opened_at),
                           utc(recall.closed_at), n_lots, got, start + shipped.get(recall.id, 0),
                           n_customers, told))
    return out
