"""A supplier's label scanned into an API request (a receipt, a pick): read by the same resolver as the
floor, in that workflow, and what it counts taken as the floor takes it.

A catch-weight (variable-measure) case or pallet weighs what its label says (AI 310n/320n): a body that
says another weight is refused (422 label_mismatch), as is another count of cases. Any other label's
count (a case GTIN's pack, AI 30/37) fills a quantity the body leaves out; a quantity the body gives is
what is booked (a short delivery of a labelled pallet), as a worker keys it on the floor.
"""
from __future__ import annotations

from .. import get_db, quantities
from ..scanning import Resolution, ScanContext, resolve
from ..services.errors import Invalid


def read(code: str, workflow: str | None) -> Resolution:
    """The resolver's answer to `code` scanned in `workflow` (None: a look-up)."""
    with get_db().reader() as reader:
        return resolve(reader, code, ScanContext(workflow=workflow))


def counted(res: Resolution, qty: quantities.Qty | None, pieces: int | None) -> tuple:
    """(qty, pieces) of a request that scanned `res`: the body's checked against the label's, or the
    label's where the body gives none; a 422 when neither gives a quantity."""
    fields, item = res.fields or {}, (res.records or {}).get("item") or {}
    label_qty = quantities.parse(fields["qty"]) if fields.get("qty") else None
    label_pieces = fields.get("pieces") if item.get("variable_measure") else None
    weighed = item.get("variable_measure") and label_qty is not None
    if weighed and qty is not None and quantities.normal(qty) != label_qty:
        weight = quantities.said(label_qty, item.get("decimals"), item.get("unit"))
        raise Invalid(f"The label's net weight is {weight}, the body says qty {quantities.text(qty)}: a case "
                      f"weighs what its label says.",
                      code="label_mismatch", field="qty")
    if label_pieces is not None and pieces is not None and pieces != label_pieces:
        raise Invalid(f"The label counts {label_pieces} case{'s' if label_pieces != 1 else ''}, the body says "
                      f"pieces {pieces}.", code="label_mismatch", field="pieces")
    qty = label_qty if qty is None else qty
    if qty is None:
        raise Invalid("Give the qty: the label scanned counts nothing (no pack, count or net weight).",
                      code="qty_required", field="qty")
    return qty, (label_pieces if pieces is None else pieces)
