"""The receiving page through the Flask client on both backends: a scanned pallet label fills the
receipt, confirming books lot + stock + ledger row + label job, refusals change nothing."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from station import clock
from station.models import HandlingUnit, Item, Lot, Movement, Operator, PrintJob, Role, Scan, StationDevice, Stock
from station.services import catalog, receiving
from station.services.actor import Actor

import actions
from test_expected_receipts import no_usual_supplier, usual_supplier
from factories import assert_books_balance, gtin13

BOLT_GTIN = gtin13("400000000001")
SSCC = "376130321109103420"
SSCC2 = "376130321109103437"
NEW_GTIN = gtin13("400000000077")
GS = "\x1d"
EXPIRY = (clock.today() + dt.timedelta(days=400)).strftime("%y%m%d")
EXPIRY_ISO = dt.datetime.strptime(EXPIRY, "%y%m%d").date().isoformat()
HX = {"HX-Request": "true"}


def pallet_label(sscc: str = SSCC, gtin: str = BOLT_GTIN, count: int | None = 40, lot: str = "S-77",
                 sep: str = GS, symbology: str = "]C1", supplier_gln: str | None = None) -> str:
    """A supplier's GS1-128 logistic label as one scan: SSCC, content GTIN, count, lot, expiry."""
    code = f"{symbology}00{sscc}02{gtin.zfill(14)}" + (f"412{supplier_gln}" if supplier_gln else "")
    if count is not None:
        code += f"37{count}{sep}"
    return code + f"10{lot}{sep}17{EXPIRY}"


@pytest.fixture
def site(site):
    """The small site plus a dock station with its printer, and people."""
    site.printer("dock-zebra")
    site.station("Dock 1", location="DOCK", printer="dock-zebra")
    with site.write() as s:
        s.add_all([Operator(badge="OP-MK", name="Maria Keller", role=Role.SUPERVISOR),
                   Operator(badge="OP-RR", name="Rita Receiver", role=Role.RECEIVER)])
        catalog.item_by_sku(s, "BOLT").labels_per_receipt = 2
        usual_supplier(s)
    return site


def sign_in(client, role: str = "receiver", station: str | None = "Dock 1") -> int:
    """Sign the client in as an operator with `role` (made here) at `station`; the operator's id."""
    op = actions.sign_in(client, role)
    if station:
        actions.bind_station(client, station)
    return op.id


scan = actions.scanner("/receive/scan", station="Dock 1")  # scan(client, code, source="wedge") -> the response


def token_of(html: str) -> str:
    marker = 'name="token" value="'
    return html[html.index(marker) + len(marker):].split('"', 1)[0]


def confirm(client, **form):
    page = client.get("/receive").get_data(as_text=True)
    form.setdefault("token", token_of(page))
    return client.post("/receive/confirm", data=form, headers=HX)


def counts(db) -> tuple:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Lot, Stock, Movement, PrintJob, HandlingUnit))


# --- a scanned label fills the receipt ---------------------------------------------------------------


@pytest.mark.parametrize("code", [
    pallet_label(),                                      # ]C1, FNC1 as GS
    pallet_label(sep="|", symbology=""),                 # no symbology id, the wedge's | for GS
    pallet_label(symbology=""),                          # GS, no symbology id
], ids=["C1-GS", "pipe", "GS"])
def test_a_scanned_pallet_label_fills_the_receipt(client, site, code):
    sign_in(client)
    response = scan(client, code)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-ok="1"' in html and "banner--ok" in html
    assert "40 ea × BOLT Bolt M8, lot S-77 — filled from the label." in html
    for shown in (SSCC, 'value="40"', 'value="S-77"', f'value="{EXPIRY_ISO}"', "BOLT", 'data-command="confirm"'):
        assert shown in html, shown
    # The receipt is kept: the page shows it again.
    page = client.get("/receive").get_data(as_text=True)
    assert 'value="S-77"' in page and SSCC in page and 'data-scan-url="/receive/scan"' in page
    with site.read() as s:
        logged = s.scalars(select(Scan)).one()
        assert logged.source == "wedge"


