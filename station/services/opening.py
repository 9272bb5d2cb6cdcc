"""Opening stock: what is on the shelves the day a site starts with Station, booked as `opening` movements.

Each lot of opening stock is a new lot (origin "opening") with its stock at a location — on a pallet
when an SSCC is given — and one ledger row per place (outside -> location), so the ledger equals the
stock from the first day, as after any receipt.

`book_opening` books one lot through the stock service, like a receipt. `book_openings` books many at
once for the bulk import (200,000 lots in well under a minute): lot numbers drawn per scheme in one
counter update, then lots, pallets, stock and ledger rows inserted in chunks — on SQLite through
SQLAlchemy Core, the ledger rows through the chained insert (services/chain.py hashes each one, in
order, in this transaction); on PostgreSQL by COPY with ids drawn first (services/bulk.py), the ledger
rows hashed by chain.copy_into — so the hash chain holds as if each had been written alone.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .. import clock
from ..gs1 import normalise_sscc
from ..models import (HandlingUnit, Item, Location, Lot, LotCounter, LotScheme, LotStatus, Movement, MovementKind,
                      Stock, Supplier)
from . import bulk, chain, numbering
from .actor import NOBODY, Actor
from .errors import Conflict, Invalid
from .receiving import _clean_supplier_lot, _refuse_known_pallet
from .stock import add_stock, record, require_positive

ORIGIN = "opening"
REFERENCE = "opening stock"  # on every opening ledger row
CHUNK = 5000  # lots per round of inserts: memory stays flat however long the file


def book_opening(session: Session, *, item: Item, qty: int, location: Location, lot_number: str | None = None,
                 supplier: Supplier | None = None, supplier_lot: str | None = None,
                 expiry: dt.date | None = None, produced: dt.date | None = None, sscc: str | None = None,
                 by: Actor = NOBODY, on: dt.date | None = None) -> Lot:
    """Book `qty` of a new lot of `item` at `location` as opening stock; its number is `lot_number`, or the
    next of the item's scheme. Conflict when the lot number or the SSCC exists already."""
    qty = require_positive(qty, of=item)
    today = on or clock.today()
    supplier_lot = _clean_supplier_lot(supplier_lot)
    if expiry and produced and expiry < produced:
        raise Invalid(f"The expiry date {expiry.isoformat()} is before the production date "
                      f"{produced.isoformat()}.", code="invalid_date")
    unit_sscc = normalise_sscc(sscc) if sscc else None
    if unit_sscc:
        _refuse_known_pallet(session, unit_sscc)
    if lot_number is None:
        lot_number = numbering.next_lot_number(session, item.lot_scheme, today, item=item.sku,
                                               supplier=supplier.code if supplier else None)
    if session.scalar(select(Lot.id).where(Lot.lot_number == lot_number)):
        raise Conflict(f"Lot {lot_number} already exists.", code="lot_exists")
    lot = Lot(lot_number=lot_number, item_id=item.id, supplier_id=supplier.id if supplier else None,
              supplier_lot=supplier_lot, produced_on=produced, received_on=today, expiry=expiry,
              fifo_date=produced or today, status=LotStatus.AVAILABLE, on_hand=0, origin=ORIGIN,
              created_by_id=by.operator_id)
    session.add(lot)
    session.flush()
    unit = None
    if unit_sscc:
        unit = HandlingUnit(sscc=unit_sscc, lot_id=lot.id, location_id=location.id, qty_received=qty,
                            received_by_id=by.operator_id)
        session.add(unit)
        session.flush()
    add_stock(session, lot, location, qty, unit)
    record(session, MovementKind.OPENING, lot, qty, dest=location, by=by, reference=REFERENCE,
           handling_unit_id=unit.id if unit else None)
    return lot


# --- many at once --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpeningLine:
    """One place of one lot: already checked (the import's check did it) and resolved to ids."""

    row: int  # the file's row, named in a refusal
    item_id: int
    sku: str
    scheme_id: int | None  # the item's own scheme, None: the site's
    qty: int
    location_id: int
    lot_number: str | None  # None: a new number from the scheme
    supplier_id: int | None = None
    supplier_code: str | None = None
    supplier_lot: str | None = None
    expiry: dt.date | None = None
    produced: dt.date | None = None
    sscc: str | None = None
    location_code: str = ""  # for the import's preview


class NumberTaken(Conflict):
    code = "lot_exists"


def book_openings(session: Session, lines: list[OpeningLine], *, by: Actor = NOBODY,
                  on: dt.date | None = None) -> int:
    """Book every line (lines with the same lot number are one lot in several places); returns the lots made.

    The caller has checked the lines (units, dates, codes, numbers and SSCCs not taken). A new number
    that another lot already has (a number drawn that someone typed into the file or booked earlier)
    raises NumberTaken naming the row, and the caller's transaction rolls back.
    """
    today = on or clock.today()
    numbers = _numbers(session, lines, today)
    lots: dict[str, list[OpeningLine]] = defaultdict(list)
    for line, number in zip(lines, numbers):
        lots[number].append(line)
    _refuse_taken(session, lots)
    groups = list(lots.items())
    for start in range(0, len(groups), CHUNK):
        _insert_chunk(session, groups[start:start + CHUNK], by, today)
    return len(groups)


