"""Labels over the API: a lot's, a location's, an operator's badge and the command sheet, as ZPL
(what a printer takes) or PNG (what a screen shows). Rendering a label changes nothing, so these
are GETs; printing one is a print job (POST /lots/<lot_number>/labels).

ZPL is answered as ``text/plain; charset=utf-8``: there is no registered media type for it, it is
text (UTF-8 under ^CI28, every data character escaped), and text/plain is what curl, a browser
and a diff show as it is. ``X-Content-Type-Options: nosniff`` keeps a browser from reading a lot
named ``<script>`` as HTML. A file saved from it is named ``<lot>-<template>.zpl``.

A pallet label carries an SSCC, which is a number used once. A GET never draws one: the PNG
preview shows the placeholder SSCC (serial 0, never drawn), and the ZPL of a pallet label is
refused unless ``sscc`` names one of the lot's own pallets (a reprint), since a printable label
with a placeholder SSCC could end up on a real pallet.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from flask import Response, current_app, request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from labels.layout import DPIS, LABEL_SIZES

from .. import get_db
from ..gs1 import normalise_sscc
from ..services import catalog
from ..services.errors import Invalid, NotFound
from ..services.labels import (MAX_COPIES, LabelParameterError, label_data, label_format, pallet_of_lot,
                               render_png, render_zpl)
from ..services.sscc import preview_sscc
from .core import route
from .schemas import SSCC

ZPL = "text/plain"
PNG = "image/png"
ERRORS = (400, 404, 409, 422)  # bad parameter; unknown record; SSCC of another lot; data the label cannot take


def _dpi(value: int) -> int:
    if value not in DPIS:
        raise ValueError(f"must be {', '.join(map(str, DPIS[:-1]))} or {DPIS[-1]}")
    return value


LabelSize = Literal[tuple(LABEL_SIZES)]
Dpi = Annotated[int, AfterValidator(_dpi), Field(json_schema_extra={"enum": list(DPIS)})]


class LabelQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: LabelSize | None = Field(
        None, description="Width x height in inches. Default: the station's printer's, else the first "
                          "active printer's, else 4x6.")
    dpi: Dpi | None = Field(None, description="Printer density. Default: as for size, else 203.")
    station: Annotated[str, Field(min_length=1, max_length=60)] | None = Field(
        None, description="The station whose printer's size and dpi are the defaults.")


class LabelZplQuery(LabelQuery):
    copies: int = Field(1, ge=1, le=MAX_COPIES, description="How many the printer prints (^PQ).")


class LotLabelQuery(LabelQuery):
    template: Literal["lot", "pallet"] = Field(
        "lot", description="lot: the lot label; pallet: the GS1 logistic label of a pallet of the lot.")
    sscc: Annotated[str, Field(pattern=SSCC)] | None = Field(
        None, description="pallet: the SSCC of one of the lot's pallets, to make its label again. "
                          "Required for ZPL; a PNG without it shows a placeholder SSCC (serial 0).")


class LotLabelZplQuery(LotLabelQuery, LabelZplQuery):
    pass


def _format(session, query: LabelQuery) -> tuple[str, int]:
    """The size and dpi asked for; what is not asked for comes from the station or the printers."""
    if query.size and query.dpi and not query.station:
        return query.size, query.dpi
    size, dpi = label_format(session, query.station)
    return query.size or size, query.dpi or dpi


def _send(body: bytes, media: str, name: str, extension: str) -> Response:
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "label"
    response = Response(body, mimetype=media, headers={
        "Content-Disposition": f'inline; filename="{filename}.{extension}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",  # the lot changes; revalidate with the ETag
    })
    response.add_etag()
    return response.make_conditional(request)


def _render(template: str, data: dict, size: str, dpi: int, query: LabelQuery, name: str) -> Response:
    if isinstance(query, LabelZplQuery):
        return _send(render_zpl(template, data, size, dpi, query.copies), ZPL, name, "zpl")
    return _send(render_png(template, data, size, dpi), PNG, name, "png")


# --- lots ------------------------------------------------------------------------------------


def _pallet_sscc(session, lot, query: LotLabelQuery) -> str:
    if query.sscc is None:
        if isinstance(query, LabelZplQuery):
            raise LabelParameterError(
                f"A pallet label needs an SSCC of its own, and a GET draws none: print it with "
                f"POST /api/v1/lots/{lot.lot_number}/labels (which draws one), or give sscc= of one "
                f"of this lot's pallets to make its label again.", code="sscc_required")
        config = current_app.config
        return preview_sscc(company_prefix=config["GS1_COMPANY_PREFIX"], extension=config["SSCC_EXTENSION"])
    try:
        sscc = normalise_sscc(query.sscc)
    except Invalid as exc:
        raise LabelParameterError(exc.message, code=exc.code) from None
    if not pallet_of_lot(session, lot, sscc):
        raise NotFound(f"Lot {lot.lot_number} has no pallet with SSCC {sscc}.", code="unknown_pallet")
    return sscc


def _lot_label(lot_number: str, query: LotLabelQuery) -> Response:
    with get_db().read() as session:
        lot = catalog.lot_by_number(session, lot_number)
        number = lot.lot_number
        size, dpi = _format(session, query)
        sscc = None
        if query.template == "pallet":
            sscc = _pallet_sscc(session, lot, query)
        elif query.sscc is not None:
            raise LabelParameterError("sscc is for pallet labels (template=pallet) only.",
                                      code="sscc_not_allowed")
        data = label_data(session, query.template, number, sscc=sscc)
    return _render(query.template, data, size, dpi, query, f"{number}-{query.template}")


@route("GET", "/lots/<path:lot_number>/label.zpl", query=LotLabelZplQuery, response=None, media=ZPL,
       query_status=400, errors=ERRORS)
def lot_label_zpl(lot_number: str, query: LotLabelZplQuery) -> Response:
    """A lot's label, or the label of one of its pallets, as ZPL for the printer; changes nothing."""
    return _lot_label(lot_number, query)


