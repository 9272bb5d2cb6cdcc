"""Station set-up: bind this device (tablet, handheld, line PC) to a station, once.

    GET  /setup              the stations to choose from, and a form for a new one (supervisors, admins)
    POST /setup/bind         station_id: this device is that station from now on (a year-long cookie)
    POST /setup/new          name, location_id, printer_id[, scanner_url]: create a station and bind to it
    POST /setup/edit         station_id, location_id, printer_id[, scanner_url]: change a station
    POST /setup/forget       this device is no station any more

Supervisors and admins bind, create and change stations; only an admin sets or changes a station's
scanner (a serial port or a simulated scanner is read by the server: a wrong one reads the wrong
device). A scanner address is checked by the scanner URL parser (devices.scanners) before anything
is saved; a bad one is refused in words and changes nothing.

The binding is the "station" cookie the scan page uses too, so both pages agree.
"""
from __future__ import annotations

from flask import (Blueprint, current_app, flash, get_flashed_messages, make_response, redirect, render_template,
                   request, url_for)
from sqlalchemy import select

from devices.scanners import ScannerError, open_scanner

from .. import get_db, netpolicy
from ..agent import AGENT_SCANNER_URL
from ..ids import BadNumber, parse_id
from ..models import Location, Printer, Role, StationDevice
from .. import auth

SCANNER_ADMIN_ONLY = ("Only an admin may set or change a station's scanner — nothing was changed. "
                      "Leave the scanner as it is, or ask an admin.")

bp = Blueprint("setup", __name__)


def _choices():
    with get_db().read() as s:
        stations = [auth.station_by(station_id=i) for i in s.scalars(select(StationDevice.id)
                                                                      .order_by(StationDevice.name))]
        locations = s.execute(select(Location.id, Location.code, Location.name, Location.kind)
                              .order_by(Location.kind, Location.code)).all()
        printers = s.execute(select(Printer.id, Printer.name).where(Printer.active)
                             .order_by(Printer.name)).all()
    return stations, locations, printers


NO_ROW = -1  # an id no row has: a form id that is not a number in range names nothing ("gone")


def _form_id(key: str) -> int | None:
    """A station, location or printer id from the form: None when not chosen (blank), NO_ROW when it is
    not an id a row can have (junk, or beyond ids.MAX_ID — PostgreSQL would refuse to look it up)."""
    try:
        return parse_id(request.form.get(key), what=key)
    except BadNumber:
        return NO_ROW


def _page(message: str | None = None, status: int = 200, form: dict | None = None):
    stations, locations, printers = _choices()
    messages = get_flashed_messages(with_categories=True)
    if message:
        messages.append(("error", message))
    response = make_response(render_template("setup.html", stations=stations, locations=locations,
                                             printers=printers, messages=messages, form=form or {},
                                             bound=auth.current_station()), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/setup")
@auth.requires("setup")
def page():
    return _page()


@bp.post("/setup/bind")
@auth.requires("setup")
def bind():
    station = auth.station_by(station_id=_form_id("station_id") or 0)
    if station is None:
        return _page("That station is gone — choose another one.", 404)
    flash(f"This device is now {station.name}.", "ok")
    return auth.bind_station(redirect(url_for("home.index"), 303), station)


@bp.post("/setup/new")
@auth.requires("setup")
def new():
    form = request.form
    name = " ".join((form.get("name") or "").split())[:60]
    location_id = _form_id("location_id")
    printer_id = _form_id("printer_id")
    scanner_url = (form.get("scanner_url") or "").strip()[:300] or None
    if not name:
        return _page("Give the station a name people will recognise, such as 'Dock tablet 2'.", 400, form)
    if scanner_url is not None:
        if not _is_admin():
            return _page(SCANNER_ADMIN_ONLY, 403, form)
        problem = scanner_problem(scanner_url)
        if problem:
            return _page(problem, 400, form)
    with get_db().write() as s:
        if s.scalar(select(StationDevice.id).where(StationDevice.name == name)) is not None:
            return _page(f"There is already a station called '{name}' — choose it above, or pick another name.",
                         409, form)
        if location_id is not None and s.get(Location, location_id) is None:
            return _page("That location is gone — choose another one.", 400, form)
        if printer_id is not None and s.get(Printer, printer_id) is None:
            return _page("That printer is gone — choose another one.", 400, form)
        row = StationDevice(name=name, location_id=location_id, printer_id=printer_id, scanner_url=scanner_url)
        s.add(row)
        s.flush()
        new_id = row.id
    station = auth.station_by(station_id=new_id)
    flash(f"Station {station.name} created; this device is now {station.name}.", "ok")
    return auth.bind_station(redirect(url_for("home.index"), 303), station)


@bp.post("/setup/edit")
@auth.requires("setup")
def edit():
    """Change a station's location and default printer (and, for an admin, its scanner)."""
    form = request.form
    station_id = _form_id("station_id") or 0
    location_id = _form_id("location_id")
    printer_id = _form_id("printer_id")
    with get_db().write() as s:
        row = s.get(StationDevice, station_id)
        if row is None:
            return _page("That station is gone — choose another one.", 404)
        scanner_url = row.scanner_url
        if "scanner_url" in form:
            wanted = (form.get("scanner_url") or "").strip()[:300] or None
            if wanted != row.scanner_url:
                if not _is_admin():
                    return _page(SCANNER_ADMIN_ONLY, 403, _edit_form(station_id, form))
                problem = scanner_problem(wanted) if wanted else None
                if problem:
                    return _page(problem, 400, _edit_form(station_id, form))
                scanner_url = wanted
        if location_id is not None and s.get(Location, location_id) is None:
            return _page("That location is gone — choose another one.", 400, _edit_form(station_id, form))
        if printer_id is not None and s.get(Printer, printer_id) is None:
            return _page("That printer is gone — choose another one.", 400, _edit_form(station_id, form))
        row.location_id, row.printer_id, row.scanner_url = location_id, printer_id, scanner_url
        name = row.name
    flash(f"Station {name} changed.", "ok")
    response = redirect(url_for(".page"), 303)
    return response


def _is_admin() -> bool:
    op = auth.current_operator()
    return op is not None and op.role is Role.ADMIN


def _edit_form(station_id: int, form) -> dict:
    """What was typed into a station's change form, to show it again with the refusal."""
    return {"edit": station_id, **{k: form.get(k, "") for k in ("location_id", "printer_id", "scanner_url")}}


def scanner_problem(url: str) -> str | None:
    """Why `url` is no scanner address Station can read, in words; None when it is one. The URL is
    parsed by devices.scanners exactly as the scanner service will open it (nothing is opened here).
    agent:// is the station PC's scanner agent (station scanner-agent): nothing for the server to open."""
    if url == AGENT_SCANNER_URL:
        return None
    try:
        open_scanner(url, lambda event: None, start=False)
    except (ScannerError, ValueError) as exc:
        return (f"The scanner address '{url[:80]}' is not one Station can read — nothing was changed. "
                f"{exc}")
    outside = netpolicy.refusal(url, netpolicy.parse_networks(current_app.config.get("DEVICE_NETWORKS")))
    if outside:
        return f"The scanner address '{url[:80]}' is not allowed — nothing was changed: {outside}."
    return None


@bp.post("/setup/forget")
@auth.requires("setup")
def forget():
    flash("This device is no station any more.", "ok")
    return auth.bind_station(redirect(url_for(".page"), 303), None)
