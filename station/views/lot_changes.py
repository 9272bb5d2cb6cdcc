"""Split and adjust on the lot card (supervisors; blueprint "lots", beside views/lot_actions.py).

    GET  /lots/change/<split|adjust>?lot=…   the card's supervisor panel, open on that form (#lot-action)
    POST /lots/change/split   (lot, qty, location, printer)     part of the lot gets its own number; its
                                                                label goes to the printer chosen ("" none)
    POST /lots/change/adjust  (lot, location, counted, reason, note)   the stock there corrected to what
                                                                is counted, with the reason on the ledger

Each answers the lot result (banner over the refreshed card) for #lot-result, or the whole page without
htmx; a refusal keeps the form open with what was typed and changes nothing.
"""
from __future__ import annotations

from markupsafe import Markup
from flask import render_template, request, url_for
from sqlalchemy import select

from .. import auth, get_db
from ..models import Location, Printer
from ..scanning.codes import command_of
from ..services import catalog, putaway, splits, stock
from ..services.errors import DomainError, NotFound
from ..services.lots import lot_details
from ..workflows.inputs import parse_qty
from ..workflows.lookup import card_context
from .common import clean_scan, page_or_fragment, wants_fragment
from .filters import qty as shown
from .lots import PAGE, bp

PANEL = "partials/lot_change_panel.html"
ADJUST_REASONS = ("Counted", "Damaged", "Found", "Booking error")


def form_context(session, lot_number: str, change: str) -> dict:
    """What the split or adjust form offers: the lot's places, the printers (split), every location (adjust)."""
    lot = catalog.lot_by_number(session, lot_number)
    station = auth.current_station()
    printers = session.scalars(select(Printer.name).where(Printer.active.is_(True)).order_by(Printer.name)).all()
    default = station.printer_name if station and station.printer_name else (printers[0] if len(printers) == 1 else "")
    places = putaway.places(session, lot)
    others = session.scalars(select(Location.code).where(Location.code.not_in([p.code for p in places]))
                             .order_by(Location.code).limit(500)).all() if change == "adjust" else []
    return dict(lot_number=lot.lot_number, change=change, places=places, printers=printers,
                default_printer=default, others=others, unit=lot.item.unit, decimals=lot.item.qty_decimals,
                adjust_reasons=ADJUST_REASONS)


@bp.get("/change/<any(split, adjust):change>")
@auth.requires("supervisor")
def change_panel(change: str):
    """The supervisor panel of a lot's card, open on the split or the adjust form."""
    lot_number = clean_scan(request.args.get("lot"))
    try:
        with get_db().read() as session:
            return render_template(PANEL, typed={}, **form_context(session, lot_number, change))
    except NotFound:
        return _no_lot(lot_number)


@bp.post("/change/split")
@auth.requires("supervisor")
def split():
    """Split part of a lot off under a new number, its label to the printer chosen."""
    lot_number, typed = _typed("qty", "location", "printer")
    if not _exists(lot_number):
        return _no_lot(lot_number)
    station = auth.current_station()
    try:
        qty = parse_qty(typed["qty"], "quantity to split off")
        if qty is None:
            return _answer(lot_number, 422, "error", "Type how many to split off — nothing changed.", "split", typed)
        with get_db().write() as session:
            lot = catalog.lot_by_number(session, lot_number)
            place = catalog.location_by_code(session, typed["location"]) if typed["location"] else None
            done = splits.split_off(session, lot, qty, place, by=auth.actor(), print_label=bool(typed["printer"]),
                                    printer=typed["printer"] or None, station=station.id if station else None)
            child, what = done.child.lot_number, shown(qty, lot.item)
            printer = session.get(Printer, done.job.printer_id).name if done.job else None
    except NotFound as exc:
        if exc.code == "unknown_lot":
            return _no_lot(lot_number)
        return _answer(lot_number, 422, "error", f"{exc.message} Nothing changed.", "split", typed)
    except DomainError as exc:
        return _answer(lot_number, _status(exc), "error", f"{exc.message} Nothing changed.", "split", typed)
    link = url_for(".show", lot_number=child)
    label = f" — its label is queued on {printer}" if printer else " — no label printed"
    message = Markup('{} of lot <span class="nowrap">{}</span> is now lot <a class="nowrap" href="{}">{}</a>{}.') \
        .format(what, lot_number, link, child, label)
    return _answer(lot_number, 200, "ok", message)


@bp.post("/change/adjust")
@auth.requires("supervisor")
def adjust():
    """Correct a lot's stock at a location to what is counted there, with a reason."""
    lot_number, typed = _typed("location", "counted", "reason", "note")
    if not _exists(lot_number):
        return _no_lot(lot_number)
    note = "" if command_of(typed["note"]) else typed["note"]  # CMD:CONFIRM scanned into the note field
    reason = " — ".join(part for part in (typed["reason"], note) if part)
    try:
        counted = parse_qty(typed["counted"], "count", zero=True)
    except DomainError:
        counted = None
    if counted is None:
        return _answer(lot_number, 422, "error", "Type how many are really there (a number, 0 or more) — "
                                                 "nothing changed.", "adjust", typed)
    try:
        with get_db().write() as session:
            lot = catalog.lot_by_number(session, lot_number)
            place = catalog.location_by_code(session, typed["location"])
            movement = stock.adjust_to(session, lot, place, counted, reason, by=auth.actor())
            way = "more" if movement.to_location_id else "fewer"
            words = f"{shown(movement.qty, lot.item, unit=False)} {way} at {place.code}, now {shown(counted, lot.item)} there"
    except NotFound as exc:
        if exc.code == "unknown_lot":
            return _no_lot(lot_number)
        return _answer(lot_number, 422, "error", f"{exc.message} Nothing changed.", "adjust", typed)
    except DomainError as exc:
        return _answer(lot_number, _status(exc), "error", f"{exc.message} Nothing changed.", "adjust", typed)
    return _answer(lot_number, 200, "ok", Markup('Lot <span class="nowrap">{}</span> corrected: {} — {}.')
                   .format(lot_number, words, reason))


def _typed(*fields: str) -> tuple[str, dict]:
    return clean_scan(request.form.get("lot")), {f: clean_scan(request.form.get(f))[:200] for f in fields}


def _exists(lot_number: str) -> bool:
    with get_db().read() as session:
        try:
            return catalog.lot_by_number(session, lot_number) is not None
        except NotFound:
            return False


def _status(exc: DomainError) -> int:
    return exc.status if 400 <= exc.status < 500 else 409


def _no_lot(lot_number: str):
    return auth.banner_response(
        "error", f"No lot '{lot_number[:60]}' — scan the lot label again. Nothing changed.", 404)


def _answer(lot_number: str, http_status: int, kind: str, message: str, open_change: str | None = None,
            typed: dict | None = None):
    """The lot result (banner over the refreshed card, the form still open after a refusal)."""
    with get_db().read() as session:
        details = lot_details(session, lot_number)
        change = form_context(session, lot_number, open_change) if open_change else None
        context = dict(query=details.lot.lot_number, outcome="found", details=details,
                       lot_action_banner={"kind": kind, "message": message}, lot_change=change,
                       lot_change_typed=typed or {}, **card_context(details))
        response = page_or_fragment(PAGE, "partials/lot_result.html", http_status, **context)
    if wants_fragment():
        response.headers["HX-Replace-Url"] = url_for(".show", lot_number=lot_number)
    return response
