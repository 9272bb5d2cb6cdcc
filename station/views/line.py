"""The line: start a production run, scan the component lots used, finish -> a new lot and its labels.

    GET  /line                      the station's line: its open run, or "start a run" (items, ?q=)
    POST /line/start                start a run of an item (sku) on this station's line
    POST /line/scan                 a wedge scan: a component lot (then its quantity on the keypad, and
                                    where it comes from when that is not clear) -> banner + the run;
                                    with no run open, an item (its GTIN, a GS1 label with (01) but no
                                    lot of ours, or its SKU) starts a run of it, as the tap does
    POST /line/source               the location the scanned lot is taken from (tap)
    POST /line/component            the quantity of the scanned lot: it joins the run (OK = confirm)
    POST /line/component/cancel     forget the scanned lot (CMD:CANCEL)
    POST /line/undo                 take the last component back (CMD:UNDO)
    POST /line/finish               qty made, copies: the new lot, linked to its components, its labels
                                    queued to the station's printer (CMD:CONFIRM) -> the run's page
    POST /line/cancel-run           stop the run; nothing was consumed
    GET  /line/runs/<id>            a run: its lot, components, label jobs (live); reprint, print more
    POST /line/runs/<id>/reprint    the last label job again (CMD:REPRINT)
    POST /line/runs/<id>/print      more labels (copies)

The run is in the database (services.production_runs); only the lot just scanned, before its
quantity is typed, is kept in the session cookie. Components are checked when scanned (held,
expired, not enough stock: refused at once) and consumed when the run finishes.
"""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, make_response, redirect, render_template, request, session, url_for
from sqlalchemy import func, or_, select

from .. import get_db
from ..ids import MAX_DIGITS, MAX_ID, parse_id
from ..models import (Item, Location, LocationKind, Lot, Operator, Printer, PrintJob, ProductionRun,
                      ProductionRunComponent, RunStatus)
from ..services import catalog, printing, production_runs
from ..services.errors import DomainError, NotFound
from ..services.stock import ensure_pickable
from . import floor
from .common import clean_scan
from .floor import requires
from .moving import Answer, ingest, parse_qty, scan_answer
from .printers import _job_context

bp = Blueprint("line", __name__, url_prefix="/line")

PENDING_KEY = "line_pending"  # {"run": id, "lot": number, "from": code | None}
NOTE_KEY = "line_note"
ITEMS_SHOWN = 12


def _note(kind: str, message: str, detail: str | None = None) -> None:
    session[NOTE_KEY] = [kind, message, detail]


def _take_note() -> Answer | None:
    note = session.pop(NOTE_KEY, None)
    return Answer(*note) if isinstance(note, list) and len(note) == 3 else None


def _pending(run: ProductionRun | None) -> dict | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or run is None or pending.get("run") != run.id:
        return None
    return pending


def _line(s):
    """This station's line location, or (None, why not)."""
    station = floor.current_station()
    if station is None:
        return None, "This device is not set up as a station yet — ask a supervisor (Station set-up)."
    if station.location_id is None:
        return None, f"Station {station.name} has no location — a supervisor sets its line in Station set-up."
    line = s.get(Location, station.location_id)
    if line.kind is not LocationKind.LINE:
        return None, (f"Station {station.name} stands at {line.code}, which is not a production line — "
                      f"use a line station, or ask a supervisor.")
    return line, None


