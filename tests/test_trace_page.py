"""The trace page and its files, through the Flask client on SQLite and PostgreSQL: supervisors only,
the picture (SVG) and the table with exact lots, shipments and receipts, CSV rows, a PDF read back,
refusals in words, wedge scans, and a summarised picture for a large trace."""
from __future__ import annotations

import csv
import io
import re

import pytest
from pypdf import PdfReader

from station.services import catalog, splits

from factories import TODAY
from test_trace import build_genealogy


@pytest.fixture
def site(app):
    return build_genealogy(app.extensions["station.db"])


def _svg(html: str) -> str:
    match = re.search(r"<svg[^>]*trace-graph__svg.*?</svg>", html, re.S)
    assert match, "no picture on the page"
    return match.group(0)


def _rows(html: str, cls: str) -> list[str]:
    return re.findall(rf'<tr class="{cls}[^"]*" data-lot="([^"]+)"', html)


def test_only_supervisors_may_trace(client, signed_in, site):
    assert client.get(f"/trace/{site.flour}").status_code == 302  # signed out: to the sign-in page
    signed_in(client, "picker")
    refused = client.get(f"/trace/{site.flour}")
    assert refused.status_code == 403 and "supervisor" in refused.get_data(as_text=True).lower()
    assert client.get(f"/trace/{site.flour}.csv").status_code == 403


def test_forward_page_shows_every_lot_shipment_and_customer(client, signed_in, site):
    signed_in(client, "supervisor")
    page = client.get(f"/trace/{site.flour}?direction=forward")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert sorted(_rows(html, "trace-row")) == sorted([site.flour, site.pie, site.cookie, site.pie_part])
    assert sorted(_rows(html, "trace-shipment")) == sorted([site.pie, site.pie_part, site.cookie])
    assert "O-1" in html and "O-2" in html and "O-3" in html
    svg = _svg(html)
    keys = set(re.findall(r'data-key="([^"]+)"', svg))
    assert keys == {f"lot:{site.flour}", f"lot:{site.pie}", f"lot:{site.cookie}", f"lot:{site.pie_part}",
                    "customer:SHOP", "customer:BIG"}
    # quantities on the arrows: components used, the split, and what went to each customer
    labels = re.findall(r'font-weight="700" fill="#111418">([^<]+)</text>', svg)
    assert sorted(labels) == sorted(["30", "40", "5 split", "8", "3", "10"])
    assert 'href="/trace/' in svg and "Corner Shop" in svg and "Big Mart" in svg
    assert "Download CSV" in html and f"/trace/{site.flour}.pdf?direction=forward" in html
    assert 'data-scan-url="/trace/scan?direction=forward"' in html


def test_backward_page_shows_receipts_and_suppliers(client, signed_in, site):
    signed_in(client, "admin")
    html = client.get(f"/trace/{site.pie_part}").get_data(as_text=True)
    assert sorted(_rows(html, "trace-row")) == sorted([site.pie_part, site.pie, site.flour, site.sugar])
    assert sorted(_rows(html, "trace-receipt")) == sorted([site.flour, site.sugar])
    assert "000000000000000017" in html and "Rita Receiver" in html and "S-SU-1" in html
    keys = set(re.findall(r'data-key="([^"]+)"', _svg(html)))
    assert keys == {f"lot:{site.pie_part}", f"lot:{site.pie}", f"lot:{site.flour}", f"lot:{site.sugar}",
                    "supplier:ACME"}
    assert "Backward — where it came from" in html


def test_typed_lot_opens_its_trace_and_refusals_are_in_words(client, signed_in, site):
    signed_in(client, "supervisor")
    typed = client.get(f"/trace?lot=%20{site.pie}%0D&direction=forward")
    assert typed.status_code == 302 and typed.headers["Location"] == f"/trace/{site.pie}?direction=forward"
    assert client.get("/trace").status_code == 200
    empty = client.get("/trace?lot=")
    assert empty.status_code == 400 and "Nothing typed" in empty.get_data(as_text=True)
    missing = client.get("/trace/NO-SUCH-LOT")
    assert missing.status_code == 404 and "There is no lot &#39;NO-SUCH-LOT&#39;" in missing.get_data(as_text=True)
    bad = client.get(f"/trace/{site.pie}?direction=sideways")
    assert bad.status_code == 400 and "not &#39;sideways&#39;" in bad.get_data(as_text=True)
    assert "Traceback" not in bad.get_data(as_text=True)
    for ext in ("csv", "pdf", "svg"):
        gone = client.get(f"/trace/NO-SUCH-LOT.{ext}")
        assert gone.status_code == 404 and gone.mimetype == "text/plain" and "no lot" in gone.get_data(as_text=True)
        wrong = client.get(f"/trace/{site.pie}.{ext}?direction=up")
        assert wrong.status_code == 400 and "'backward'" in wrong.get_data(as_text=True)


