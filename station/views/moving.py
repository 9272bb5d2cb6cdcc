"""Put-away / move: scan a pallet or a lot, say how many (a lot), scan where it goes -> moved.

    GET  /move              the page: the move being made, one step at a time
    POST /move/scan         a wedge scan (station.js: code, client_id, station, source) -> its banner
                            and the move's next step, as one .scan-result (station.js shows it)
    POST /move/source       a lot in several places: the location it is taken from (tap)
    POST /move/qty          how many of the lot (keypad; OK = data-command="confirm")
    POST /move/part         only part of the pallet: ask how many
    POST /move/cancel       start again, nothing moved (data-command="cancel": CMD:CANCEL)

The move being made lives in the session cookie (the scanned pallet or lot, the source, the
quantity) until the destination is scanned; the move itself is services.putaway.move_goods, which
writes the ledger row with the stock change. Taps are plain forms that come back to the page
(POST, redirect, GET), so they work the same whether the step arrived by page load or by a scan.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, make_response, redirect, render_template, request, session, url_for
from sqlalchemy import select

from .. import get_db
from ..models import HandlingUnit, Item, Location, Lot
from ..scanning import ScanContext
from ..services import catalog, putaway, scans
from ..services.errors import DomainError, NotFound
from . import floor
from .floor import requires

bp = Blueprint("putaway", __name__, url_prefix="/move")

STATE_KEY = "move"
NOTE_KEY = "move_note"
MAX_CODE = 4096
MAX_QTY = 100_000_000


# --- shared with the line page ------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A banner: ok (green), error (red), info (neutral), warn (amber)."""

    kind: str
    message: str
    detail: str | None = None


def ingest(workflow: str):
    """The wedge scan in this request, resolved for `workflow` and logged: (outcome, None), or
    (None, Answer) when the request itself is wrong."""
    code = request.form.get("code")
    if not isinstance(code, str) or not code.strip("\r\n\t "):
        return None, Answer("error", "Nothing scanned — scan the label again.")
    if len(code) > MAX_CODE:
        return None, Answer("error", "That is far too long to be a barcode — scan the label again.")
    source = request.form.get("source") if request.form.get("source") in ("wedge", "manual") else "wedge"
    station, operator = floor.current_station(), floor.current_operator()
    try:
        outcome = scans.ingest(get_db(), code, source=source, station_id=station.id if station else None,
                               operator_id=operator.id if operator else None,
                               client_id=request.form.get("client_id") or None,
                               context=ScanContext(workflow=workflow),
                               bounce_ms=current_app.config["SCAN_BOUNCE_MS"])
    except scans.InvalidClientId as exc:
        return None, Answer("error", str(exc))
    return outcome, None


def parse_qty(text: str | None, what: str = "quantity") -> int | None:
    """A typed whole number > 0, or None for nothing typed; DomainError for anything else."""
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0 or int(text) > MAX_QTY:
        from ..services.errors import Invalid

        raise Invalid(f"The {what} must be a whole number greater than 0 (got {text[:12]!r}).",
                      code="invalid_qty")
    return int(text)


def scan_answer(template: str, answer: Answer, scan_id: int | None, status: int = 200, **context):
    """One .scan-result: the banner and the step, for station.js to show (and sound)."""
    response = make_response(render_template(template, answer=answer, scan_id=scan_id, **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the move in the session ----------------------------------------------------------------------


def _state() -> dict:
    state = session.get(STATE_KEY)
    return dict(state) if isinstance(state, dict) else {}


def _save(state: dict) -> None:
    if state:
        session[STATE_KEY] = state
    else:
        session.pop(STATE_KEY, None)


def _note(kind: str, message: str, detail: str | None = None) -> None:
    session[NOTE_KEY] = [kind, message, detail]


@dataclass
class Goods:
    """What is being moved, as the page shows it."""

    sscc: str | None
    lot_number: str
    sku: str
    name: str
    unit_name: str  # "ea", "kg"
    status: str
    at: str | None  # the pallet's location
    on_pallet: int
    places: list[putaway.Place]


def _step(state: dict) -> str:
    if not state:
        return "what"
    if state.get("sscc") and not state.get("part"):
        return "dest"
    if state.get("lot") and not state.get("from"):
        return "source"
    if not state.get("qty"):
        return "qty"
    return "dest"


def _goods(s, state: dict) -> Goods | None:
    """The scanned pallet or lot as it is now (None when it is gone: the state is dropped)."""
    if state.get("sscc"):
        unit = s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == state["sscc"]))
        if unit is None or unit.location_id is None:
            return None
        lot, qty = unit.lot, putaway.unit_qty(s, unit)
        at = s.get(Location, unit.location_id).code
    elif state.get("lot"):
        lot = s.scalar(select(Lot).where(Lot.lot_number == state["lot"]))
        if lot is None:
            return None
        qty, at = 0, None
    else:
        return None
    item = s.get(Item, lot.item_id)
    return Goods(state.get("sscc"), lot.lot_number, item.sku, item.name, item.unit, lot.status.value, at, qty,
                 putaway.places(s, lot))