def test_a_device_bound_to_no_station_keeps_its_receipt_in_its_floor_session(client, app, site):
    sign_in(client, station=None)
    assert "filled from the label" in scan(client, pallet_label()).get_data(as_text=True)
    assert 'value="S-77"' in client.get("/receive").get_data(as_text=True)
    other = app.test_client()  # another operator's browser, also bound to no station: a receipt of its own
    sign_in(other, station=None)
    assert 'value="S-77"' not in other.get("/receive").get_data(as_text=True)


def test_the_two_barcodes_of_a_pallet_label_fill_one_receipt_in_either_order(client, site):
    sign_in(client)
    scan(client, f"]C100{SSCC}")
    html = scan(client, f"]C102{BOLT_GTIN.zfill(14)}3712{GS}10L-9").get_data(as_text=True)
    assert SSCC in html and 'value="12"' in html and 'value="L-9"' in html
    # Another pallet starts another receipt.
    html = scan(client, f"]C100{SSCC2}").get_data(as_text=True)
    assert "New pallet" not in html or SSCC2 in html
    assert SSCC2 in html and 'value="L-9"' not in html


def test_confirm_books_lot_stock_ledger_row_and_queues_labels_on_the_station_printer(client, site):
    op_id = sign_in(client)
    scan(client, pallet_label())
    response = confirm(client, qty="40", expiry=EXPIRY_ISO, supplier_lot="S-77")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    with site.read() as s:
        lot = s.scalars(select(Lot)).one()
        assert (lot.item.sku, lot.supplier_lot, lot.expiry.isoformat(), lot.on_hand) == ("BOLT", "S-77", EXPIRY_ISO, 40)
        stock = s.scalars(select(Stock)).one()
        assert (stock.location_id, stock.qty) == (catalog.location_by_code(s, "DOCK").id, 40)
        move = s.scalars(select(Movement)).one()
        station = s.scalar(select(StationDevice).where(StationDevice.name == "Dock 1"))
        assert (move.kind.value, move.qty, move.operator_id, move.station_id) == ("receive", 40, op_id, station.id)
        assert move.raw_scan and SSCC in move.raw_scan
        unit = s.scalars(select(HandlingUnit)).one()
        assert (unit.sscc, unit.received_by_id) == (SSCC, op_id)
        job = s.scalars(select(PrintJob)).one()
        assert (job.lot_id, job.copies, job.status.value, job.printer_id, job.station_id) == (
            lot.id, 2, "queued", station.printer_id, station.id)
        assert_books_balance(s)
        number, job_id = lot.lot_number, job.id
    assert f"Received — lot {number}" in html
    assert f'id="job-status-{job_id}"' in html and "dock-zebra" in html and "every 1000ms" in html
    assert 'data-receive-sound="ok"' in html and 'hx-swap-oob="innerHTML:#scan-current"' in html
    # The receipt is cleared for the next pallet.
    page = client.get("/receive").get_data(as_text=True)
    assert SSCC not in page


def test_confirming_twice_books_once(client, site):
    sign_in(client)
    scan(client, pallet_label())
    page = client.get("/receive").get_data(as_text=True)
    token = token_of(page)
    first = client.post("/receive/confirm", data={"token": token, "qty": "40"}, headers=HX)
    second = client.post("/receive/confirm", data={"token": token, "qty": "40"}, headers=HX)
    assert first.status_code == second.status_code == 200
    assert "already booked" in second.get_data(as_text=True)
    assert counts(site)[:4] == (1, 1, 1, 1)