def test_a_wedge_scan_of_a_lot_or_pallet_opens_its_trace(client, signed_in, site):
    signed_in(client, "supervisor")
    answer = client.post("/trace/scan?direction=forward", data={"code": site.cookie, "source": "wedge"})
    assert answer.status_code == 200 and answer.headers["HX-Redirect"] == f"/trace/{site.cookie}?direction=forward"
    pallet = client.post("/trace/scan", data={"code": "000000000000000017", "source": "wedge"})
    assert pallet.headers["HX-Redirect"] == f"/trace/{site.flour}?direction=backward"
    unknown = client.post("/trace/scan", data={"code": "NOPE-123", "source": "wedge"})
    assert "HX-Redirect" not in unknown.headers and 'data-ok="0"' in unknown.get_data(as_text=True)
    place = client.post("/trace/scan", data={"code": "A-01", "source": "wedge"})
    assert "HX-Redirect" not in place.headers and "That is not a lot" in place.get_data(as_text=True)
    empty = client.post("/trace/scan", data={"code": "  "})
    assert empty.status_code == 400 and "Nothing scanned" in empty.get_data(as_text=True)


def test_csv_has_one_row_per_lot_receipt_and_shipment(client, signed_in, site):
    signed_in(client, "supervisor")
    answer = client.get(f"/trace/{site.flour}.csv?direction=forward")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert f'filename="trace-forward-{site.flour}.csv"' in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    head = rows[0]
    assert head[0] == "record: lot, receipt or shipment" and head[1] == "depth: links from the traced lot"
    col = {h.split(":")[0]: i for i, h in enumerate(head)}
    lots = {(r[col["lot_number"]], r[col["depth"]]) for r in rows[1:] if r[0] == "lot"}
    assert lots == {(site.flour, "0"), (site.pie, "1"), (site.cookie, "1"), (site.pie_part, "2")}
    ships = {(r[col["lot_number"]], r[col["customer_code"]], r[col["order_number"]], r[col["qty"]])
             for r in rows[1:] if r[0] == "shipment"}
    assert ships == {(site.pie, "SHOP", "O-1", "8"), (site.pie_part, "BIG", "O-2", "3"),
                     (site.cookie, "SHOP", "O-3", "10")}
    pie = next(r for r in rows[1:] if r[0] == "lot" and r[col["lot_number"]] == site.pie)
    assert pie[col["made_from"]] == f"{site.flour} 30 ea production" and pie[col["stock_now"]] == "LINE-1 7"
    back = list(csv.reader(io.StringIO(client.get(f"/trace/{site.pie}.csv").get_data().decode("utf-8-sig"))))
    receipts = {(r[col["lot_number"]], r[col["supplier_lot"]], r[col["sscc"]], r[col["received_by"]], r[col["qty"]])
                for r in back[1:] if r[0] == "receipt"}
    assert receipts == {(site.flour, "S-FL-1", "000000000000000017", "Rita Receiver", "100"),
                        (site.sugar, "S-SU-1", "", "Rita Receiver", "50")}


def test_pdf_is_a_pdf_with_every_lot_in_its_text(client, signed_in, site):
    signed_in(client, "supervisor")
    answer = client.get(f"/trace/{site.flour}.pdf?direction=forward")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF-")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.data)).pages)
    for lot in (site.flour, site.pie, site.cookie, site.pie_part):
        assert lot in text
    assert "O-1" in text and "Big Mart" in text and f"Trace forward of lot {site.flour}" in text
    back = PdfReader(io.BytesIO(client.get(f"/trace/{site.pie_part}.pdf").data))
    text = "\n".join(page.extract_text() for page in back.pages)
    assert "Receipts of the lots it came from" in text and "S-SU-1" in text and "Rita Receiver" in text


def test_a_large_trace_is_summarised_in_the_picture_and_complete_in_the_table(client, signed_in, site):
    db = client.application.extensions["station.db"]
    with db.write() as s:
        cookie = catalog.lot_by_number(s, site.cookie)
        line = catalog.location_by_code(s, "LINE-1")
        parts = [splits.split_lot(s, cookie, 1, line, on=TODAY) for _ in range(39)]
        for part in parts[:30]:
            splits.split_lot(s, part, 1, line, on=TODAY)
    signed_in(client, "supervisor")
    html = client.get(f"/trace/{site.cookie}?direction=forward").get_data(as_text=True)
    assert len(_rows(html, "trace-row")) == 1 + 39 + 30
    assert "The picture is summarised: 70 lots are drawn as 3 groups" in html
    keys = set(re.findall(r'data-key="([^"]+)"', _svg(html)))
    assert keys == {"group:0:COOKIE", "group:1:COOKIE", "group:2:COOKIE", "customer:SHOP"}
    labels = re.findall(r'font-weight="700" fill="#111418">([^<]+)</text>', _svg(html))
    assert sorted(labels) == sorted(["39", "30", "10"])