def _numbers(session: Session, lines: list[OpeningLine], today: dt.date) -> list[str]:
    """The lot number of each line: its own, or drawn from its scheme (one counter update per scheme)."""
    wanted: dict[int, int] = defaultdict(int)
    default_id = None
    for line in lines:
        if line.lot_number is None:
            if line.scheme_id is None and default_id is None:
                default_id = numbering.default_scheme(session).id
            wanted[line.scheme_id or default_id] += 1
    schemes = {s.id: s for s in session.scalars(select(LotScheme).where(LotScheme.id.in_(list(wanted))))}
    next_seq = {scheme_id: _draw(session, schemes[scheme_id], n, today) for scheme_id, n in wanted.items()}
    numbers = []
    for line in lines:
        if line.lot_number is not None:
            numbers.append(line.lot_number)
            continue
        scheme = schemes[line.scheme_id or default_id]
        seq = next_seq[scheme.id]
        next_seq[scheme.id] = seq + 1
        numbers.append(numbering.render(scheme.pattern, seq, today, item=line.sku, supplier=line.supplier_code))
    return numbers


def _draw(session: Session, scheme: LotScheme, n: int, on: dt.date) -> int:
    """Draw `n` numbers of `scheme` at once (as numbering.draw does one); the first of them."""
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[session.get_bind().dialect.name]
    period = numbering.period_key(scheme.reset, on)
    stmt = dialect.insert(LotCounter).values(scheme_id=scheme.id, period=period, value=n)
    stmt = stmt.on_conflict_do_update(index_elements=[LotCounter.scheme_id, LotCounter.period],
                                      set_={"value": LotCounter.value + n}).returning(LotCounter.value)
    return session.execute(stmt).scalar_one() - n + 1


def _refuse_taken(session: Session, lots: dict[str, list[OpeningLine]]) -> None:
    numbers = list(lots)
    for start in range(0, len(numbers), 1000):
        taken = session.scalar(select(Lot.lot_number).where(Lot.lot_number.in_(numbers[start:start + 1000]))
                               .limit(1))
        if taken is not None:
            row = lots[taken][0].row
            raise NumberTaken(f"row {row}: lot {taken} already exists — a drawn lot number is another lot's; "
                              f"give this row its lot number, or set the item's lot pattern.", row=row)


def _insert_chunk(session: Session, groups: list[tuple[str, list[OpeningLine]]], by: Actor,
                  today: dt.date) -> None:
    now = clock.now()
    write = _copy if session.get_bind().dialect.name == "postgresql" else _insert
    lot_rows = []
    for number, parts in groups:
        first = parts[0]
        lot_rows.append({
            "lot_number": number, "item_id": first.item_id, "supplier_id": first.supplier_id,
            "supplier_lot": first.supplier_lot, "produced_on": first.produced, "received_on": today,
            "expiry": first.expiry, "fifo_date": first.produced or today, "status": LotStatus.AVAILABLE.value,
            "on_hand": sum(p.qty for p in parts), "origin": ORIGIN, "created_at": now,
            "created_by_id": by.operator_id})
    ids = write(session, Lot, lot_rows, "lot_number")
    unit_ids = write(session, HandlingUnit, [
        {"sscc": p.sscc, "lot_id": ids[number], "location_id": p.location_id, "qty_received": p.qty,
         "received_at": now, "received_by_id": by.operator_id}
        for number, parts in groups for p in parts if p.sscc], "sscc")
    places: dict[tuple[int, int, int | None], int] = defaultdict(int)
    for number, parts in groups:
        for p in parts:
            places[(ids[number], p.location_id, unit_ids.get(p.sscc) if p.sscc else None)] += p.qty
    write(session, Stock, [
        {"lot_id": lot_id, "location_id": location_id, "handling_unit_id": unit_id, "qty": qty}
        for (lot_id, location_id, unit_id), qty in places.items()])
    # every key in every row: one executemany (the ORM would split the rows into a batch per run of rows
    # with and without a pallet); hashed in order, by the chain's hook or by chain.copy_into.
    write(session, Movement, [
        {"ts": now, "kind": MovementKind.OPENING, "lot_id": lot_id, "qty": qty, "from_location_id": None,
         "to_location_id": location_id, "handling_unit_id": unit_id, "operator_id": by.operator_id,
         "station_id": by.station_id, "token_id": by.token_id, "reference": REFERENCE, "order_line_id": None,
         "customer_id": None, "reason": None, "raw_scan": None, "followed_suggestion": None}
        for (lot_id, location_id, unit_id), qty in places.items()])


def _insert(session: Session, model, rows: list[dict], key: str | None = None) -> dict[Any, int]:
    """SQLite: one executemany through Core (the chain's hook hashes a chained table's rows); with `key`,
    each row's id by its value of that column."""
    table = model.__table__
    if not rows:
        return {}
    if key is None:
        session.execute(insert(table), rows)
        return {}
    return dict(session.execute(insert(table).returning(table.c[key], table.c.id), rows).all())


def _copy(session: Session, model, rows: list[dict], key: str | None = None) -> dict[Any, int]:
    """PostgreSQL: by COPY, ids drawn first (services/bulk.py); a chained table through the chain's own.
    With `key`, each row's id by its value of that column."""
    table = model.__table__
    connection = session.connection()
    if table.name in chain.MODELS:
        ids = chain.copy_into(connection, table.name, rows)
    else:
        ids = bulk.copy_rows(connection, table, rows)
    return dict(zip((row[key] for row in rows), ids)) if key else {}
