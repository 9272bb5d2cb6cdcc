"""The line: start a production run, scan the component lots used, finish -> a new lot and its labels.

    step(session, state, scan) -> Answer          a component lot (then its quantity, and where it comes
                                                  from when that is not clear), a location for it; with
                                                  no run open, an item (its GTIN, a GS1 label with (01)
                                                  but no lot of ours, or its SKU) starts a run of it
    screen(session, state, station_id, q) -> dict the station's line, its open run, the lot just scanned
    prompt(screen) -> Answer                      what the banner says when nothing has just happened
    start / choose_source / add_component / forget_component / undo / cancel_run / finish
      (session, state, by, …) -> Answer           the page's taps; `by` is who taps, at which station

The run is in the database (services.production_runs); the state holds only the lot just scanned,
before its quantity is typed: {"run": id, "lot": number, "from": code | None} ({} when none). The
station's line is the location it stands at. Components are checked when scanned (held, expired, not
enough stock: refused at once) and consumed when the run finishes.
"""
from __future__ import annotations

from dataclasses import replace

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..ids import MAX_DIGITS, MAX_ID, parse_id
from ..models import (Item, Location, LocationKind, Lot, Printer, PrintJob, ProductionRun, ProductionRunComponent,
                      RunStatus, StationDevice)
from ..services import catalog, printing, production_runs
from ..services.actor import Actor
from ..services.errors import DomainError, NotFound
from ..services.stock import ensure_pickable
from . import Answer, Scanned, notes
from .inputs import clean_scan, parse_count, parse_qty, said
from .lookup import item_by_sku

NAME = "line"
ITEMS_SHOWN = 12


def line_at(session: Session, station_id: int | None) -> tuple[Location | None, str | None]:
    """The station's line location, or (None, why not)."""
    station = session.get(StationDevice, station_id) if station_id is not None else None
    if station is None:
        return None, "This device is not set up as a station yet — ask a supervisor (Station set-up)."
    if station.location_id is None:
        return None, f"Station {station.name} has no location — a supervisor sets its line in Station set-up."
    line = session.get(Location, station.location_id)
    if line.kind is not LocationKind.LINE:
        return None, (f"Station {station.name} stands at {line.code}, which is not a production line — "
                      f"use a line station, or ask a supervisor.")
    return line, None


def _pending(state: dict, run: ProductionRun | None) -> dict | None:
    """The lot just scanned into `run`, if any (a lot scanned into an earlier run is forgotten)."""
    if run is None or not state.get("lot") or state.get("run") != run.id:
        return None
    return state


def screen(session: Session, state: dict, station_id: int | None, q: str | None = None) -> dict:
    """What the line page shows: no line (problem), start a run (items, recent runs), or the open run."""
    line, problem = line_at(session, station_id)
    run = production_runs.open_run_at(session, line.id) if line else None
    shown = {"line": line, "problem": problem, "run": run, "q": q or "", "items": [], "parts": [],
             "pending": None, "recent": []}
    if run is not None:
        shown["item"] = session.get(Item, run.item_id)
        shown["parts"] = parts_of(session, run.id)
        pending = _pending(notes.without(state), run)
        lot = session.scalar(select(Lot).where(Lot.lot_number == pending["lot"])) if pending else None
        if lot is not None:
            places = production_runs.places(session, lot)
            taken = {p.code: production_runs.claimed(session, run, lot.id, p.location_id) for p in places}
            shown["pending"] = {**pending, "item": session.get(Item, lot.item_id), "places": places,
                                "taken": taken, "left": next((p.qty - taken[p.code] for p in places
                                                              if p.code == pending.get("from")), 0)}
    elif line is not None:
        query = select(Item).order_by(Item.sku).limit(ITEMS_SHOWN)
        if q:
            like = f"%{q.strip()}%"
            query = query.where(or_(Item.sku.ilike(like), Item.name.ilike(like)))
        shown["items"] = list(session.scalars(query))
        shown["recent"] = [(r, session.get(Item, r.item_id),
                            session.get(Lot, r.output_lot_id) if r.output_lot_id else None)
                           for r in production_runs.recent_runs(session, line.id, limit=3)]
    shown["step"] = _stage(shown)
    return shown


def parts_of(session: Session, run_id: int) -> list:
    """The run's components as the pages list them (lot, item, quantity, where from)."""
    return session.execute(
        select(ProductionRunComponent.id, ProductionRunComponent.qty, Lot.lot_number, Item.sku, Item.name, Item.unit,
               Location.code, Item.qty_decimals.label("decimals"))
        .join(Lot, Lot.id == ProductionRunComponent.lot_id).join(Item, Item.id == Lot.item_id)
        .join(Location, Location.id == ProductionRunComponent.location_id)
        .where(ProductionRunComponent.run_id == run_id).order_by(ProductionRunComponent.id)).all()