# --- hostile text from suppliers' labels ---------------------------------------------------------

EVIL_LOT = '"><img src=x onerror=alert(1)>'
EVIL_PART = "@evil<script>alert(3)</script>"
EVIL_SUPPLIER_LOT = "<script>alert(2)</script>"
EVIL_CUSTOMER = "-2+3 <b>Shop</b>"


def hostile_genealogy(db):
    """The test genealogy with lot numbers, a supplier lot and a customer name that are markup or
    spreadsheet formulas (an imported lot number keeps whatever the supplier printed)."""
    from sqlalchemy import update

    from station.models import Lot

    site = build_genealogy(db, supplier_lot=EVIL_SUPPLIER_LOT, customer_name=EVIL_CUSTOMER)
    with db.write() as s:
        s.execute(update(Lot).where(Lot.lot_number == site.flour).values(lot_number=EVIL_LOT))
        s.execute(update(Lot).where(Lot.lot_number == site.pie_part).values(lot_number=EVIL_PART))
        s.execute(update(Lot).where(Lot.lot_number == site.sugar).values(supplier_lot="=HYPERLINK(\"http://x\")"))
    site.flour, site.pie_part = EVIL_LOT, EVIL_PART
    return site


def test_hostile_text_is_text_in_page_svg_csv_and_pdf(client, signed_in):
    from urllib.parse import quote

    site = hostile_genealogy(client.application.extensions["station.db"])
    signed_in(client, "supervisor")
    for direction in ("forward", "backward"):
        start = site.flour if direction == "forward" else site.pie_part
        page = client.get(f"/trace/{quote(start, safe='')}?direction={direction}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        for raw in ("<img src=x", "<script>alert", "<b>Shop"):
            assert raw not in html, (direction, raw)
        svg = _svg(html)
        assert "&lt;img src=x onerror=alert(1)&gt;" in svg or "&#34;&gt;&lt;img" in svg
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html or direction == "forward"
        assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert "&lt;b&gt;Shop&lt;/b&gt;" in client.get(f"/trace/{quote(site.flour, safe='')}?direction=forward").get_data(
        as_text=True)
    alone = client.get(f"/trace/{quote(site.pie_part, safe='')}.svg")
    assert alone.mimetype == "image/svg+xml" and b"<script>" not in alone.data and b"<img" not in alone.data
    import xml.dom.minidom

    xml.dom.minidom.parseString(alone.data)  # well-formed XML, escapes and all

    rows = list(csv.reader(io.StringIO(client.get(f"/trace/{quote(site.flour, safe='')}.csv?direction=forward")
                                       .get_data().decode("utf-8-sig"))))
    cells = {c for r in rows for c in r}
    assert "'@evil<script>alert(3)</script>" in cells and EVIL_PART not in cells
    assert "'-2+3 <b>Shop</b>" in cells and EVIL_CUSTOMER not in cells
    assert EVIL_LOT in cells  # starts with a quote mark: no formula, kept exactly
    back = list(csv.reader(io.StringIO(client.get(f"/trace/{quote(site.pie_part, safe='')}.csv")
                                       .get_data().decode("utf-8-sig"))))
    cells = {c for r in back for c in r}
    assert "'=HYPERLINK(\"http://x\")" in cells and EVIL_SUPPLIER_LOT in cells
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)

    answer = client.get(f"/trace/{quote(site.pie_part, safe='')}.pdf")
    assert answer.status_code == 200 and "filename*=UTF-8''trace-backward-%40evil%3Cscript%3E" in \
        answer.headers["Content-Disposition"]
    text = "".join("".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(answer.data)).pages)
    for raw in (EVIL_SUPPLIER_LOT, EVIL_LOT, EVIL_PART, '=HYPERLINK("http://x")'):
        assert "".join(raw.split()) in text, raw


def test_a_scan_of_the_stations_own_scanner_opens_its_trace_like_a_wedge_scan(client, signed_in, bound_station,
                                                                            site):
    """The trace page open at a station, showing forward: a sim:// scan there is applied on the server,
    and /floor/answer/<scan id> answers as the page's scan POST does (HX-Redirect, the same way round)."""
    from station.workflows.intake import ScanIn, take

    signed_in(client, "supervisor")
    station_id = bound_station(client, "QA desk")
    assert client.get(f"/trace/{site.flour}?direction=forward").status_code == 200
    taken = take(client.application.extensions["station.db"],
                 ScanIn(code=site.cookie, source="sim://qa-scanner", station_id=station_id))
    assert taken.workflow == "trace"
    device = client.get(f"/floor/answer/{taken.scan_id}", headers={"HX-Request": "true"})
    wedge = client.post("/trace/scan?direction=forward", data={"code": site.cookie, "source": "wedge"})
    assert device.status_code == wedge.status_code == 200
    assert device.headers["HX-Redirect"] == wedge.headers["HX-Redirect"] == f"/trace/{site.cookie}?direction=forward"