def _available(goods: Goods, state: dict) -> int:
    if goods.sscc:
        return goods.on_pallet
    return next((p.qty for p in goods.places if p.code == state.get("from")), 0)


def _context(state: dict) -> dict:
    with get_db().read() as s:
        goods = _goods(s, state)
    if goods is None and state:
        state = {}
        _save(state)
    return {"state": state, "step": _step(state), "goods": goods,
            "available": _available(goods, state) if goods else 0, "station": floor.current_station()}


def _prompt(step: str, goods: Goods | None, state: dict) -> Answer:
    """What the banner says when nothing has just happened: the step to do."""
    if step == "what":
        return Answer("info", "Scan a pallet or a lot", "Its label: the pallet's SSCC or our lot label. "
                                                         "Then scan where it goes.")
    what = _what(goods, state)
    if step == "source":
        return Answer("info", f"Where is {what} taken from?", "Tap the location, or scan its barcode.")
    if step == "qty":
        return Answer("info", f"How many of {what}?", "Type it on the keypad, then OK.")
    return Answer("info", f"Scan where {what} goes", "The destination location's barcode.")


def _what(goods: Goods | None, state: dict) -> str:
    if goods is None:
        return "it"
    if goods.sscc and not state.get("part"):
        return f"pallet {goods.sscc}"
    qty = f"{state['qty']} {goods.unit_name} of " if state.get("qty") else ""
    return f"{qty}lot {goods.lot_number}"


# --- the page -----------------------------------------------------------------------------------


@bp.get("")
@requires("putaway")
def index():
    context = _context(_state())
    note = session.pop(NOTE_KEY, None)
    answer = Answer(*note) if isinstance(note, list) and len(note) == 3 else \
        _prompt(context["step"], context["goods"], context["state"])
    response = make_response(render_template("move.html", answer=answer, scan_id=None, **context))
    response.headers["Cache-Control"] = "no-store"
    return response


def _back():
    return redirect(url_for(".index"), 303)


@bp.post("/cancel")
@requires("putaway")
def cancel():
    if _state():
        _note("info", "Cancelled — nothing was moved.", "Scan the next pallet or lot.")
    _save({})
    return _back()


@bp.post("/part")
@requires("putaway")
def part():
    state = _state()
    if state.get("sscc"):
        state.update(part=True, qty=None)
        _save(state)
    return _back()


@bp.post("/source")
@requires("putaway")
def choose_source():
    state = _state()
    code = request.form.get("from", "")
    with get_db().read() as s:
        goods = _goods(s, state)
    if goods is None or goods.sscc:
        return _back()
    if code not in {p.code for p in goods.places}:
        _note("error", f"Lot {goods.lot_number} is not at {code[:30]}.", "Tap one of the places shown.")
    else:
        state.update({"from": code, "qty": None})
        _save(state)
    return _back()


@bp.post("/qty")
@requires("putaway")
def choose_qty():
    state = _state()
    with get_db().read() as s:
        goods = _goods(s, state)
    if goods is None:
        return _back()
    try:
        qty = parse_qty(request.form.get("qty"))
    except DomainError as exc:
        _note("error", exc.message, "Type the quantity again.")
        return _back()
    available = _available(goods, {**state})
    if qty is None:
        _note("error", "Type how many first, then OK.")
    elif qty > available:
        where = f"on pallet {goods.sscc}" if goods.sscc else f"at {state.get('from')}"
        _note("error", f"Only {available} {goods.unit_name} of lot {goods.lot_number} {where}; {qty} typed.",
              "Type the quantity again.")
    else:
        state["qty"] = qty
        _save(state)
    return _back()


# --- scans --------------------------------------------------------------------------------------


