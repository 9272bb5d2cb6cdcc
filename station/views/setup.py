"""Station set-up: bind this device (tablet, handheld, line PC) to a station, once.

    GET  /setup              the stations to choose from, and a form for a new one (supervisors, admins)
    POST /setup/bind         station_id: this device is that station from now on (a year-long cookie)
    POST /setup/new          name, location_id, printer_id[, scanner_url]: create a station and bind to it
    POST /setup/forget       this device is no station any more

The binding is the "station" cookie the scan page uses too, so both pages agree.
"""
from __future__ import annotations

from flask import Blueprint, flash, get_flashed_messages, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import get_db
from ..models import Location, Printer, StationDevice
from . import floor

bp = Blueprint("setup", __name__)


def _choices():
    with get_db().read() as s:
        stations = [floor.station_by(station_id=i) for i in s.scalars(select(StationDevice.id)
                                                                      .order_by(StationDevice.name))]
        locations = s.execute(select(Location.id, Location.code, Location.name, Location.kind)
                              .order_by(Location.kind, Location.code)).all()
        printers = s.execute(select(Printer.id, Printer.name).where(Printer.active)
                             .order_by(Printer.name)).all()
    return stations, locations, printers


def _page(message: str | None = None, status: int = 200, form: dict | None = None):
    stations, locations, printers = _choices()
    messages = get_flashed_messages(with_categories=True)
    if message:
        messages.append(("error", message))
    response = make_response(render_template("setup.html", stations=stations, locations=locations,
                                             printers=printers, messages=messages, form=form or {},
                                             bound=floor.current_station()), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/setup")
@floor.requires("setup")
def page():
    return _page()


@bp.post("/setup/bind")
@floor.requires("setup")
def bind():
    station = floor.station_by(station_id=request.form.get("station_id", type=int) or 0)
    if station is None:
        return _page("That station is gone — choose another one.", 404)
    flash(f"This device is now {station.name}.", "ok")
    return floor.bind_station(redirect(url_for("home.index"), 303), station)


@bp.post("/setup/new")
@floor.requires("setup")
def new():
    form = request.form
    name = " ".join((form.get("name") or "").split())[:60]
    location_id = form.get("location_id", type=int) or None
    printer_id = form.get("printer_id", type=int) or None
    scanner_url = (form.get("scanner_url") or "").strip()[:300] or None
    if not name:
        return _page("Give the station a name people will recognise, such as 'Dock tablet 2'.", 400, form)
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
    station = floor.station_by(station_id=new_id)
    flash(f"Station {station.name} created; this device is now {station.name}.", "ok")
    return floor.bind_station(redirect(url_for("home.index"), 303), station)


@bp.post("/setup/forget")
@floor.requires("setup")
def forget():
    flash("This device is no station any more.", "ok")
    return floor.bind_station(redirect(url_for(".page"), 303), None)