@route("GET", "/lots/<path:lot_number>/label.png", query=LotLabelQuery, response=None, media=PNG,
       query_status=400, errors=ERRORS)
def lot_label_png(lot_number: str, query: LotLabelQuery) -> Response:
    """A preview of a lot's label, or of a pallet label, as PNG (one pixel per dot); changes nothing."""
    return _lot_label(lot_number, query)


# --- locations, badges, commands -------------------------------------------------------------


def _label(template: str, key: str | None, query: LabelQuery, name: str) -> Response:
    with get_db().read() as session:
        data = label_data(session, template, key)
        size, dpi = _format(session, query)
    return _render(template, data, size, dpi, query, name)


@route("GET", "/locations/<path:code>/label.zpl", query=LabelZplQuery, response=None, media=ZPL,
       query_status=400, errors=ERRORS)
def location_label_zpl(code: str, query: LabelZplQuery) -> Response:
    """A location's label as ZPL."""
    return _label("location", code, query, f"location-{code}")


@route("GET", "/locations/<path:code>/label.png", query=LabelQuery, response=None, media=PNG,
       query_status=400, errors=ERRORS)
def location_label_png(code: str, query: LabelQuery) -> Response:
    """A preview of a location's label as PNG."""
    return _label("location", code, query, f"location-{code}")


@route("GET", "/operators/<path:badge>/badge.zpl", query=LabelZplQuery, response=None, media=ZPL,
       query_status=400, errors=ERRORS)
def operator_badge_zpl(badge: str, query: LabelZplQuery) -> Response:
    """An operator's badge as ZPL."""
    return _label("badge", badge, query, f"badge-{badge}")


@route("GET", "/operators/<path:badge>/badge.png", query=LabelQuery, response=None, media=PNG,
       query_status=400, errors=ERRORS)
def operator_badge_png(badge: str, query: LabelQuery) -> Response:
    """A preview of an operator's badge as PNG."""
    return _label("badge", badge, query, f"badge-{badge}")


@route("GET", "/commands/label.zpl", query=LabelZplQuery, response=None, media=ZPL, query_status=400,
       errors=(400, 422))
def commands_label_zpl(query: LabelZplQuery) -> Response:
    """The sheet of command barcodes (confirm, cancel, undo, next, reprint) as ZPL."""
    return _label("commands", None, query, "commands")


@route("GET", "/commands/label.png", query=LabelQuery, response=None, media=PNG, query_status=400,
       errors=(400, 422))
def commands_label_png(query: LabelQuery) -> Response:
    """A preview of the sheet of command barcodes as PNG."""
    return _label("commands", None, query, "commands")