def _stage(shown: dict) -> str:
    if shown["problem"]:
        return "problem"
    if shown["run"] is None:
        return "start"
    pending = shown["pending"]
    if pending:
        return "qty" if pending.get("from") else "source"
    return "run"


def prompt(shown: dict) -> Answer:
    step = shown["step"]
    if step == "problem":
        return Answer("error", shown["problem"])
    if step == "start":
        return Answer("info", f"Line {shown['line'].code}: start a run",
                      "Tap the item you are making, or scan its barcode.")
    if step == "source":
        return Answer("info", f"Where is lot {shown['pending']['lot']} taken from?", "Tap the location.")
    if step == "qty":
        return Answer("info", f"How much of lot {shown['pending']['lot']}?", "Type it on the keypad, then OK.")
    run, item = shown["run"], shown["item"]
    if not shown["parts"]:
        return Answer("info", f"Run {run.id}: {item.sku} {item.name}", "Scan the first component lot used.")
    return Answer("info", f"Run {run.id}: {item.sku} {item.name}",
                  "Scan the next component lot, or enter how much was made and finish.")


def run_prompt(run: ProductionRun, lot: Lot | None) -> Answer:
    """What a run's own page says when nothing has just happened."""
    if lot is not None:
        return Answer("info", f"Run {run.id}: lot {lot.lot_number}", "Reprint or print more labels below.")
    return Answer("info", f"Run {run.id} is {run.status.value}.")


def _open_run(session: Session, station_id: int | None, run_id_text: str | None = None) -> ProductionRun:
    line, problem = line_at(session, station_id)
    if line is None:
        raise DomainError(problem)
    run = production_runs.open_run_at(session, line.id)
    if run is None or (run_id_text and run_id_text != str(run.id)):
        raise DomainError("This run is no longer open on the line.", code="run_not_open")
    return run


def _attempt(session: Session, work, detail: str | None = None) -> Answer:
    """`work()` in a savepoint: a refusal undoes its writes and is said in words (with `detail`)."""
    try:
        with session.begin_nested():
            return work()
    except DomainError as exc:
        return Answer("error", exc.message, detail)


# --- the scan step --------------------------------------------------------------------------------


def step(session: Session, state: dict, scan: Scanned) -> Answer:
    """One scan of the line page (or of its station's own scanner)."""
    return notes.dropped(state, _step(session, notes.without(state), scan))


def _step(session: Session, state: dict, scan: Scanned) -> Answer:
    res, by = scan.resolution, scan.actor
    line, _ = line_at(session, by.station_id)
    if line is None or production_runs.open_run_at(session, line.id) is None:
        item_id = _item_to_start(session, res, scan.raw)
        if item_id is not None:  # a scanned item starts a run of it (a station that is no line says why not)
            return _attempt(session, lambda: _start(session, by, session.get(Item, item_id)))
    if not res.ok:
        return Answer("error", res.message, "Nothing was added to the run.")
    records = res.records or {}
    if res.kind == "location":
        return _location(session, state, by, records["location"]["code"])
    if records.get("lot") is None:
        item = records.get("item")
        words = f"That is the item {item['sku']} {item['name']}, not one of its lots." if item else res.message
        return Answer("error", words, "Scan the component's lot label.")
    return _component_lot(session, by, records["lot"]["lot_number"])


def _item_to_start(session: Session, res, raw: str) -> int | None:
    """The item a scan names when it could start a run: a GTIN, a GS1 label with (01) and no lot of
    ours (a lot not received yet is still that item), or a bare SKU (the resolver knows no SKUs)."""
    records = res.records or {}
    if records.get("lot") or records.get("unit"):
        return None
    item = records.get("item")
    if item and (res.ok or res.error == "lot_not_received"):
        return item["id"]
    return item_by_sku(session, clean_scan(raw)) if not res.ok else None  # the lookup page's SKU match


def _start(session: Session, by: Actor, item: Item | None) -> Answer:
    line, problem = line_at(session, by.station_id)
    if line is None:
        return Answer("error", problem)
    if item is None:
        raise NotFound("That item is gone — tap the item you are making.", code="unknown_item")
    run = production_runs.start(session, item=item, location=line, by=by)
    session.flush()
    return Answer("ok", f"Run {run.id} started: {item.sku} {item.name} on {line.code}.",
                  "Scan the first component lot used.", state={})


