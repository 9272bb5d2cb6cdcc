"""A lot counted in decimals in every file a supervisor downloads (trace CSV and PDF, audit CSV, recall
CSV), on SQLite and PostgreSQL: each quantity written to its item's decimals with its unit — 12.345 kg
as "12.345", 2.1 kg as "2.100" — never through a float, never "12.350000"."""
from __future__ import annotations

import csv
import io
import re
from decimal import Decimal, InvalidOperation

from pypdf import PdfReader

from factories import basic_site, received_lot
from station.models import LocationKind
from station.services import audit, catalog, production, recalls
from station.services.production import Component


def _site(db) -> dict[str, str]:
    """FLOUR (kg, 3 decimals): 12.345 kg and 0.005 kg more of one supplier lot at A-01; 2.1 kg of it made
    4 PIE (each); 1.5 kg retrieved by a recall of the flour."""
    basic_site(db)
    with db.write() as s:
        catalog.create_item(s, sku="FLOUR", name="Flour T55", unit="kg", qty_decimals=3)
        catalog.create_item(s, sku="PIE", name="Pie")
        catalog.create_location(s, code="Q-DOCK", kind=LocationKind.QUARANTINE)
        flour = received_lot(s, "FLOUR", Decimal("12.345"), supplier="ACME", supplier_lot="F-1")
        received_lot(s, "FLOUR", Decimal("0.005"), supplier="ACME", supplier_lot="F-1")
        pie = production.produce(s, item=catalog.item_by_sku(s, "PIE"), qty=4,
                                 location=catalog.location_by_code(s, "LINE-1"),
                                 components=[Component(flour, catalog.location_by_code(s, "A-01"), Decimal("2.1"))])
        numbers = {"flour": flour.lot_number, "pie": pie.lot_number}
    with db.write() as s:
        recall = recalls.open_recall(s, reason="Mould", lot=numbers["flour"])
        recalls.record_retrieved(s, recall, numbers["flour"], Decimal("1.5"), location="A-01")
        numbers["recall"] = recall.number
    return numbers


def _csv(answer) -> list[list[str]]:
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return list(csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig"))))


def _no_float_digits(rows: list[list[str]]) -> None:
    """No number cell carries a float's exponent or the stored millionths' zeros ("12.350000")."""
    for cell in (cell for row in rows for cell in row):
        try:
            Decimal(cell)
        except InvalidOperation:
            continue
        assert "e" not in cell.lower() and not re.search(r"\.\d*0000$", cell), cell


def test_trace_csv_and_pdf_write_decimal_lots_to_their_decimals_with_their_unit(db, client, signed_in):
    lots = _site(db)
    signed_in(client, "supervisor")
    rows = _csv(client.get(f"/trace/{lots['flour']}.csv?direction=forward"))
    col = {h.split(":")[0]: i for i, h in enumerate(rows[0])}
    by_lot = {r[col["lot_number"]]: r for r in rows[1:] if r[0] == "lot"}
    flour, pie = by_lot[lots["flour"]], by_lot[lots["pie"]]
    # 12.345 + 0.005 received, 2.1 used, 1.5 retrieved into quarantine: 10.25 kg, 8.75 of it at A-01.
    assert (flour[col["on_hand"]], flour[col["unit"]], flour[col["stock_now"]]) == (
        "10.250", "kg", "A-01 8.750; Q-DOCK 1.500")
    assert (pie[col["on_hand"]], pie[col["unit"]]) == ("4", "ea")
    assert pie[col["made_from"]] == f"{lots['flour']} 2.100 kg production"
    _no_float_digits(rows)

    back = _csv(client.get(f"/trace/{lots['pie']}.csv"))
    assert sorted((r[col["lot_number"]], r[col["qty"]], r[col["unit"]]) for r in back[1:] if r[0] == "receipt") == [
        (lots["flour"], "0.005", "kg"), (lots["flour"], "12.345", "kg")]
    _no_float_digits(back)

    pdf = client.get(f"/trace/{lots['pie']}.pdf")
    assert pdf.status_code == 200
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "10.250 kg" in text and "12.345 kg" in text and "0.005 kg" in text and "2.100 kg" in text


def test_the_audit_csv_writes_each_ledger_row_to_its_items_decimals(db, client, signed_in):
    lots = _site(db)
    signed_in(client, "supervisor")
    rows = _csv(client.get(f"/audit.csv?lot={lots['flour']}"))
    assert rows[0] == audit.CSV_HEADER
    booked = sorted((r["kind"], r["qty"], r["unit"]) for r in (dict(zip(rows[0], row)) for row in rows[1:]))
    assert booked == [("consume", "2.100", "kg"), ("move", "1.500", "kg"), ("receive", "0.005", "kg"),
                      ("receive", "12.345", "kg")]
    _no_float_digits(rows)


def test_the_recall_csv_writes_decimal_lots_exactly_and_totals_per_unit(db, client, signed_in):
    lots = _site(db)
    signed_in(client, "supervisor")
    rows = _csv(client.get(f"/recalls/{lots['recall']}.csv"))
    # The flour (kg) and the pie made of it (each) never add up: one line per unit.
    assert ["Stock retrieved", "0", "of", "4", "ea"] in rows
    assert ["Stock retrieved", "1.500", "of", "10.250", "kg"] in rows
    head = rows.index(next(r for r in rows if r[:1] == ["Lot"]))
    flour = next(r for r in rows[head:] if r[:1] == [lots["flour"]])
    assert (flour[3], flour[7], flour[8], flour[10]) == ("kg", "10.250", "10.250", "1.500")
    assert [lots["flour"], "Q-DOCK", "1.500", "kg"] in rows and [lots["flour"], "A-01", "8.750", "kg"] in rows
    assert any(r[1] == "retrieve" and (r[4], r[6], r[7]) == (lots["flour"], "1.500", "kg") for r in rows if len(r) == 9)
    _no_float_digits(rows)
