"""What a GS1 label says about quantity, in the scanned item's own unit.

- A pack: a GTIN of a packaging level (item_gtins.pack_qty) is that many of the item: one case label, or a
  plain scan of the case's barcode, is 12 ea.
- A count: AI 37 (trade items contained, with AI 02 the content's GTIN) is that many of the content GTIN's
  pack (x 1 for the item's own GTIN); AI 30 is a count of the item itself.
- A net weight, for a variable-measure (catch-weight) item only: AI 310n is kg and 320n lb, with n decimals
  (biip reads the value exactly). It is the quantity, converted to the item's unit exactly; the label's
  count (30/37, else 1 for one trade item) is the cases it comes in (pieces). A gross weight (330n, 340n),
  a price (392n) or any other measure is never taken for the goods' weight.

Exact or refused: a weight that does not convert exactly, or has more decimals than the item is counted
in, is refused in words (the worker keys it), never rounded; a net weight on a fixed-measure item is
refused too, because such an item's quantity is its count, not what a label weighs.
"""
from __future__ import annotations

from decimal import Decimal, Inexact, localcontext

from .. import quantities

# The net-weight AIs by their first three digits (the fourth is the decimals) and the unit they weigh in.
NET_WEIGHTS = {"310": "kg", "320": "lb"}


class NotAQuantity(Exception):
    """The label's quantity cannot be taken for this item; `message` says why, to the worker."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error, self.message = error, message


def net_weight(fields: dict, prefer: str | None = None) -> tuple[str, Decimal, str] | None:
    """(AI, value, unit) of the label's net weight, the one in `prefer`'s unit when it gives several."""
    found = [(m["ai"], Decimal(m["value"]), NET_WEIGHTS[m["ai"][:3]])
             for m in fields.get("measures") or () if m["ai"][:3] in NET_WEIGHTS]
    if not found:
        return None
    return next((w for w in found if w[2] == prefer), found[0])


def convert(value: Decimal, unit: str, to: str) -> quantities.Qty:
    """A weight in `unit` as the same weight in `to`, exactly (lb -> kg is exact: 0.45359237); a
    QuantityError when it has no exact decimal (kg -> lb)."""
    with localcontext() as ctx:
        ctx.prec = 60
        ctx.traps[Inexact] = True
        try:
            return quantities.normal(value * quantities.WEIGHTS_KG[unit] / quantities.WEIGHTS_KG[to])
        except Inexact:
            raise quantities.QuantityError(f"{quantities.text(value)} {unit} is no exact number of {to}") from None


def label_quantity(fields: dict, item: dict, pack: dict | None) -> dict:
    """What the label gives for `item` (lookup.item_of) scanned by a GTIN that is `pack` (lookup's, or
    None): {"qty": decimal string in the item's unit, "pieces": cases of a variable-measure item, "measure":
    words}, only the keys the label gives; NotAQuantity when it cannot be taken."""
    count = fields.get("units") or fields.get("count")
    if not (count or pack or item.get("variable_measure") or fields.get("measures")):
        return {}  # most labels: nothing but the goods (the path every GS1 scan takes)
    weight = net_weight(fields, item["unit"])
    what = f"{item['sku']} {item['name']}"
    if not item.get("variable_measure"):
        if weight is not None:
            ai, value, unit = weight
            raise NotAQuantity("not_variable_measure", (
                f"The label gives a net weight ({ai}: {quantities.said(value, unit=unit)}), but {what} is not a "
                f"variable-measure item: its quantity is its count in {item['unit']}, not a weight read from a "
                f"label — type the quantity, or ask a supervisor to make the item variable measure."))
        return _counted(fields, item, pack, count)
    out: dict = {}
    pieces = count or (1 if fields.get("gtin") else None)
    if pieces:
        out["pieces"] = pieces
    if weight is None:
        return out
    ai, value, unit = weight
    if value <= 0:
        raise NotAQuantity("invalid_weight", f"The net weight ({ai}) on this label is 0 {unit} — check the "
                                             f"label and key the weight.")
    if item["unit"] not in quantities.WEIGHTS_KG:
        raise NotAQuantity("not_a_weight", f"{what} is counted in {item['unit']}, not weighed: the label's net "
                                           f"weight ({ai}) cannot be its quantity — key the quantity.")
    label = quantities.said(value, unit=unit)
    try:
        qty = convert(value, unit, item["unit"])
    except quantities.QuantityError:
        raise NotAQuantity("inexact_weight", f"The label's net weight {label} ({ai}) is no exact number of "
                                             f"{item['unit']} — nothing was rounded: key the weight in "
                                             f"{item['unit']}.") from None
    decimals = item.get("decimals") or 0
    if quantities.decimals_of(qty) > decimals:
        allowed = "whole" if not decimals else f"{decimals} decimal{'s' if decimals > 1 else ''} of"
        converted = "" if unit == item["unit"] else f" is {quantities.said(qty, unit=item['unit'])}, which"
        raise NotAQuantity("too_many_decimals", (
            f"The label's net weight {label} ({ai}){converted} has more decimals than {item['sku']} is "
            f"counted in ({allowed} {item['unit']}) — nothing was rounded: key the weight."))
    if qty > quantities.MAX_QTY:
        raise NotAQuantity("invalid_qty", f"The label's net weight {label} ({ai}) is far too much for one "
                                          f"receipt — check the label and key the weight.")
    cases = f"{pieces} case{'s' if pieces != 1 else ''}, " if pieces else ""
    return {**out, "qty": quantities.text(qty), "measure": f"{cases}{quantities.said(qty, decimals, item['unit'])}"}


def _counted(fields: dict, item: dict, pack: dict | None, count: int | None) -> dict:
    """A fixed-measure item: the count of packs (37), the count of the item (30), or one pack."""
    unit = item["unit"]
    size = quantities.parse(pack["qty"]) if pack else 1
    pack_words = f"{pack['name']} of {quantities.said(size, unit=unit)}" if pack else ""
    words = None
    if fields.get("units"):
        qty = count * size
        if pack is not None:
            words = f"{count} × {pack_words} = {quantities.said(qty, item.get('decimals'), unit)}"
    elif count:
        qty = count
    elif pack is not None and fields.get("gtin"):  # one pack: the content GTIN (02) alone counts nothing
        qty, words = size, f"1 {pack['name']} = {quantities.said(size, unit=unit)}"
    else:
        return {}
    if qty > quantities.MAX_QTY:
        raise NotAQuantity("invalid_qty", f"The label counts {quantities.said(qty, unit=unit)} of {item['sku']} — "
                                          f"far too many; check the label and type the quantity.")
    out = {"qty": quantities.text(qty)}
    return {**out, "measure": words} if words else out
