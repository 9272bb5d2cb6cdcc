"""Trace a lot: backward to the suppliers' receipts it came from, forward to the customers who got it.

    trace(session, lot, direction="backward" | "forward") -> Trace

A trace is plain data (dataclasses of strings, numbers and dates) that the page, the CSV, the PDF
and the API all render. It is built from four set-based queries whatever the size of the genealogy,
never one per lot: the links, the lots with item and supplier, their stock by location, and the
receipts (backward) or shipments (forward) — each filtered on the lots reached by
services.genealogy's recursive walk, run inside it as a subquery.

Depth is the fewest links from the traced lot. A cycle in lot_links (bad imported data) neither
loops nor crashes: the walk and the depth numbering each reach a lot once.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..models import (ApiToken, Customer, HandlingUnit, Item, Location, Lot, LotLink, Movement, MovementKind,
                      Operator, Stock, Supplier)
from .actor import who_column
from .errors import Invalid
from .genealogy import depths, links, reach

DIRECTIONS = ("backward", "forward")


@dataclass(frozen=True)
class Place:
    location: str
    qty: int


@dataclass
class TraceNode:
    """A lot in the trace, as a supervisor reads it."""

    lot_id: int
    lot_number: str
    depth: int
    sku: str
    item_name: str
    unit: str
    origin: str  # receipt, production or split
    status: str
    on_hand: int
    supplier_code: str | None
    supplier_name: str | None
    supplier_lot: str | None
    received_on: dt.date | None
    produced_on: dt.date | None
    expiry: dt.date | None
    places: list[Place] = field(default_factory=list)
    decimals: int = 0  # the item's, for the pages to write its quantities in


@dataclass(frozen=True)
class TraceEdge:
    """`qty` of the component lot went into (or was split off as) the output lot."""

    component: str  # lot numbers
    output: str
    qty: int
    kind: str  # production or split


@dataclass(frozen=True)
class Receipt:
    """One booking-in of a root lot: a pallet (with its SSCC) or a loose quantity."""

    lot_number: str
    supplier_code: str | None
    supplier_name: str | None
    supplier_lot: str | None
    ts: dt.datetime
    qty: int
    sscc: str | None
    received_by: str | None
    location: str | None


@dataclass(frozen=True)
class Shipment:
    """Goods of a lot that left the site to a customer on an order (kind "ship"), or came back from one
    (kind "return": a customer return or a recall's retrieval; order_number holds its reference)."""

    lot_number: str
    customer_code: str | None
    customer_name: str | None
    order_number: str | None
    ts: dt.datetime
    qty: int
    kind: str = "ship"


@dataclass
class Trace:
    lot_number: str
    direction: str
    nodes: list[TraceNode]
    edges: list[TraceEdge]
    receipts: list[Receipt]
    shipments: list[Shipment]

    @property
    def max_depth(self) -> int:
        return max((n.depth for n in self.nodes), default=0)

    def node(self, lot_number: str) -> TraceNode | None:
        return next((n for n in self.nodes if n.lot_number == lot_number), None)


def check_direction(direction: str | None) -> str:
    """'backward' or 'forward' (no value: backward); anything else is refused in words."""
    value = (direction or "backward").strip().lower()
    if value not in DIRECTIONS:
        raise Invalid(f"A trace goes 'backward' (to the suppliers) or 'forward' (to the customers), "
                      f"not {direction[:40]!r}.", code="invalid_direction")
    return value


def trace(session: Session, lot: Lot, direction: str = "backward") -> Trace:
    """The genealogy of `lot` in one direction, with where its lots are now and where they came
    from (backward: the receipts of its roots) or went (forward: every shipment)."""
    direction = check_direction(direction)
    down = direction == "forward"
    # Each query below filters on the recursive walk itself (a subquery the database runs), not on
    # a list of ids sent back to it: a thousand bound parameters cost more to build than the walk.
    members = reach([lot.id], down=down)
    link_rows = links(session, members, down=down)
    # Backward, a link is walked from its output to its component.
    walked = [(c, o) if down else (o, c) for c, o, _q, _k in link_rows]
    depth = depths([lot.id], walked)
    nodes = _nodes(session, members, depth)
    number = {n.lot_id: n.lot_number for n in nodes}
    edges = [TraceEdge(number[c], number[o], q, k) for c, o, q, k in link_rows
             if c in number and o in number]
    if down:
        return Trace(lot.lot_number, direction, nodes, edges, [], _shipments(session, members, number))
    return Trace(lot.lot_number, direction, nodes, edges, _receipts(session, members, number), [])


def _nodes(session: Session, members: Select, depth: dict[int, int]) -> list[TraceNode]:
    nodes: dict[int, TraceNode] = {}
    for row in session.execute(
            select(Lot.id, Lot.lot_number, Item.sku, Item.name, Item.unit, Lot.origin, Lot.status,
                   Lot.on_hand, Supplier.code, Supplier.name, Lot.supplier_lot, Lot.received_on,
                   Lot.produced_on, Lot.expiry, Item.qty_decimals)
            .join(Item, Item.id == Lot.item_id).outerjoin(Supplier, Supplier.id == Lot.supplier_id)
            .where(Lot.id.in_(members))):
        nodes[row[0]] = TraceNode(
            lot_id=row[0], lot_number=row[1], depth=depth.get(row[0], 0), sku=row[2], item_name=row[3],
            unit=row[4], origin=row[5], status=getattr(row[6], "value", row[6]), on_hand=row[7],
            supplier_code=row[8], supplier_name=row[9], supplier_lot=row[10], received_on=row[11],
            produced_on=row[12], expiry=row[13], decimals=row[14])
    for lot_id, code, qty in session.execute(
            select(Stock.lot_id, Location.code, func.sum(Stock.qty))
            .join(Location, Location.id == Stock.location_id)
            .where(Stock.lot_id.in_(members), Stock.qty > 0)
            .group_by(Stock.lot_id, Location.code).order_by(Stock.lot_id, Location.code)):
        nodes[lot_id].places.append(Place(code, qty))
    return sorted(nodes.values(), key=lambda n: (n.depth, n.lot_number))


def _shipments(session: Session, members: Select, number: dict[int, str]) -> list[Shipment]:
    out = [Shipment(number[lot_id], code, name, ref, ts, qty, getattr(kind, "value", kind))
           for lot_id, code, name, ref, ts, qty, kind in session.execute(
               select(Movement.lot_id, Customer.code, Customer.name, Movement.reference, Movement.ts,
                      Movement.qty, Movement.kind)
               .outerjoin(Customer, Customer.id == Movement.customer_id)
               .where(Movement.lot_id.in_(members), Movement.kind.in_([MovementKind.SHIP, MovementKind.RETURN])))]
    return sorted(out, key=lambda s: (s.ts, s.kind != "ship", s.lot_number, s.customer_code or "",
                                      s.order_number or ""))


def _receipts(session: Session, members: Select, number: dict[int, str]) -> list[Receipt]:
    """Receipts of the roots: the lots reached that were made or split from no other lot."""
    made = select(LotLink.output_lot_id).where(LotLink.output_lot_id == Movement.lot_id).exists()
    out = [Receipt(number[lot_id], scode, sname, slot, ts, qty, sscc, who, where)
           for lot_id, scode, sname, slot, ts, qty, sscc, who, where in session.execute(
               select(Movement.lot_id, Supplier.code, Supplier.name, Lot.supplier_lot, Movement.ts,
                      Movement.qty, HandlingUnit.sscc, who_column(Operator.name, ApiToken.name), Location.code)
               .join(Lot, Lot.id == Movement.lot_id)
               .outerjoin(Supplier, Supplier.id == Lot.supplier_id)
               .outerjoin(HandlingUnit, HandlingUnit.id == Movement.handling_unit_id)
               .outerjoin(Operator, Operator.id == Movement.operator_id)
               .outerjoin(ApiToken, ApiToken.id == Movement.token_id)
               .outerjoin(Location, Location.id == Movement.to_location_id)
               .where(Movement.lot_id.in_(members), Movement.kind == MovementKind.RECEIVE, ~made))]
    return sorted(out, key=lambda r: (r.ts, r.lot_number, r.sscc or ""))
