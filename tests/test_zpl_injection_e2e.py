"""ZPL injection end to end, on both backends: a supplier lot and an item name holding ZPL commands
(`^XZ^XA^FO0,0^GB800,800,800^FS^XZ`: end the label, start another, print a black box) and tilde commands
(`~JA` cancels every job in the printer, `~HS` asks for its status) go through the real receipt API
(POST /api/v1/receipts with labels) and the line page's Finish into print jobs. Each job's payload
(PrintJob.payload, the bytes sent to the printer) is one label format — one ^XA, one ^XZ, the copies
as ^PQ — with no tilde anywhere (a tilde command runs even inside field data, so every data tilde is
^FH-escaped as _7E) and the hostile text only ^FH-escaped in field data; the job keeps the text as it
was, and the label preview draws it literally. (The renderer's own escaping is unit-tested in
tests/test_labels*.py.)
"""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import select

from factories import gtin13
from labels.layout import Text, TextBlock
from labels.templates import TEMPLATES
from labels.zpl import field_hex
from station.models import LocationKind, Printer, PrintJob, Role, StationDevice
from station.services import catalog, production_runs, receiving
from station.services.labels import render_png
from station.services.tokens import create_token

BOX = "^XZ^XA^FO0,0^GB800,800,800^FS^XZ"
TILDES = "~JA~HS~JA"
ITEM_NAME = f"Jam {BOX} ~JA ~HS"
GTIN = gtin13("590000000002").zfill(14)
FIELD = re.compile(rb"\^FD(.*?)\^FS", re.S)


@pytest.fixture
def site(app):
    db = app.extensions["station.db"]
    with db.write() as s:
        catalog.create_item(s, sku="JAM", name=ITEM_NAME, gtins=[GTIN], shelf_life_days=30)
        catalog.create_supplier(s, code="ACME", name=f"Acme {TILDES}")
        dock = catalog.create_location(s, code="DOCK", kind=LocationKind.DOCK)
        line = catalog.create_location(s, code="LINE-1", kind=LocationKind.LINE)
        zebra = Printer(name="zebra", url="sim://zebra", label_size="4x6", dpi=203)
        s.add(zebra)
        s.flush()
        s.add_all([StationDevice(name="Dock 1", location_id=dock.id, printer_id=zebra.id),
                   StationDevice(name="Line 1", location_id=line.id, printer_id=zebra.id)])
        secret = create_token(s, "erp", Role.RECEIVER)
    return {"db": db, "auth": {"Authorization": f"Bearer {secret}"}}


def assert_one_clean_format(payload: bytes, copies: int) -> None:
    """One label format: one ^XA … ^XZ printed `copies` times, no tilde command, data fields escaped."""
    assert payload.count(b"^XA") == 1 and payload.count(b"^XZ") == 1, payload
    assert payload.startswith(b"^XA") and payload.endswith(f"^PQ{copies}^XZ".encode()), payload[-40:]
    assert b"~" not in payload, "a tilde command would run even inside field data"
    # Every command outside field data is one the renderer writes; ^GB only draws the label's own boxes.
    outside = FIELD.sub(b"", payload)
    assert b"^GB800,800,800" not in outside and b"^GB800,800,800" not in payload


def job(db, job_id: int) -> PrintJob:
    with db.read() as s:
        found = s.get(PrintJob, job_id)
        s.expunge(found)
        return found


def label_texts(found: PrintJob) -> list[str]:
    layout = TEMPLATES[found.template](found.data, found.label_size, found.dpi)
    return [el.text for el in layout.elements if isinstance(el, (Text, TextBlock))]


