"""Picking over the API: pick a lot for an order line, ship an order (ERP and scripted scanners).

    POST /picks                   {order, line, lot, location?, qty, override_reason?} -> 201 the pick;
                                  or {order, line, code} with the case label as scanned (its lot, and
                                  what it counts or weighs: scanned_labels)
    POST /picks/<id>/undo         {reason?}  -> 201 the pick taken back (an unpick ledger row)
    POST /shipments               {order, short_reason?} -> 201 the shipment, with the lines shipped
                                  short and why (a line that could still be picked needs a reason:
                                  the pick page's rule, services.picking.short_reasons)

The same service as the pick page (services.picking), so the same rules and the same words: a
held, quarantined, recalled or expired lot, a lot expiring before the order's due date or inside
the customer's minimum shelf life, a lot of another item, a younger lot than the FIFO/FEFO
suggestion without an override reason (or at all, when the item's policy refuses younger lots),
too much for the line or the place, a pick that cannot be taken back (not a pick, already taken
back, its order shipped, its goods gone from the shipping lane) are 409s whose message is what the
picker's banner says; an unknown order, line, lot or location in a body is a 422 naming the field,
an unknown movement in the path a 404. A refusal changes nothing.
"""
from __future__ import annotations

from sqlalchemy import select

from .. import get_db
from ..models import Location, Lot, Movement, Order, OrderLine
from ..services import catalog, picking
from ..services.errors import Invalid, NotFound
from ..services.printing import _utc
from . import scanned_labels
from .core import ApiError, api_actor, route, write
from .floor_schemas import (PickIn, PickOut, PickUndoIn, PickUndoOut, ShipmentIn, ShipmentLineOut, ShipmentOut,
                            ShippedOut)
from .lot_schemas import ItemRef
from .views import _referenced


def _order(session, number: str) -> Order:
    order = session.scalar(select(Order).where(Order.number == number))
    if order is None:
        raise Invalid(f"There is no order {number}.", code="unknown_order", field="order")
    return order


@route("POST", "/picks", body=PickIn, response=PickOut, status=201, errors=(409,),
       workflow="picking", action="Picking", idempotent=True)
def create_pick(body: PickIn) -> PickOut:
    """Pick a quantity of a lot for an order line, checked against the FIFO/FEFO suggestion."""
    with write() as session:
        order = _order(session, body.order)
        line = next((line for line in order.lines if line.line_no == body.line), None)
        if line is None:
            raise Invalid(f"Order {order.number} has no line {body.line}.", code="unknown_line", field="line")
        number, qty, pieces = _what_is_picked(body)
        lot = _referenced(catalog.lot_by_number, session, number, "lot")
        location = (_referenced(catalog.location_by_code, session, body.location, "location")
                    if body.location else None)
        by = api_actor(raw_scan=body.code[:400] if body.code else None)
        movement = picking.pick_line(session, line=line, lot=lot, location=location, qty=qty,
                                     override_reason=body.override_reason, by=by, pieces=pieces)
        session.flush()
        session.refresh(line)
        codes = dict(session.execute(select(Location.id, Location.code).where(
            Location.id.in_([movement.from_location_id, movement.to_location_id]))).all())
        return PickOut(
            id=movement.id, ts=_utc(movement.ts), order=order.number, line=line.line_no,
            item=ItemRef(sku=line.item.sku, name=line.item.name), lot_number=lot.lot_number,
            qty=movement.qty, from_location=codes[movement.from_location_id],
            to_location=codes[movement.to_location_id], followed_suggestion=bool(movement.followed_suggestion),
            override_reason=movement.reason, line_picked=line.picked_qty, line_open=picking.open_qty(line),
            order_status=order.status.value)