def _context(q: str | None = None) -> dict:
    station = floor.current_station()
    with get_db().read() as s:
        line, problem = _line(s)
        run = production_runs.open_run_at(s, line.id) if line else None
        context = {"station": station, "line": line, "problem": problem, "run": run, "q": q or "",
                   "items": [], "parts": [], "pending": None, "recent": []}
        if run is not None:
            context["item"] = s.get(Item, run.item_id)
            context["parts"] = _parts(s, run.id)
            pending = _pending(run)
            if pending:
                lot = s.scalar(select(Lot).where(Lot.lot_number == pending["lot"]))
                if lot is not None:
                    item = s.get(Item, lot.item_id)
                    places = production_runs.places(s, lot)
                    taken = {p.code: production_runs.claimed(s, run, lot.id, p.location_id) for p in places}
                    context["pending"] = {**pending, "item": item, "places": places, "taken": taken,
                                          "left": next((p.qty - taken[p.code] for p in places
                                                        if p.code == pending.get("from")), 0)}
            context["finish_token"] = uuid.uuid4().hex
        elif line is not None:
            query = select(Item).order_by(Item.sku).limit(ITEMS_SHOWN)
            if q:
                like = f"%{q.strip()}%"
                query = query.where(or_(Item.sku.ilike(like), Item.name.ilike(like)))
            context["items"] = list(s.scalars(query))
            context["recent"] = [(r, s.get(Item, r.item_id), s.get(Lot, r.output_lot_id) if r.output_lot_id else None)
                                 for r in production_runs.recent_runs(s, line.id, limit=3)]
        s.expunge_all()  # the rows stay as read for the template (ending a read rolls back, expiring them)
    context["step"] = _step(context)
    return context


def _parts(s, run_id: int) -> list:
    return s.execute(
        select(ProductionRunComponent.id, ProductionRunComponent.qty, Lot.lot_number, Item.sku, Item.name, Item.unit,
               Location.code)
        .join(Lot, Lot.id == ProductionRunComponent.lot_id).join(Item, Item.id == Lot.item_id)
        .join(Location, Location.id == ProductionRunComponent.location_id)
        .where(ProductionRunComponent.run_id == run_id).order_by(ProductionRunComponent.id)).all()


def _step(context: dict) -> str:
    if context["problem"]:
        return "problem"
    if context["run"] is None:
        return "start"
    pending = context["pending"]
    if pending:
        return "qty" if pending.get("from") else "source"
    return "run"


def _prompt(context: dict) -> Answer:
    step = context["step"]
    if step == "problem":
        return Answer("error", context["problem"])
    if step == "start":
        return Answer("info", f"Line {context['line'].code}: start a run",
                      "Tap the item you are making, or scan its barcode.")
    if step == "source":
        return Answer("info", f"Where is lot {context['pending']['lot']} taken from?", "Tap the location.")
    if step == "qty":
        p = context["pending"]
        return Answer("info", f"How much of lot {p['lot']}?", "Type it on the keypad, then OK.")
    run, item = context["run"], context["item"]
    if not context["parts"]:
        return Answer("info", f"Run {run.id}: {item.sku} {item.name}", "Scan the first component lot used.")
    return Answer("info", f"Run {run.id}: {item.sku} {item.name}",
                  "Scan the next component lot, or enter how much was made and finish.")