@pytest.mark.parametrize("supplier_lot", [BOX, TILDES, f"^FH_5E{TILDES}_7E^XZ"], ids=["format", "tilde", "escape"])
def test_a_receipt_with_hostile_supplier_lot_and_item_name_prints_one_clean_label(app, client, site, supplier_lot):
    response = client.post("/api/v1/receipts", headers=site["auth"], json={
        "sku": "JAM", "qty": 12, "supplier": "ACME", "supplier_lot": supplier_lot, "station": "Dock 1",
        "labels": {"copies": 3}})
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["supplier_lot"] == supplier_lot and body["item"]["name"] == ITEM_NAME
    [queued] = body["print_jobs"]
    found = job(site["db"], queued["id"])
    assert found.copies == 3
    assert_one_clean_format(found.payload, 3)
    # The job keeps the text as given; the label (and so its preview) shows it literally, shortened with
    # "…" to the label's width; the payload has exactly that text, ^FH-escaped, as field data.
    assert found.data["supplier_lot"] == supplier_lot and found.data["item_name"] == ITEM_NAME
    texts = label_texts(found)
    [lot_line] = [t for t in texts if t.startswith("SUPPLIER LOT")]
    assert lot_line.startswith(f"SUPPLIER LOT  {supplier_lot[:12]}"), lot_line
    [name] = [t for t in texts if t.startswith("Jam ")]
    assert name.startswith("Jam ^XZ^XA^FO0,0"), name
    fields = FIELD.findall(found.payload)
    assert field_hex(lot_line).encode() in fields and field_hex(name).encode() in fields, fields
    for match in FIELD.finditer(found.payload):
        if b"_5E" in match.group(1) or b"_7E" in match.group(1):
            assert found.payload[:match.start()].endswith(b"^FH"), match.group(0)


def test_the_label_preview_draws_the_text_it_was_given(app, client, site, signed_in):
    response = client.post("/api/v1/receipts", headers=site["auth"], json={
        "sku": "JAM", "qty": 5, "supplier": "ACME", "supplier_lot": BOX, "station": "Dock 1", "labels": {}})
    assert response.status_code == 201, response.get_json()
    found = job(site["db"], response.get_json()["print_jobs"][0]["id"])
    signed_in(client, "admin")
    preview = client.get(f"/printers/jobs/{found.id}/preview.png")
    assert preview.status_code == 200 and preview.mimetype == "image/png"
    assert preview.data == render_png("lot", found.data, found.label_size, found.dpi)
    # …and it is not the picture of the label with some other supplier lot: the text is drawn.
    other = render_png("lot", dict(found.data, supplier_lot="PLAIN-LOT-1"), found.label_size, found.dpi)
    assert preview.data != other
    assert Image.open(io.BytesIO(preview.data)).format == "PNG"
    page = client.get(f"/printers/jobs/{found.id}")
    assert page.status_code == 200


def test_a_gs1_label_cannot_carry_zpl_in_its_lot(app, client, site):
    # GS1 AI 10 allows no ^ or ~ (character set 82): such a "label" is refused and nothing is printed.
    code = f"]C101{GTIN}10^XZ~JA"
    response = client.post("/api/v1/receipts", headers=site["auth"], json={"code": code, "qty": 1, "labels": {}})
    assert response.status_code == 422, response.get_json()
    with site["db"].read() as s:
        assert s.scalars(select(PrintJob)).all() == []


def test_the_lines_finish_prints_the_hostile_item_name_as_text(app, client, site, signed_in, bound_station):
    db = site["db"]
    with db.write() as s:
        dock, line = catalog.location_by_code(s, "DOCK"), catalog.location_by_code(s, "LINE-1")
        part = receiving.receive(s, item=catalog.item_by_sku(s, "JAM"), qty=10, location=dock,
                                 supplier_lot=BOX)
        run = production_runs.start(s, item=catalog.item_by_sku(s, "JAM"), location=line)
        production_runs.add_component(s, run, part, 4, location=dock)
        run_id = run.id
    signed_in(client, "line_operator")
    bound_station(client, "Line 1")
    response = client.post("/line/finish", data={"run": str(run_id), "qty": "6", "copies": "2"})
    assert response.status_code == 303 and f"/line/runs/{run_id}" in response.headers["Location"]
    with db.read() as s:
        [found] = s.scalars(select(PrintJob)).all()
        s.expunge(found)
    assert found.copies == 2
    assert_one_clean_format(found.payload, 2)
    assert field_hex("Jam ^XZ^XA").encode() in found.payload
    assert found.data["item_name"] == ITEM_NAME
    assert any(t.startswith("Jam ^XZ^XA") for t in label_texts(found))
    run_page = client.get(f"/line/runs/{run_id}")
    assert run_page.status_code == 200 and "Jam ^XZ^XA^FO0,0^GB800,800,800^FS^XZ ~JA ~HS" in run_page.get_data(
        as_text=True)