@bp.post("/scan")
@requires("putaway")
def scan():
    outcome, problem = ingest("putaway")
    state = _state()
    if problem is not None:
        return _scan_answer(problem, None, state, 400)
    res = outcome.resolution
    if outcome.ignored:
        return _scan_answer(Answer("info", "The same label again — scanned once only."), outcome.scan_id, state)
    if outcome.retried:  # the answer to a scan already acted on: show where the move is now
        with get_db().read() as s:
            goods = _goods(s, state)
        return _scan_answer(_prompt(_step(state), goods, state), outcome.scan_id, state)
    if not res.ok:
        return _scan_answer(Answer("error", res.message, _prompt(_step(state), None, state).message
                                   if state else None), outcome.scan_id, state)
    records = res.records or {}
    if records.get("unit"):
        answer, state = _pallet(records)
    elif records.get("lot") and res.kind in ("lot", "gs1"):
        answer, state = _lot(records["lot"]["lot_number"], state)
    elif res.kind == "location":
        answer, state = _location(records["location"]["code"], state, res.code)
    elif res.kind in ("gtin", "gs1") and records.get("item"):
        item = records["item"]
        answer = Answer("error", f"That is the barcode of the item {item['sku']} {item['name']}, not of one lot.",
                        "Scan the pallet label (SSCC) or the lot label.")
    else:
        answer = Answer("error", f"{res.message}", "Scan a pallet, a lot or a location here.")
    _save(state)
    return _scan_answer(answer, outcome.scan_id, state)


def _scan_answer(answer: Answer, scan_id: int | None, state: dict, status: int = 200):
    return scan_answer("partials/move_scan.html", answer, scan_id, status, **_context(state))


def _pallet(records: dict) -> tuple[Answer, dict]:
    unit, lot, item = records["unit"], records["lot"], records["item"]
    if not unit.get("qty"):
        return Answer("error", f"Pallet {unit['sscc']} is empty — there is nothing on it to move."), {}
    where = f" at {unit['location']}" if unit.get("location") else ""
    return (Answer("ok", f"Pallet {unit['sscc']}: {unit['qty']} {item['unit']} of {item['sku']}, lot "
                         f"{lot['lot_number']}{where}.", "Now scan where it goes."),
            {"sscc": unit["sscc"]})


def _lot(number: str, _old: dict) -> tuple[Answer, dict]:
    with get_db().read() as s:
        try:
            lot = catalog.lot_by_number(s, number)
        except NotFound as exc:
            return Answer("error", exc.message), {}
        found = putaway.places(s, lot)
        item = s.get(Item, lot.item_id)
        status, sku, unit_name = lot.status.value, item.sku, item.unit
    if not found:
        return Answer("error", f"Lot {number} has no stock anywhere — there is nothing to move."), {}
    blocked = "" if status == "available" else f" It is {status.upper()}: it may be moved, not used."
    if len(found) == 1:
        place = found[0]
        return (Answer("ok", f"Lot {number}: {place.qty} {unit_name} of {sku} at {place.code}.",
                       f"How many go? Type it, then OK.{blocked}"),
                {"lot": number, "from": place.code})
    where = ", ".join(f"{p.code} ({p.qty})" for p in found)
    return (Answer("ok", f"Lot {number} of {sku} is in {len(found)} places.",
                   f"{where}. Tap where it is taken from, or scan that location.{blocked}"),
            {"lot": number})


def _location(code: str, state: dict, raw: str) -> tuple[Answer, dict]:
    step = _step(state)
    if step == "what":
        return Answer("error", f"Location {code} — but scan what to move first.",
                      "Scan the pallet or the lot, then where it goes."), state
    if step == "source":
        with get_db().read() as s:
            goods = _goods(s, state)
        if goods is None or code not in {p.code for p in goods.places}:
            where = ", ".join(p.code for p in goods.places) if goods else "nowhere"
            return Answer("error", f"Lot {state.get('lot')} is not at {code}.",
                          f"It is at {where}: scan one of those, or tap it."), state
        state = {**state, "from": code}
        return Answer("ok", f"From {code}.", "How many go? Type it, then OK."), state
    if step == "qty":
        return Answer("error", "Type how many first, then OK — then scan where it goes.",
                      f"You scanned location {code}."), state
    # step == "dest": move it
    try:
        with get_db().write() as s:
            dest = catalog.location_by_code(s, code)
            unit = s.scalar(select(HandlingUnit).where(HandlingUnit.sscc == state["sscc"])) \
                if state.get("sscc") else None
            lot = catalog.lot_by_number(s, state["lot"]) if state.get("lot") else None
            source = catalog.location_by_code(s, state["from"]) if state.get("from") else None
            movement = putaway.move_goods(s, dest=dest, unit=unit, lot=lot if unit is None else None,
                                          qty=state.get("qty"), source=source, by=floor.actor(raw[:400]))
            s.flush()
            moved = s.get(Lot, movement.lot_id)
            item = s.get(Item, moved.item_id)
            origin = s.get(Location, movement.from_location_id).code
            words = (f"Moved: {movement.qty} {item.unit} of {item.sku}, lot {moved.lot_number}, "
                     f"{origin} → {code}.")
            detail = (f"Pallet {unit.sscc}. " if unit is not None else "") + "Scan the next pallet or lot."
    except DomainError as exc:
        return Answer("error", exc.message, "Nothing was moved. Scan another location, or CANCEL."), state
    return Answer("ok", words, detail), {}
