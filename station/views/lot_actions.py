"""Supervisor actions on the lot card: hold, quarantine, release with a reason (blueprint "lots").

    GET  /lots/actions/<action>?lot=…[&reason=…&note=…]  the card's action panel, open for `action`
         (or closed with action=none): what the Hold / Quarantine / Release and preset-reason buttons
         swap in (#lot-action).
    POST /lots/actions/<action> (lot, reason, note)  do it (workflows.lookup.change_status, with the
         operator and station as the actor); answers the whole lot result (banner + updated card) for
         #lot-result, or the full page without htmx.

No CSRF token: station/auth/ has no CSRF helper yet, so none is invented here.
"""
from __future__ import annotations

from markupsafe import Markup
from flask import render_template, request, url_for

from .. import auth, get_db
from ..scanning.codes import command_of
from ..services import catalog
from ..services.errors import DomainError, NotFound
from ..services.lots import lot_details
from ..workflows.lookup import action_reason, card_context, change_status
from .common import clean_scan, page_or_fragment, wants_fragment
from .lots import PAGE, RESULT, bp

ACTION_WORDS = {"hold": "Hold", "quarantine": "Quarantine", "release": "Release"}
PRESETS = {
    "hold": ("QA check", "Customer complaint", "Damaged", "Supplier notice"),
    "quarantine": ("Lab test pending", "Suspected contamination", "Temperature alarm", "Supplier notice"),
    "release": ("QA passed", "Checked, all fine", "Supplier cleared", "Complaint resolved"),
}
PANEL = "partials/lot_action_panel.html"


def _lot_status(lot_number: str) -> str | None:
    with get_db().read() as session:
        try:
            return catalog.lot_by_number(session, lot_number).status.value
        except NotFound:
            return None


@bp.get("/actions/<any(hold, quarantine, release, none):action>")
@auth.requires("supervisor")
def action_panel(action: str):
    """The action panel of a lot's card: closed (action=none) or asking for the reason of `action`."""
    lot_number = clean_scan(request.args.get("lot"))
    status = _lot_status(lot_number) if lot_number else None
    if status is None:
        return _no_lot(lot_number)
    return render_template(PANEL, lot_number=lot_number, lot_status_value=status,
                           action=None if action == "none" else action,
                           reason=clean_scan(request.args.get("reason")),
                           note=clean_scan(request.args.get("note")))


@bp.post("/actions/<any(hold, quarantine, release):action>")
@auth.requires("supervisor")
def act(action: str):
    """Hold, quarantine or release a lot with a reason; a refusal changes nothing and says why."""
    lot_number = clean_scan(request.form.get("lot"))
    preset = clean_scan(request.form.get("reason"))
    note = clean_scan(request.form.get("note"))
    # A command barcode scanned into the note field (the cursor was there): confirm or cancel.
    command = command_of(note)
    if command:
        note = ""
        if command == "cancel":
            return _action_answer(lot_number, 200)
    reason = action_reason(preset, note)
    if not reason:
        if _lot_status(lot_number) is None:
            return _no_lot(lot_number)
        return _action_answer(lot_number, 422, "error",
                              f"Pick a reason for the {action} of lot {lot_number}, or write one — "
                              f"nothing changed.", open_action=action)
    try:
        with get_db().write() as session:
            answer = change_status(session, lot_number, action, reason, auth.actor())
    except NotFound:
        return _no_lot(lot_number)
    except DomainError as exc:  # the service changed nothing (the transaction rolled back)
        return _action_answer(lot_number, exc.status if 400 <= exc.status < 500 else 409, "error",
                              f"{exc.message} Nothing changed.")
    # The lot number stays on one line (at 360 px it would break at its hyphen).
    message = Markup('Lot <span class="nowrap">{}</span> {} — {}').format(
        lot_number, answer.data["words"], answer.data["reason"])
    return _action_answer(lot_number, 200, "ok", message)


def _no_lot(lot_number: str):
    return auth.banner_response(
        "error", f"No lot '{lot_number[:60]}' — scan the lot label again. Nothing changed.", 404)


def _action_answer(lot_number: str, http_status: int, kind: str | None = None, message: str | None = None,
                   open_action: str | None = None):
    """The lot result (banner on top of the refreshed card) for #lot-result, or the whole page."""
    banner = {"kind": kind, "message": message} if kind else None
    with get_db().read() as session:
        details = lot_details(session, lot_number)
        context = dict(query=details.lot.lot_number, outcome="found", details=details,
                       lot_action_banner=banner, lot_action_open=open_action,
                       lot_action_note=clean_scan(request.form.get("note")) if open_action else "",
                       **card_context(details))
        response = page_or_fragment(PAGE, RESULT, http_status, **context)
    if wants_fragment():
        response.headers["HX-Replace-Url"] = url_for(".show", lot_number=lot_number)
    return response


@bp.app_template_global()
def lot_action_presets(action: str) -> tuple[str, ...]:
    return PRESETS.get(action, ())


@bp.app_template_global()
def lot_action_words(action: str) -> str:
    return ACTION_WORDS.get(action, action)


from . import lot_changes  # noqa: E402,F401 - adds split and adjust (the card's supervisor forms) to the lots blueprint