def _component_lot(session: Session, by: Actor, number: str) -> Answer:
    try:
        run = _open_run(session, by.station_id)
    except DomainError as exc:
        if exc.code == "run_not_open":
            return Answer("error", f"Lot {number} — but no run is open on this line.",
                          "Start a run first: tap the item you are making.")
        return Answer("error", exc.message)
    lot = catalog.lot_by_number(session, number)
    item = session.get(Item, lot.item_id)
    try:
        ensure_pickable(lot, verb="used")
        source = production_runs.component_source(session, run, lot)
    except DomainError as exc:
        if exc.code != "choose_location":
            return Answer("error", exc.message, "Nothing was added to the run.")
        return Answer("ok", f"Lot {number}: {item.sku} {item.name}.",
                      exc.message.split(" — ")[0] + ": tap where it is taken from.",
                      state={"run": run.id, "lot": number, "from": None})
    here = next((p.qty for p in production_runs.places(session, lot) if p.location_id == source.id), 0) - \
        production_runs.claimed(session, run, lot.id, source.id)
    if here <= 0:
        return Answer("error", f"All of lot {number} at {source.code} is already in this run.", "Nothing was added.")
    return Answer("ok", f"Lot {number}: {item.sku} {item.name}, {here} {item.unit} at {source.code}.",
                  "How much was used? Type it, then OK.", state={"run": run.id, "lot": number, "from": source.code})


def _location(session: Session, state: dict, by: Actor, code: str) -> Answer:
    """A location scanned or tapped: where the lot just scanned is taken from."""
    try:
        run = _open_run(session, by.station_id)
    except DomainError:
        run = None
    pending = _pending(state, run)
    if pending is None or pending.get("from"):
        return Answer("error", f"Location {code} — scan a component lot here.",
                      "A location is scanned only to say where a lot is taken from.")
    lot = catalog.lot_by_number(session, pending["lot"])
    if code not in {p.code for p in production_runs.places(session, lot)}:
        return Answer("error", f"Lot {pending['lot']} is not at {code}.", "Tap one of the places shown.")
    return Answer("ok", f"Lot {pending['lot']} from {code}.", "How much was used? Type it, then OK.",
                  state={**pending, "from": code})


# --- the taps -------------------------------------------------------------------------------------


def _next(session: Session, state: dict, by: Actor) -> Answer:
    """A tap that has nothing to say: the prompt of where it leads, with that state."""
    return replace(prompt(screen(session, state, by.station_id)), state=state)


def start(session: Session, state: dict, by: Actor, sku: str) -> Answer:
    """Start a run of the item tapped (by SKU) on this station's line."""
    return _attempt(session, lambda: _start(session, by, catalog.item_by_sku(session, sku or "")))


def choose_source(session: Session, state: dict, by: Actor, code: str) -> Answer:
    """The location the scanned lot is taken from (tapped)."""
    answer = _attempt(session, lambda: _location(session, notes.without(state), by, code))
    return answer if answer.kind == "error" else _next(session, answer.state, by)


def add_component(session: Session, state: dict, by: Actor, run_id_text: str | None, typed: str | None) -> Answer:
    """The quantity of the scanned lot, typed: it joins the run (OK = confirm)."""
    state = notes.without(state)

    def add() -> Answer:
        qty = parse_qty(typed, "quantity used")
        run = _open_run(session, by.station_id, run_id_text)
        pending = _pending(state, run)
        if pending is None or not pending.get("from"):
            raise DomainError("Scan the component lot first.", code="no_lot")
        if qty is None:
            raise DomainError("Type how much was used first, then OK.", code="no_qty")
        lot = catalog.lot_by_number(session, pending["lot"])
        source = catalog.location_by_code(session, pending["from"])
        production_runs.add_component(session, run, lot, qty, location=source, by=replace(by, raw_scan=lot.lot_number))
        item = session.get(Item, lot.item_id)
        return Answer("ok", f"Added: {said(qty, item.qty_decimals, item.unit)} of lot {lot.lot_number} from {source.code}.",
                      "Scan the next component lot, or finish the run.", state={})
    return _attempt(session, add, "Type the quantity again, or CANCEL.")


def forget_component(session: Session, state: dict, by: Actor) -> Answer:
    """Forget the scanned lot (CMD:CANCEL)."""
    if notes.without(state):
        return Answer("info", "Lot not added.", "Scan the next component lot, or finish the run.", state={})
    return _next(session, {}, by)


