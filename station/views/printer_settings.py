"""Printer settings (admins): add a printer, change its address, dots per inch, label size or whether
it is in use. An address is parsed as the print worker would open it and held against
STATION_DEVICE_NETWORKS before it is saved (see views/printers.py). Routes of the printers blueprint."""
from __future__ import annotations

from flask import current_app, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from labels.layout import DPIS, LABEL_SIZES

from .. import auth, get_db, netpolicy
from ..models import Printer
from .printers import bp


def printer_url_problem(url: str) -> str | None:
    """Why `url` is no printer address Station may use, in words; None when it is one. Parsed by
    devices.printers exactly as the print worker opens it (nothing is opened or sent here), then
    held against STATION_DEVICE_NETWORKS."""
    from devices.printers import PrinterError, open_printer

    if not url:
        return "Give the printer's address, such as tcp://10.20.0.15:9100 or cups://Zebra_dock."
    try:
        open_printer(url)
    except (PrinterError, ValueError) as exc:
        return f"The printer address '{url[:80]}' is not one Station can print to — nothing was changed. {exc}"
    outside = netpolicy.refusal(url, netpolicy.parse_networks(current_app.config.get("DEVICE_NETWORKS")))
    if outside:
        return f"The printer address '{url[:80]}' is not allowed — nothing was changed: {outside}."
    return None


def _settings_form(form) -> tuple[dict, str | None]:
    """The fields of a printer form, cleaned, and the first problem with them in words."""
    values = {"url": (form.get("url") or "").strip()[:300], "dpi": (form.get("dpi") or "").strip(),
              "label_size": (form.get("label_size") or "").strip(), "active": form.get("active", "1") != "0"}
    if values["label_size"] not in LABEL_SIZES:
        return values, f"Choose a label size: {', '.join(LABEL_SIZES)}."
    if not values["dpi"].isdigit() or int(values["dpi"]) not in DPIS:
        return values, f"Choose the printer's dots per inch: {', '.join(map(str, DPIS))}."
    return values, printer_url_problem(values["url"])


def _settings_page(message: tuple[str, str] | None = None, status: int = 200, form: dict | None = None):
    with get_db().read() as session:
        printers = list(session.scalars(select(Printer).order_by(Printer.name)))
        response = make_response(render_template("printers_settings.html", printers=printers, message=message,
                                                 form=form or {}, dpis=DPIS, sizes=list(LABEL_SIZES)), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/settings")
@auth.requires("printers")
def settings():
    text = request.args.get("saved")
    return _settings_page(("ok", text[:200]) if text else None)


@bp.post("/settings/new")
@auth.requires("printers")
def add_printer():
    name = " ".join((request.form.get("name") or "").split())[:60]
    values, problem = _settings_form(request.form)
    form = {"edit": "new", "name": name, **values}
    if not name:
        return _settings_page(("error", "Give the printer a name people will recognise, such as 'Dock printer'."),
                              400, form)
    if problem:
        return _settings_page(("error", problem), 400, form)
    with get_db().write() as session:
        if session.scalar(select(Printer.id).where(Printer.name == name)) is not None:
            return _settings_page(("error", f"There is already a printer called '{name}' — change that one, "
                                            "or pick another name."), 409, form)
        session.add(Printer(name=name, url=values["url"], dpi=int(values["dpi"]), label_size=values["label_size"],
                            active=values["active"]))
    return redirect(url_for(".settings", saved=f"Printer {name} added."), 303)


@bp.post("/settings/<int:printer_id>")
@auth.requires("printers")
def change_printer(printer_id: int):
    values, problem = _settings_form(request.form)
    form = {"edit": printer_id, **values}
    with get_db().write() as session:
        printer = session.get(Printer, printer_id)
        if printer is None:
            return _settings_page(("error", "That printer no longer exists."), 404)
        if problem:
            return _settings_page(("error", problem), 400, form)
        if printer.url != values["url"]:  # what the worker read was about the old address
            printer.state, printer.state_detail, printer.state_checked_at = "unknown", None, None
        printer.url, printer.dpi, printer.label_size = values["url"], int(values["dpi"]), values["label_size"]
        printer.active = values["active"]
        name = printer.name
    return redirect(url_for(".settings", saved=f"Printer {name} changed."), 303)
