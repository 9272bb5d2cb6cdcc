"""Recalls (supervisors): a scanned lot starts a recall's preview, or picks a lot on a recall's page;
the taps start a recall and follow it up (stock retrieved, customers notified, closed).

    step(session, state, scan) -> Answer
        state {}                   a lot or pallet label -> ok, data {"preview": lot}: the page shows
                                   what a recall of that lot would stop
        state {"recall": number}   a lot of that recall -> ok, data {"recall", "lot"}: the page opens
                                   that lot's form (how many came back)
        anything else              an error in words, data {"status": 422} (or the refusal's status)
    start / retrieved / notified / close(session, …) -> Answer   the taps; a refusal raises DomainError
                                   (services.recalls checks before it writes; the caller's transaction
                                   rolls back)

The page keeps in the state which recall it shows, and a tap's answer (workflows/notes.py) until the
recall's page shows it (POST, redirect, GET).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Lot, RecallLot
from ..scanning.codes import command_of
from ..services import recalls
from ..services.actor import Actor
from ..services.errors import DomainError, Invalid
from . import Answer, Scanned, notes
from .inputs import parse_qty

NAME = "recall"
SCAN_LOT = "Scan our lot label or the pallet label to start a recall."


def step(session: Session, state: dict, scan: Scanned) -> Answer:
    return notes.dropped(state, _scanned(session, state.get("recall"), scan))


def _scanned(session: Session, number: str | None, scan: Scanned) -> Answer:
    res = scan.resolution
    records = res.records or {}
    lot = (records.get("lot") or {}).get("lot_number") if res.ok else None
    if number:
        return _lot_of_recall(session, number, lot, res.message if not res.ok else "That is not a lot label.")
    if lot:
        return Answer("ok", f"Lot {lot} — what a recall of it would stop.", data={"preview": lot})
    if res.ok and records.get("item"):
        return Answer("error", f"That is the barcode of the item {records['item']['sku']}, not of one lot.",
                      "Scan our lot label (or the pallet label), or type the lot number.", data={"status": 422})
    return Answer("error", res.message if not res.ok else "That is not a lot label.", SCAN_LOT,
                  data={"status": 422})


def _lot_of_recall(session: Session, number: str, lot: str | None, not_a_lot: str) -> Answer:
    if not lot:
        return Answer("error", not_a_lot, "Scan the label of a lot in this recall.", data={"status": 422})
    try:
        recall = recalls.recall_by_number(session, number)
    except DomainError as exc:
        return Answer("error", exc.message, data={"status": exc.status})
    listed = session.scalar(select(Lot.id).join(RecallLot, RecallLot.lot_id == Lot.id)
                            .where(RecallLot.recall_id == recall.id, Lot.lot_number == lot))
    if listed is None:
        return Answer("error", f"Lot {lot} is not part of recall {number}.",
                      "Scan the label of a lot listed on this page.", data={"status": 422})
    return Answer("ok", f"Lot {lot} — how many came back?", data={"recall": number, "lot": lot})


def showing(number: str | None) -> dict:
    """The state of the recall pages: which recall is shown (None: the list, or a preview)."""
    return {"recall": number} if number else {}


# --- taps -----------------------------------------------------------------------------------------


def start(session: Session, source: dict, reason: str, actor: Actor) -> Answer:
    """Start a recall from `source` ({"lot"} or {"supplier", "supplier_lot"}). data {"recall": number}.
    An open recall that already holds the source (most often the same confirm sent twice) is an
    info answer naming that recall, with nothing more stopped."""
    if command_of(reason) is not None:  # CMD:CONFIRM scanned into the reason field itself: not a reason
        reason = ""
    try:
        with session.begin_nested():
            recall = recalls.open_recall(session, reason=reason, by=actor, **source)
    except DomainError as exc:
        if exc.code == "already_recalled" and exc.details.get("recall"):
            return Answer("info", exc.message, "Nothing more was stopped.", data={"recall": exc.details["recall"]})
        raise
    report = recalls.recall_report(session, recall)
    stopped, told = report.lots_stopped, len(report.customers)
    return Answer("ok", f"Recall {recall.number} started: {stopped} {'lot' if stopped == 1 else 'lots'} stopped",
                  f"{told} {'customer' if told == 1 else 'customers'} to tell. "
                  f"Recalled lots cannot be picked, used or shipped.", data={"recall": recall.number})


def retrieved(session: Session, number: str, lot: str, qty_text: str | None, note: str, actor: Actor,
              source: str = "") -> Answer:
    """`source` is where the goods come from, as the form's choice says it: "site:<location>",
    "customer:<code>", or "" (the lot's only place on site)."""
    qty = parse_qty(qty_text)
    if qty is None:
        raise Invalid(f"Type how many of lot {lot} came back, then tap Retrieved.", code="no_qty")
    kind, _, code = (source or "").partition(":")
    where = {"site": {"location": code}, "customer": {"customer": code}}.get(kind) if code else {}
    if where is None:
        raise Invalid("Choose where the goods come from: a place on site or a customer.", code="choose_source")
    recalls.record_retrieved(session, recalls.recall_by_number(session, number, lock=True), lot, qty,
                             by=actor, note=note, **where)
    return Answer("ok", f"Lot {lot}: {qty} more retrieved", "Booked into the quarantine place.",
                  data={"recall": number})


def notified(session: Session, number: str, customer: str, note: str, actor: Actor) -> Answer:
    recalls.mark_notified(session, recalls.recall_by_number(session, number, lock=True), customer, by=actor,
                          note=note)
    return Answer("ok", f"Customer {customer} marked notified", data={"recall": number})


def close(session: Session, number: str, reason: str, accept_unnotified: bool, actor: Actor) -> Answer:
    recalls.close_recall(session, recalls.recall_by_number(session, number, lock=True), reason=reason, by=actor,
                         accept_unnotified=accept_unnotified)
    return Answer("ok", f"Recall {number} closed",
                  "Its lots stay recalled: they cannot be picked, used or shipped.", data={"recall": number})