def undo(session: Session, state: dict, by: Actor, run_id_text: str | None, component_text: str | None) -> Answer:
    """Take the last component (or the one named) back (CMD:UNDO)."""
    def take_back() -> Answer:
        run = _open_run(session, by.station_id, run_id_text)
        part = production_runs.remove_component(session, run, parse_id(
            component_text, what="component",
            message="That component is not part of this run — reload the page and try again."))
        number = session.get(Lot, part.lot_id).lot_number
        return Answer("ok", f"Taken back: {part.qty} of lot {number}.", "It is not part of the run any more.")
    return _attempt(session, take_back)


def cancel_run(session: Session, state: dict, by: Actor, run_id_text: str | None) -> Answer:
    """Stop the run; nothing was consumed."""
    def cancel() -> Answer:
        run = _open_run(session, by.station_id, run_id_text)
        production_runs.cancel(session, run, by=by)
        return Answer("info", f"Run {run.id} cancelled — nothing was used or made.",
                      "Start the next run when ready.", state={})
    return _attempt(session, cancel)


def finish(session: Session, state: dict, by: Actor, run_id_text: str | None, typed_qty: str | None,
           typed_copies: str | None) -> Answer:
    """How much was made: the new lot, linked to its components, its labels queued to the station's
    printer. data={"run": id} on success: the run's page is next; a second tap on Finish goes there too,
    with "again" (what the first tap said stands)."""
    run_id_text = run_id_text or ""

    def make() -> Answer:
        qty = parse_qty(typed_qty, "quantity made")
        copies = parse_count(typed_copies or "1", "number of labels") or 1
        if run_id_text.isascii() and run_id_text.isdigit() and len(run_id_text) <= MAX_DIGITS \
                and int(run_id_text) <= MAX_ID:
            done = session.get(ProductionRun, int(run_id_text))
            if done is not None and done.status is RunStatus.FINISHED:  # a second tap on Finish
                return replace(run_prompt(done, session.get(Lot, done.output_lot_id)),
                               data={"run": done.id, "again": True})
        run = _open_run(session, by.station_id, run_id_text)
        if qty is None:
            raise DomainError("Type how much was made first, then Finish.", code="no_qty")
        lot = production_runs.finish(session, run, qty, by=by)
        job = printing.request_labels(session, lot.lot_number, copies=copies, station=by.station_id,
                                      operator=by.operator_id, request_id=f"run-{run.id}-finish")
        item = session.get(Item, run.item_id)
        printer = session.get(Printer, job.printer_id).name
        return Answer("ok", f"Run {run.id} finished: lot {lot.lot_number}, {said(qty, item.qty_decimals, item.unit)} of {item.sku}.",
                      f"{copies} label{'s' if copies != 1 else ''} sent to {printer}.", state={},
                      data={"run": run.id})
    return _attempt(session, make, "Nothing was used or made. Put it right, then finish again.")


# --- a finished run's labels (its own page) ------------------------------------------------------------


def reprint(session: Session, state: dict, by: Actor, run_id: int, request_id: str | None) -> Answer:
    """The run's last label job again (CMD:REPRINT). data={"run": id}: its page is next."""
    def again() -> Answer:
        run = production_runs.get_run(session, run_id)
        last = session.scalar(select(PrintJob).where(PrintJob.lot_id == run.output_lot_id)
                              .order_by(PrintJob.id.desc()).limit(1)) if run.output_lot_id else None
        if last is None:
            raise NotFound(f"Run {run_id} has no label to print again.", code="no_label")
        job = printing.reprint(session, last.id, station=by.station_id, operator=by.operator_id,
                               request_id=request_id)
        return Answer("ok", f"Printing again: job {job.id}.")
    return replace(_attempt(session, again), data={"run": run_id})


def print_more(session: Session, state: dict, by: Actor, run_id: int, typed_copies: str | None,
               request_id: str | None) -> Answer:
    """More labels of the run's lot. data={"run": id}: its page is next."""
    def more() -> Answer:
        copies = parse_count(typed_copies or "1", "number of labels") or 1
        run = production_runs.get_run(session, run_id)
        if run.output_lot_id is None:
            raise NotFound(f"Run {run_id} made no lot to label.", code="no_label")
        lot = session.get(Lot, run.output_lot_id)
        job = printing.request_labels(session, lot.lot_number, copies=copies, station=by.station_id,
                                      operator=by.operator_id, request_id=request_id)
        return Answer("ok", f"{copies} more label{'s' if copies != 1 else ''} of lot {lot.lot_number}: job {job.id}.")
    return replace(_attempt(session, more), data={"run": run_id})