def _what_is_picked(body: PickIn) -> tuple:
    """(lot number, qty, pieces) of a pick: the body's, or read from the label it scanned (checked against
    the body's: scanned_labels)."""
    if body.code is None:
        if body.lot is None:
            raise Invalid("Give the lot (or the code of its label).", code="invalid", field="lot")
        if body.qty is None:
            raise Invalid("Give the qty (or the code of a label that counts it).", code="qty_required", field="qty")
        return body.lot, body.qty, body.pieces
    res = scanned_labels.read(body.code, "picking")
    if not res.ok:
        raise ApiError(422, res.error or "not_pickable", res.message, field="code")
    found = (res.records or {}).get("lot") or {}
    if not found.get("lot_number"):
        if body.lot is None:
            raise Invalid(f"The label names no lot of ours ({res.message}): give the lot too.",
                          code="label_without_lot", field="code")
    elif body.lot is not None and body.lot != found["lot_number"]:
        raise Invalid(f"The label is lot {found['lot_number']}, the body says lot {body.lot}.",
                      code="label_mismatch", field="lot")
    qty, pieces = scanned_labels.counted(res, body.qty, body.pieces)
    return found.get("lot_number") or body.lot, qty, pieces


@route("POST", "/picks/<int:movement_id>/undo", body=PickUndoIn, response=PickUndoOut, status=201,
       errors=(404, 409),
       workflow="picking", action="Undoing a pick")
def undo_pick(movement_id: int, body: PickUndoIn) -> PickUndoOut:
    """Take a pick back: its lot goes from the shipping lane back to where it was picked from."""
    with get_db().write() as session:
        pick = session.get(Movement, movement_id)
        if pick is None:
            raise NotFound(f"There is no movement {movement_id}.", code="unknown_movement")
        unpick = picking.undo_pick(session, pick, reason=body.reason, by=api_actor())
        line = session.get(OrderLine, unpick.order_line_id)
        session.refresh(line)
        codes = dict(session.execute(select(Location.id, Location.code).where(
            Location.id.in_([unpick.from_location_id, unpick.to_location_id]))).all())
        return PickUndoOut(
            id=unpick.id, ts=_utc(unpick.ts), kind="unpick", undoes=pick.id, reference=unpick.reference,
            order=line.order.number, line=line.line_no, item=ItemRef(sku=line.item.sku, name=line.item.name),
            lot_number=unpick.lot.lot_number, qty=unpick.qty, from_location=codes[unpick.from_location_id],
            to_location=codes[unpick.to_location_id], reason=unpick.reason, line_picked=line.picked_qty,
            line_open=picking.open_qty(line), order_status=line.order.status.value)


@route("POST", "/shipments", body=ShipmentIn, response=ShipmentOut, status=201, errors=(409,),
       workflow="picking", action="Shipping an order", idempotent=True)
def create_shipment(body: ShipmentIn) -> ShipmentOut:
    """Ship an order: everything picked for it leaves the site for its customer (the forward trace)."""
    with write() as session:
        order = _order(session, body.order)
        movements = picking.ship(session, order, by=api_actor(), short_reason=body.short_reason)
        session.flush()
        lines = {line.id: line for line in order.lines}
        lots = dict(session.execute(select(Lot.id, Lot.lot_number).where(
            Lot.id.in_({m.lot_id for m in movements}))).all())
        codes = dict(session.execute(select(Location.id, Location.code).where(
            Location.id.in_({m.from_location_id for m in movements}))).all())
        shipped: dict[int, int] = {}
        for m in movements:
            shipped[m.order_line_id] = shipped.get(m.order_line_id, 0) + m.qty
        return ShipmentOut(
            order=order.number, status="shipped", customer=order.customer.code,
            shipped_at=_utc(order.shipped_at),
            lines=[ShipmentLineOut(line=line.line_no, item=ItemRef(sku=line.item.sku, name=line.item.name),
                                   ordered=line.qty, shipped=shipped.get(line.id, 0), short_qty=line.short_qty,
                                   short_reason=line.short_reason)
                   for line in order.lines],
            shipped=[ShippedOut(line=lines[m.order_line_id].line_no,
                                item=ItemRef(sku=lines[m.order_line_id].item.sku,
                                             name=lines[m.order_line_id].item.name),
                                lot_number=lots[m.lot_id], qty=m.qty, from_location=codes[m.from_location_id])
                     for m in movements])