def test_a_further_pallet_of_the_same_supplier_lot_joins_its_lot(client, site):
    sign_in(client)
    html = scan(client, pallet_label(supplier_gln="4000000000013")).get_data(as_text=True)
    assert "Acme Foods" in html  # the supplier, found by the label's GLN (412)
    confirm(client, qty="40")
    scan(client, pallet_label(sscc=SSCC2, supplier_gln="4000000000013"))
    html = confirm(client, qty="30").get_data(as_text=True)
    with site.read() as s:
        lot = s.scalars(select(Lot)).one()
        assert lot.on_hand == 70 and s.scalar(select(func.count()).select_from(HandlingUnit)) == 2
        assert f"Received — lot {lot.lot_number}" in html


def test_a_scan_of_the_stations_own_scanner_is_drawn_like_a_wedge_scans_answer(client, site):
    """The page open at Dock 1 takes its scanner's scans on the server (station/workflows/intake.py);
    station.js fetches the answer from /floor/answer/<scan id>: the same banner and receipt."""
    from station.workflows import intake

    sign_in(client)
    assert client.get("/receive").status_code == 200  # the receiving page is now open at Dock 1
    with site.read() as s:
        dock1 = s.scalar(select(StationDevice.id).where(StationDevice.name == "Dock 1"))
    taken = intake.take(site, intake.ScanIn(code=pallet_label().encode(), source="sim://dock-1", station_id=dock1))
    assert taken.workflow == "receiving" and taken.answer.ok
    response = client.get(f"/floor/answer/{taken.scan_id}", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["X-Scan-Id"] == str(taken.scan_id)
    assert f'data-scan-id="{taken.scan_id}"' in html and 'data-ok="1"' in html and "banner--ok" in html
    assert "40 ea × BOLT Bolt M8, lot S-77 — filled from the label." in html
    for shown in (SSCC, 'value="40"', 'value="S-77"', 'id="receive-work"', 'data-command="confirm"'):
        assert shown in html, shown
    # The receipt is the station's: the page (and a Confirm) goes on with what its scanner filled.
    assert confirm(client, qty="40").status_code == 200
    assert counts(site)[:2] == (1, 1)


# --- refusals --------------------------------------------------------------------------------------


def test_a_pallet_received_before_is_refused_with_who_and_when_and_nothing_changes(client, site):
    with site.write() as s:
        maria = s.scalar(select(Operator).where(Operator.badge == "OP-MK"))
        first = receiving.receive(s, item=catalog.item_by_sku(s, "BOLT"), qty=40,
                                  location=catalog.location_by_code(s, "DOCK"), sscc=SSCC, by=Actor(maria.id))
        unit = s.scalars(select(HandlingUnit)).one()
        stamp = unit.received_at.replace(tzinfo=dt.timezone.utc).astimezone(clock.site_zone())
    sign_in(client)
    before = counts(site)
    html = scan(client, pallet_label()).get_data(as_text=True)
    assert 'data-ok="0"' in html and "banner--error" in html
    assert f"Pallet {SSCC} was already received on {stamp:%Y-%m-%d %H:%M} by Maria Keller" in html
    assert first.lot_number in html and "Nothing was booked" in html
    assert 'id="receive-work"' not in html  # the receipt on the page stays as it was
    # Even a receipt typed with that SSCC cannot book it.
    assert SSCC not in client.get("/receive").get_data(as_text=True)
    assert counts(site) == before


def test_an_unknown_gtin_is_refused_for_a_receiver(client, site):
    sign_in(client, "receiver")
    before = counts(site)
    html = scan(client, pallet_label(gtin=NEW_GTIN)).get_data(as_text=True)
    assert 'data-ok="0"' in html
    assert f"GTIN {NEW_GTIN.zfill(14)} is not an item here — do not receive this pallet yet." in html
    assert "ask a supervisor" in html and "receive-newitem" not in html
    assert client.post("/receive/new-item", data={"sku": "NEW", "name": "New", "unit": "ea"},
                       headers=HX).status_code == 403
    refused = confirm(client, qty="40")
    assert refused.status_code == 422 and "a supervisor must add the item" in refused.get_data(as_text=True)
    assert counts(site) == before
    with site.read() as s:
        assert s.scalar(select(Item).where(Item.sku == "NEW")) is None


def test_a_supervisor_adds_the_unknown_item_and_the_receipt_goes_on(client, site):
    sign_in(client, "supervisor")
    html = scan(client, pallet_label(gtin=NEW_GTIN)).get_data(as_text=True)
    assert "You may add the item below" in html and "receive-newitem" in html
    bad = client.post("/receive/new-item", data={"sku": "", "name": "Oat milk", "unit": "ea"}, headers=HX)
    assert bad.status_code == 422 and "The SKU is required." in bad.get_data(as_text=True)
    added = client.post("/receive/new-item", data={"sku": "OAT-1", "name": "Oat milk 1 L", "unit": "case"},
                        headers=HX)
    text = added.get_data(as_text=True)
    assert added.status_code == 200 and "Item OAT-1 Oat milk 1 L added with GTIN" in text
    assert 'value="S-77"' in text and 'value="40"' in text  # what the label said is still there
    assert confirm(client, qty="40", supplier="ACME").status_code == 200  # a new item has no usual supplier
    with site.read() as s:
        lot = s.scalars(select(Lot)).one()
        assert (lot.item.sku, lot.item.unit, lot.supplier_lot, [g.gtin for g in lot.item.gtins]) == (
            "OAT-1", "case", "S-77", [NEW_GTIN.zfill(14)])


# --- by hand ---------------------------------------------------------------------------------------


def test_a_receipt_without_any_label_by_hand(client, site):
    no_usual_supplier(site, "MILK")
    sign_in(client)
    found = client.get("/receive/items?q=milk", headers=HX).get_data(as_text=True)
    assert "MILK" in found and "BOLT" not in found and "hx-post=\"/receive/item\"" in found
    assert "No item matches" in client.get("/receive/items?q=zzz", headers=HX).get_data(as_text=True)
    chosen = client.post("/receive/item", data={"sku": "MILK", "qty": "12"}, headers=HX).get_data(as_text=True)
    assert "Milk 1 L" in chosen and 'value="12"' in chosen
    expiry = (clock.today() + dt.timedelta(days=20)).isoformat()
    assert client.post("/receive/draft", data={"qty": "12", "expiry": expiry, "supplier_lot": "M-5"}).status_code == 204
    # MILK has no usual supplier and the receipt no label: the receiver picks the supplier.
    assert 'name="supplier"' in chosen and '<option value="ACME">Acme Foods</option>' in chosen
    refused = confirm(client, qty="12", expiry=expiry, supplier_lot="M-5")
    assert refused.status_code == 422 and "Still needed: the supplier" in refused.get_data(as_text=True)
    assert counts(site)[0] == 0
    response = confirm(client, qty="12", expiry=expiry, supplier_lot="M-5", supplier="ACME")
    assert response.status_code == 200, response.get_data(as_text=True)
    with site.read() as s:
        lot = s.scalars(select(Lot)).one()
        assert (lot.item.sku, lot.on_hand, lot.expiry.isoformat(), lot.supplier_lot) == ("MILK", 12, expiry, "M-5")
        assert s.scalar(select(func.count()).select_from(HandlingUnit)) == 0
        job = s.scalars(select(PrintJob)).one()
        assert job.copies == 1  # MILK: the default of one label per receipt


@pytest.mark.parametrize("form,status,words", [
    ({"qty": "abc"}, 422, "is not a number"),
    ({"qty": "0"}, 422, "must be more than 0"),
    ({"qty": ""}, 422, "Still needed: the quantity"),
    ({"qty": "5", "expiry": "31.12.2027"}, 422, "is not a date"),
    ({"qty": "5", "supplier": "NOBODY"}, 422, "There is no supplier &#39;NOBODY&#39;"),
    ({"qty": "5", "supplier_lot": "X" * 41}, 422, "at most 40 characters"),
])
def test_bad_input_is_refused_in_words_and_changes_nothing(client, site, form, status, words):
    sign_in(client)
    client.post("/receive/item", data={"sku": "BOLT"}, headers=HX)
    before = counts(site)
    response = confirm(client, **form)
    html = response.get_data(as_text=True)
    assert response.status_code == status and words in html, html
    assert "banner--error" in html and "Traceback" not in html
    assert counts(site) == before


def test_a_receipt_without_an_item_says_what_is_missing(client, site):
    sign_in(client)
    html = confirm(client, qty="5").get_data(as_text=True)
    assert "Still needed: the item." in html and counts(site)[0] == 0


# --- who may ---------------------------------------------------------------------------------------


def test_the_page_is_for_receivers_and_supervisors(client, site):
    assert client.get("/receive").status_code == 302  # signed out: to the sign-in page
    sign_in(client, "picker")
    assert client.get("/receive").status_code == 403
    assert scan(client, pallet_label()).status_code == 403
    sign_in(client, "receiver")
    page = client.get("/receive")
    assert page.status_code == 200 and "Scan the pallet label" in page.get_data(as_text=True)


# --- against expected receipts; goods out of date; a device bound to no station ----------------------------


def test_an_expected_pallet_is_shown_and_booked_against_its_delivery(client, site):
    from station.services import expected

    with site.write() as s:
        expected.enter_expected_receipt(s, supplier_code="ACME", reference="ASN-5", lines=[
            expected.ExpectedLineIn(qty=40, sku="BOLT", ssccs=(SSCC,)), expected.ExpectedLineIn(qty=12, sku="MILK")])
    sign_in(client)
    html = scan(client, f"]C100{SSCC}").get_data(as_text=True)  # the SSCC alone: the ASN says the rest
    assert "Expected: ASN-5 from Acme Foods" in html and 'value="40"' in html and "(as expected)" in html
    done = confirm(client, qty="40").get_data(as_text=True)
    assert "Against <strong>ASN-5 from Acme Foods</strong>" in done
    assert "Still missing from Acme Foods (ASN-5): 12 ea MILK." in done
    over = scan(client, pallet_label(sscc=SSCC2, gtin=gtin13("400000000002"), count=20)).get_data(as_text=True)
    assert "8 more than expected (12 still to come on ASN-5 from Acme Foods)." in over and "banner--error" in over


def test_goods_past_their_expiry_go_into_quarantine_with_red_words(client, site):
    sign_in(client)
    client.post("/receive/item", data={"sku": "BOLT"}, headers=HX)
    response = confirm(client, qty="5", expiry="2020-01-01")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "banner--error" in html
    assert "Expired on 2020-01-01" in html and "is in quarantine" in html
    with site.read() as s:
        assert s.scalars(select(Lot)).one().status.value == "quarantine"


def test_a_device_bound_to_no_station_offers_the_printers(client, site):
    site.printer("office-laser")
    sign_in(client, station=None)
    client.post("/receive/item", data={"sku": "BOLT"}, headers=HX)
    page = client.get("/receive").get_data(as_text=True)
    assert "labels on the printer chosen below" in page
    assert '<option value="dock-zebra">dock-zebra</option>' in page and "— choose a printer —" in page
    before = counts(site)
    bad = confirm(client, qty="5", printer="nope")
    assert bad.status_code == 422 and "There is no printer &#39;nope&#39; in use" in bad.get_data(as_text=True)
    assert counts(site) == before
    assert confirm(client, qty="5", printer="office-laser").status_code == 200
    with site.read() as s:
        assert s.scalars(select(PrintJob)).one().printer_id == site["office-laser"]
    # The next receipt keeps the printer chosen.
    assert '<option value="office-laser" selected>' in client.get("/receive").get_data(as_text=True)
    client.post("/receive/item", data={"sku": "MILK"}, headers=HX)
    assert confirm(client, qty="3", printer="office-laser").status_code == 200