def _page(template: str = "line.html", status: int = 200, **extra):
    context = _context(request.args.get("q"))
    answer = _take_note() or _prompt(context)
    response = make_response(render_template(template, answer=answer, scan_id=None, **context, **extra), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _back():
    return redirect(url_for(".index"), 303)


# --- the page -------------------------------------------------------------------------------------


@bp.get("")
@requires("line")
def index():
    return _page()


@bp.post("/start")
@requires("line")
def start():
    answer = _start_run(sku=request.form.get("item", ""))
    _note(answer.kind, answer.message, answer.detail)
    return _back()


def _start_run(*, sku: str | None = None, item_id: int | None = None, raw: str | None = None) -> Answer:
    """Start a run of the item (by SKU or id) on this station's line: the tap and the item scan."""
    try:
        with get_db().write() as s:
            line, problem = _line(s)
            if line is None:
                return Answer("error", problem)
            item = s.get(Item, item_id) if item_id is not None else catalog.item_by_sku(s, sku or "")
            if item is None:
                raise NotFound("That item is gone — tap the item you are making.", code="unknown_item")
            run = production_runs.start(s, item=item, location=line, by=floor.actor(raw))
            s.flush()
            words = f"Run {run.id} started: {item.sku} {item.name} on {line.code}."
    except DomainError as exc:
        return Answer("error", exc.message)
    return Answer("ok", words, "Scan the first component lot used.")


def _item_to_start(res, code: str) -> int | None:
    """The item a scan names when it could start a run: a GTIN, a GS1 label with (01) and no lot of
    ours (a lot not received yet is still that item), or a bare SKU; None for anything else."""
    records = res.records or {}
    if records.get("lot") or records.get("unit"):
        return None
    item = records.get("item")
    if item and (res.ok or res.error == "lot_not_received"):
        return item["id"]
    if not res.ok:
        from .lots import item_by_sku  # the lookup page's SKU match: the resolver knows no SKUs

        return item_by_sku(clean_scan(code))
    return None


def _open_run(s, run_id_text: str | None = None) -> ProductionRun:
    line, problem = _line(s)
    if line is None:
        raise DomainError(problem)
    run = production_runs.open_run_at(s, line.id)
    if run is None or (run_id_text and run_id_text != str(run.id)):
        raise DomainError("This run is no longer open on the line.", code="run_not_open")
    return run


@bp.post("/scan")
@requires("line")
def scan():
    outcome, problem = ingest("line")
    if problem is not None:
        return _scan_answer(problem, None, 400)
    res = outcome.resolution
    if outcome.ignored:
        return _scan_answer(Answer("info", "The same label again — scanned once only."), outcome.scan_id)
    if outcome.retried:
        return _scan_answer(_prompt(_context()), outcome.scan_id)
    code = request.form.get("code", "")
    if _no_run_open():
        item_id = _item_to_start(res, code)
        if item_id is not None:
            return _scan_answer(_start_run(item_id=item_id, raw=code[:400]), outcome.scan_id)
    if not res.ok:
        return _scan_answer(Answer("error", res.message, "Nothing was added to the run."), outcome.scan_id)
    records = res.records or {}
    lot_record = records.get("lot")
    if res.kind == "location":
        return _scan_answer(_location(records["location"]["code"]), outcome.scan_id)
    if lot_record is None:
        item = records.get("item")
        words = (f"That is the item {item['sku']} {item['name']}, not one of its lots." if item else res.message)
        return _scan_answer(Answer("error", words, "Scan the component's lot label."), outcome.scan_id)
    return _scan_answer(_component_lot(lot_record["lot_number"]), outcome.scan_id)


def _no_run_open() -> bool:
    """True unless this station's line has an open run: a scanned item may start one (and where the
    station is no line, the start says why not)."""
    with get_db().read() as s:
        line, _ = _line(s)
        return line is None or production_runs.open_run_at(s, line.id) is None


def _scan_answer(answer: Answer, scan_id: int | None, status: int = 200):
    return scan_answer("partials/line_scan.html", answer, scan_id, status, **_context())


def _component_lot(number: str) -> Answer:
    with get_db().read() as s:
        try:
            run = _open_run(s)
        except DomainError as exc:
            if exc.code == "run_not_open":
                return Answer("error", f"Lot {number} — but no run is open on this line.",
                              "Start a run first: tap the item you are making.")
            return Answer("error", exc.message)
        lot = catalog.lot_by_number(s, number)
        item = s.get(Item, lot.item_id)
        try:
            ensure_pickable(lot, verb="used")
            source = production_runs.component_source(s, run, lot)
        except DomainError as exc:
            if exc.code != "choose_location":
                return Answer("error", exc.message, "Nothing was added to the run.")
            session[PENDING_KEY] = {"run": run.id, "lot": number, "from": None}
            return Answer("ok", f"Lot {number}: {item.sku} {item.name}.",
                          exc.message.split(" — ")[0] + ": tap where it is taken from.")
        left = production_runs.places(s, lot)
        here = next((p.qty for p in left if p.location_id == source.id), 0) - \
            production_runs.claimed(s, run, lot.id, source.id)
        if here <= 0:
            return Answer("error", f"All of lot {number} at {source.code} is already in this run.",
                          "Nothing was added.")
        session[PENDING_KEY] = {"run": run.id, "lot": number, "from": source.code}
        return Answer("ok", f"Lot {number}: {item.sku} {item.name}, {here} {item.unit} at {source.code}.",
                      "How much was used? Type it, then OK.")


def _location(code: str) -> Answer:
    with get_db().read() as s:
        try:
            run = _open_run(s)
        except DomainError:
            run = None
        pending = _pending(run)
        if pending is None or pending.get("from"):
            return Answer("error", f"Location {code} — scan a component lot here.",
                          "A location is scanned only to say where a lot is taken from.")
        lot = catalog.lot_by_number(s, pending["lot"])
        places = {p.code for p in production_runs.places(s, lot)}
        pending = dict(pending)
    if code not in places:
        return Answer("error", f"Lot {pending['lot']} is not at {code}.", "Tap one of the places shown.")
    session[PENDING_KEY] = {**pending, "from": code}
    return Answer("ok", f"Lot {pending['lot']} from {code}.", "How much was used? Type it, then OK.")


@bp.post("/source")
@requires("line")
def choose_source():
    code = request.form.get("from", "")
    answer = _location(code)
    if answer.kind == "error":
        _note(answer.kind, answer.message, answer.detail)
    return _back()


@bp.post("/component")
@requires("line")
def add_component():
    try:
        qty = parse_qty(request.form.get("qty"), "quantity used")
        with get_db().write() as s:
            run = _open_run(s, request.form.get("run"))
            pending = _pending(run)
            if pending is None or not pending.get("from"):
                raise DomainError("Scan the component lot first.", code="no_lot")
            if qty is None:
                raise DomainError("Type how much was used first, then OK.", code="no_qty")
            lot = catalog.lot_by_number(s, pending["lot"])
            source = catalog.location_by_code(s, pending["from"])
            production_runs.add_component(s, run, lot, qty, location=source, by=floor.actor(pending["lot"]))
            unit = s.get(Item, lot.item_id).unit
    except DomainError as exc:
        _note("error", exc.message, "Type the quantity again, or CANCEL.")
        return _back()
    session.pop(PENDING_KEY, None)
    _note("ok", f"Added: {qty} {unit} of lot {lot.lot_number} from {source.code}.",
          "Scan the next component lot, or finish the run.")
    return _back()


@bp.post("/component/cancel")
@requires("line")
def forget_component():
    if session.pop(PENDING_KEY, None):
        _note("info", "Lot not added.", "Scan the next component lot, or finish the run.")
    return _back()


@bp.post("/undo")
@requires("line")
def undo():
    try:
        with get_db().write() as s:
            run = _open_run(s, request.form.get("run"))
            part = production_runs.remove_component(s, run, parse_id(
                request.form.get("component"), what="component",
                message="That component is not part of this run — reload the page and try again."))
            number = s.get(Lot, part.lot_id).lot_number
            words = f"Taken back: {part.qty} of lot {number}."
    except DomainError as exc:
        _note("error", exc.message)
        return _back()
    _note("ok", words, "It is not part of the run any more.")
    return _back()


@bp.post("/cancel-run")
@requires("line")
def cancel_run():
    try:
        with get_db().write() as s:
            run = _open_run(s, request.form.get("run"))
            production_runs.cancel(s, run, by=floor.actor())
            words = f"Run {run.id} cancelled — nothing was used or made."
    except DomainError as exc:
        _note("error", exc.message)
        return _back()
    session.pop(PENDING_KEY, None)
    _note("info", words, "Start the next run when ready.")
    return _back()


@bp.post("/finish")
@requires("line")
def finish():
    run_id = request.form.get("run", "")
    station, operator = floor.current_station(), floor.current_operator()
    try:
        qty = parse_qty(request.form.get("qty"), "quantity made")
        copies = parse_qty(request.form.get("copies") or "1", "number of labels") or 1
        with get_db().write() as s:
            if run_id.isascii() and run_id.isdigit() and len(run_id) <= MAX_DIGITS and int(run_id) <= MAX_ID:
                done = s.get(ProductionRun, int(run_id))
                if done is not None and done.status is RunStatus.FINISHED:  # a second tap on Finish
                    return redirect(url_for(".run_page", run_id=done.id), 303)
            run = _open_run(s, run_id)
            if qty is None:
                raise DomainError("Type how much was made first, then Finish.", code="no_qty")
            lot = production_runs.finish(s, run, qty, by=floor.actor())
            job = printing.request_labels(s, lot.lot_number, copies=copies, station=station.id if station else None,
                                          operator=operator.id if operator else None,
                                          request_id=f"run-{run.id}-finish")
            item = s.get(Item, run.item_id)
            printer = s.get(Printer, job.printer_id).name
            words = f"Run {run.id} finished: lot {lot.lot_number}, {qty} {item.unit} of {item.sku}."
            detail = f"{copies} label{'s' if copies != 1 else ''} sent to {printer}."
            run_id = run.id
    except DomainError as exc:
        _note("error", exc.message, "Nothing was used or made. Put it right, then finish again.")
        return _back()
    session.pop(PENDING_KEY, None)
    _note("ok", words, detail)
    return redirect(url_for(".run_page", run_id=run_id), 303)


# --- one run --------------------------------------------------------------------------------------


def _run_context(s, run_id: int) -> dict:
    run = s.get(ProductionRun, run_id)
    if run is None:
        abort(404)
    jobs = []
    if run.output_lot_id:
        for job_id in s.scalars(select(PrintJob.id).where(PrintJob.lot_id == run.output_lot_id)
                                .order_by(PrintJob.id.desc()).limit(10)):
            jobs.append(_job_context(s, job_id))
    names = dict(s.execute(select(Operator.id, Operator.name).where(
        Operator.id.in_([i for i in (run.started_by_id, run.finished_by_id) if i]))).all()) if (
        run.started_by_id or run.finished_by_id) else {}
    return {"run": run, "item": s.get(Item, run.item_id), "line": s.get(Location, run.location_id),
            "lot": s.get(Lot, run.output_lot_id) if run.output_lot_id else None, "parts": _parts(s, run.id),
            "jobs": jobs, "names": names, "station": floor.current_station(), "print_token": uuid.uuid4().hex,
            "used": s.scalar(select(func.coalesce(func.sum(ProductionRunComponent.qty), 0))
                             .where(ProductionRunComponent.run_id == run.id))}


@bp.get("/runs/<int:run_id>")
@requires("line")
def run_page(run_id: int):
    with get_db().read() as s:
        context = _run_context(s, run_id)
        s.expunge_all()
    answer = _take_note()
    if answer is None:
        run, lot = context["run"], context["lot"]
        answer = (Answer("info", f"Run {run.id}: lot {lot.lot_number}", "Reprint or print more labels below.")
                  if lot else Answer("info", f"Run {run.id} is {run.status.value}."))
    response = make_response(render_template("line_run.html", answer=answer, scan_id=None, **context))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/runs/<int:run_id>/reprint")
@requires("line")
def reprint(run_id: int):
    station, operator = floor.current_station(), floor.current_operator()
    try:
        with get_db().write() as s:
            run = production_runs.get_run(s, run_id)
            last = s.scalar(select(PrintJob).where(PrintJob.lot_id == run.output_lot_id)
                            .order_by(PrintJob.id.desc()).limit(1)) if run.output_lot_id else None
            if last is None:
                raise NotFound(f"Run {run_id} has no label to print again.", code="no_label")
            job = printing.reprint(s, last.id, station=station.id if station else None,
                                   operator=operator.id if operator else None,
                                   request_id=_token(request.form.get("request_id")))
            words = f"Printing again: job {job.id}."
    except DomainError as exc:
        _note("error", exc.message)
    else:
        _note("ok", words)
    return redirect(url_for(".run_page", run_id=run_id), 303)


@bp.post("/runs/<int:run_id>/print")
@requires("line")
def print_more(run_id: int):
    station, operator = floor.current_station(), floor.current_operator()
    try:
        copies = parse_qty(request.form.get("copies") or "1", "number of labels") or 1
        with get_db().write() as s:
            run = production_runs.get_run(s, run_id)
            if run.output_lot_id is None:
                raise NotFound(f"Run {run_id} made no lot to label.", code="no_label")
            lot = s.get(Lot, run.output_lot_id)
            job = printing.request_labels(s, lot.lot_number, copies=copies,
                                          station=station.id if station else None,
                                          operator=operator.id if operator else None,
                                          request_id=_token(request.form.get("request_id")))
            words = f"{copies} more label{'s' if copies != 1 else ''} of lot {lot.lot_number}: job {job.id}."
    except DomainError as exc:
        _note("error", exc.message)
    else:
        _note("ok", words)
    return redirect(url_for(".run_page", run_id=run_id), 303)


def _token(value: str | None) -> str | None:
    """The form's one-time token as a print request id: a double tap makes one job."""
    return f"line-{value}" if value and value.isalnum() and len(value) <= 40 else None
