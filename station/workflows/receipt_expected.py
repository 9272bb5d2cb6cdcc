"""The receipt at the dock against what suppliers said they would deliver (services/expected.py), and
whose goods it is: what the receiving workflow adds to its draft (workflows/receipt_draft.py).

    match(session, draft) -> draft          what the expected receipts and the item say about the draft
    take_choices(session, draft, form)      the receiver's picks: supplier, expected delivery, printer

The draft keys this module keeps (plain JSON, like the rest of the draft):

    supplier, supplier_name, supplier_from   whose goods: "label" (AI 412), "expected", "usual" (the
                                             item's usual supplier) or "chosen" on the page
    expected_line      the id of the expected receipt line the pallet is received against
    expected_ref       "PO-1 from Acme Foods", expected_to_come: how many that line still waits for
    expected_choices   [{"id", "words"}] when several open receipts expect the item: the receiver picks
    not_expected       "Not expected from Acme Foods: BOLT Bolt M8." (the supplier expects other goods)
    printer            the printer chosen on a device bound to no station

No Flask here.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Item, Printer, Supplier
from ..services import expected
from ..services.errors import Invalid
from .inputs import held

DERIVED = ("expected_ref", "expected_to_come", "expected_choices", "not_expected")
SOURCES_RECOMPUTED = ("expected", "usual")  # a supplier found by the lookup, found again each time


def match(session: Session, draft: dict) -> dict:
    """The draft with the expected receipt line it is received against (an announced SSCC's, else the
    only open line expecting the item, of the label's or chosen supplier when there is one), what it
    fills (item, supplier lot, the pallet's quantity), and whose goods these are."""
    draft = {k: v for k, v in draft.items() if k not in DERIVED}
    if draft.get("supplier_from") in SOURCES_RECOMPUTED:
        for key in ("supplier", "supplier_name", "supplier_from"):
            draft.pop(key, None)
    elif draft.get("supplier"):
        draft.setdefault("supplier_from", "label")
    given = session.scalar(select(Supplier).where(Supplier.code == draft["supplier"])) if draft.get("supplier") else None
    item = session.scalar(select(Item).where(Item.sku == draft["sku"])) if draft.get("sku") else None

    line = None
    pallet = expected.open_pallet(session, draft["sscc"]) if draft.get("sscc") else None
    if pallet is not None and (item is None or pallet.line.item_id == item.id) and (
            given is None or pallet.line.expected.supplier_id == given.id):
        line = pallet.line
        if item is None:
            item = line.item
            draft.update(sku=item.sku, item_name=item.name, unit=item.unit, decimals=item.qty_decimals,
                         labels=item.labels_per_receipt)
        if pallet.qty and not draft.get("qty"):
            draft["qty"] = pallet.qty
    elif item is not None:
        lines = expected.open_lines_for(session, item, given)
        picked = [ln for ln in lines if ln.id == draft.get("expected_line")]
        if len(lines) > 1:  # the receiver picks (and may pick again)
            draft["expected_choices"] = [{"id": ln.id, "words": _choice_words(ln)} for ln in lines]
        if picked or len(lines) == 1:
            line = (picked or lines)[0]
        elif not lines and given is not None and expected.open_from(session, given):
            draft["not_expected"] = f"Not expected from {given.name}: {item.sku} {item.name}."

    if line is not None:
        draft.update(expected_line=line.id, expected_to_come=max(line.qty - line.received_qty, 0),
                     expected_ref=f"{line.expected.reference} from {line.expected.supplier.name}")
        if line.supplier_lot and not draft.get("supplier_lot"):
            draft["supplier_lot"] = line.supplier_lot
    else:
        draft.pop("expected_line", None)
    if not draft.get("supplier"):
        source, how = (line.expected.supplier, "expected") if line is not None else (
            item.supplier if item is not None else None, "usual")
        if source is not None:
            draft.update(supplier=source.code, supplier_name=source.name, supplier_from=how)
    return draft


def _choice_words(line) -> str:
    due = f", due {line.expected.expected_on.isoformat()}" if line.expected.expected_on else ""
    to_come = max(line.qty - line.received_qty, 0)
    return f"{line.expected.reference} from {line.expected.supplier.name}{due}: {to_come} {line.item.unit} to come"


def over_words(draft: dict) -> str | None:
    """"12 more than expected" when the quantity is more than the expected line still waits for."""
    qty, to_come = held(draft.get("qty")), held(draft.get("expected_to_come"))
    if draft.get("expected_line") and qty is not None and to_come is not None:
        over = qty - to_come
        if over > 0:
            return f"{over} more than expected ({draft['expected_to_come']} still to come on {draft['expected_ref']})."
    return None


def take_choices(session: Session, draft: dict, form: dict) -> dict:
    """The receiver's picks in `form` (those present): the supplier (a code), the expected delivery (a line
    id among the choices offered, "" for none), the printer (a name). Invalid in words for a bad one."""
    draft = dict(draft)
    if "supplier" in form:
        code = (form.get("supplier") or "").strip()
        if code:
            supplier = session.scalar(select(Supplier).where(Supplier.code == code[:20]))
            if supplier is None:
                raise Invalid(f"There is no supplier {code[:20]!r} — pick one from the list.",
                              code="unknown_supplier", field="supplier")
            draft.update(supplier=supplier.code, supplier_name=supplier.name, supplier_from="chosen")
        elif draft.get("supplier_from") == "chosen":
            for key in ("supplier", "supplier_name", "supplier_from"):
                draft.pop(key, None)
    if "expected_line" in form:
        text = (form.get("expected_line") or "").strip()
        offered = {c["id"] for c in draft.get("expected_choices") or []}
        if not text:
            draft.pop("expected_line", None)
        elif not text.isdigit() or int(text) not in offered:
            raise Invalid("Pick the delivery from the list.", code="unknown_expected", field="expected")
        else:
            draft["expected_line"] = int(text)
    if "printer" in form:
        name = (form.get("printer") or "").strip()[:60]
        if name and session.scalar(select(Printer.id).where(Printer.name == name, Printer.active.is_(True))) is None:
            raise Invalid(f"There is no printer {name!r} in use — pick one from the list.",
                          code="unknown_printer", field="printer")
        draft["printer"] = name or None
    return {k: v for k, v in draft.items() if v is not None}


def printers(session: Session) -> list[str]:
    """The names of the printers in use, for a device bound to no station to choose from."""
    return list(session.scalars(select(Printer.name).where(Printer.active.is_(True)).order_by(Printer.name)))


def suppliers(session: Session) -> list[tuple[str, str]]:
    """(code, name) of every supplier, by name: the receiver's list when the goods name none."""
    return [(s.code, s.name) for s in session.scalars(select(Supplier).order_by(Supplier.name, Supplier.code))]
