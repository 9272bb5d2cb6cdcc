"""The pick pages through the Flask client: open orders, one-scan picks of the suggested lot, override
reasons for a younger lot, refusals that change nothing, partial and short picks, and shipping."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

import factories as f
from actions import scanner
from station import clock
from station.models import (Lot, LotStatus, Movement, MovementKind, Order, OrderLine, OrderStatus, Scan,
                            Stock)
from station.services import catalog, holds


@pytest.fixture
def site(site):
    """The small site with MILK (FEFO): the suggested lot `soon` (6 at A-01), a younger `later` (50 at
    A-02), and lots that must not be picked (held, quarantined, recalled, expired); BOLT (10 at A-01);
    order SO-1 for 10 MILK and 4 BOLT."""
    today = clock.today()
    days = dt.timedelta
    with site.write() as s:
        soon = f.received_lot(s, "MILK", 6, location="A-01", expiry=today + days(5), on=today)
        later = f.received_lot(s, "MILK", 50, location="A-02", expiry=today + days(20), on=today)
        held = f.received_lot(s, "MILK", 10, location="A-01", expiry=today + days(3), on=today)
        holds.hold(s, held, "Seal check")
        quarantined = f.received_lot(s, "MILK", 10, location="A-01", expiry=today + days(3), on=today)
        holds.hold(s, quarantined, "Lab sample", status=LotStatus.QUARANTINE)
        recalled = f.received_lot(s, "MILK", 10, location="A-02", expiry=today + days(2), on=today)
        recalled.status = LotStatus.RECALLED
        expired = f.received_lot(s, "MILK", 10, location="A-02", expiry=today - days(1),
                                 produced=today - days(20), on=today - days(20))
        bolt = f.received_lot(s, "BOLT", 10, location="A-01", on=today)
        f.order(s, "SO-1", [("MILK", 10), ("BOLT", 4)])
        lots = {name: lot.lot_number for name, lot in dict(
            soon=soon, later=later, held=held, quarantined=quarantined, recalled=recalled,
            expired=expired, bolt=bolt).items()}
    site.update(lots)
    return site


@pytest.fixture
def picker(client, signed_in):
    return signed_in(client, "picker", badge="OP-PICK", name="Pia Picker")


scan = scanner("/pick/SO-1/scan")  # scan(client, code, client_id=None) -> the response


def message(response) -> str:
    found = re.search(r'class="banner__message">(.*?)</p>', response.get_data(as_text=True), re.S)
    assert found, response.get_data(as_text=True)[:2000]
    return " ".join(found.group(1).split()).replace("&#39;", "'")


def kind(response) -> str:
    return re.search(r'class="banner banner--(\w+)', response.get_data(as_text=True)).group(1)


def picked(db, no: int) -> int:
    with db.read() as s:
        return s.scalar(select(OrderLine.picked_qty).join(Order)
                        .where(Order.number == "SO-1", OrderLine.line_no == no))


def picks(db) -> list[tuple[str, str, int, bool | None, str | None]]:
    with db.read() as s:
        return [(lot, mv.from_location.code, mv.qty, mv.followed_suggestion, mv.reason)
                for mv, lot in s.execute(select(Movement, Lot.lot_number).join(Lot, Lot.id == Movement.lot_id)
                                         .where(Movement.kind == MovementKind.PICK).order_by(Movement.id))]


def stock(db) -> dict:
    with db.read() as s:
        return dict(((lot, loc), qty) for lot, loc, qty in s.execute(
            select(Stock.lot_id, Stock.location_id, Stock.qty).order_by(Stock.id)))


def test_open_orders_and_the_pick_list_show_the_suggested_lot_location_and_quantity(client, site, picker):
    page = client.get("/pick")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "SO-1" in html and "Corner Shop" in html and 'href="/pick/SO-1"' in html

    page = client.get("/pick/SO-1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-scan-url="/pick/SO-1/scan"' in html
    current = html.split('class="card pick-current', 1)[1].split("</section>", 1)[0]
    assert site["soon"] in current and "A-01" in current and ">6 <" in current  # FEFO: the first to expire
    assert f"Line 1: scan lot {site['soon']} at A-01." in html
    assert 'data-command="next"' in html and 'data-command="confirm"' in html
    assert re.search(r'data-command="confirm" disabled', html)  # nothing picked yet


def test_home_links_to_picking(client, site, picker):
    assert 'href="/pick/"' in client.get("/").get_data(as_text=True)


def test_the_suggested_lot_confirms_with_one_scan(client, site, picker):
    db = site["db"]
    answer = scan(client, f"LOT:{site['soon']}")
    assert answer.status_code == 200
    assert kind(answer) == "ok"
    assert 'data-ok="1"' in answer.get_data(as_text=True)
    assert message(answer) == (f"Picked 6 ea of lot {site['soon']} from A-01. 4 ea more: lot {site['later']} "
                               f"at A-02.")
    assert picked(db, 1) == 6
    assert picks(db) == [(site["soon"], "A-01", 6, True, None)]
    with db.read() as s:  # the scan is in the scan log, by whom
        row = s.scalar(select(Scan).order_by(Scan.id.desc()))
        assert row.text == f"LOT:{site['soon']}" and row.operator_id == picker.id
        mv = s.scalar(select(Movement).where(Movement.kind == MovementKind.PICK))
        assert mv.operator_id == picker.id and mv.raw_scan == f"LOT:{site['soon']}"
    # the list now suggests the rest from the next lot (a partial pick split across lots)
    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    current = work.split('class="card pick-current', 1)[1].split("</section>", 1)[0]
    assert site["later"] in current and "A-02" in current and ">4 <" in current

    answer = scan(client, f"LOT:{site['later']}")
    assert message(answer) == f"Picked 4 ea of lot {site['later']} from A-02. Line 1 done."
    assert picks(db)[-1] == (site["later"], "A-02", 4, True, None)
    assert picked(db, 1) == 10


def test_a_retried_scan_picks_once(client, site, picker):
    first = scan(client, f"LOT:{site['soon']}", client_id="retry-0000001")
    again = scan(client, f"LOT:{site['soon']}", client_id="retry-0000001")
    assert kind(first) == "ok"
    assert "already handled" in message(again)
    assert picked(site["db"], 1) == 6
    assert len(picks(site["db"])) == 1


def test_a_younger_lot_warns_where_the_older_is_and_needs_a_reason(client, site, picker):
    db = site["db"]
    before = stock(db)
    answer = scan(client, f"LOT:{site['later']}")
    assert kind(answer) == "warn" and 'data-ok="0"' in answer.get_data(as_text=True)
    assert message(answer) == (f"Lot {site['later']} expires later than the suggested lot {site['soon']}, "
                               f"which is at A-01.")
    assert picks(db) == [] and stock(db) == before

    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    assert "Why not the older lot?" in work
    reasons = re.findall(r'name="reason" value="([^"]+)"', work.split("pick-override", 1)[1].split("</section>")[0])
    assert "Suggested lot blocked behind another pallet" in reasons
    assert 'data-command="cancel"' in work

    done = client.post("/pick/SO-1/override", data={"reason": "Suggested lot blocked behind another pallet"},
                       headers={"HX-Request": "true"})
    html = done.get_data(as_text=True)
    assert 'hx-swap-oob="innerHTML"' in html and "banner--ok" in html
    assert picks(db) == [(site["later"], "A-02", 10, False, "Suggested lot blocked behind another pallet")]
    assert picked(db, 1) == 10
    assert "not the suggested lot: Suggested lot blocked behind another pallet" in html


def test_scanning_the_older_lot_after_the_warning_picks_it_and_forgets_the_younger(client, site, picker):
    scan(client, f"LOT:{site['later']}")
    assert kind(scan(client, f"LOT:{site['soon']}")) == "ok"
    assert "Why not the older lot?" not in client.get("/pick/SO-1/work").get_data(as_text=True)
    cancel = client.post("/pick/SO-1/override", data={"reason": "Customer asked for a single lot on the order"})
    assert "Nothing waits for a reason" in cancel.get_data(as_text=True)
    assert [p[0] for p in picks(site["db"])] == [site["soon"]]


@pytest.mark.parametrize("which, words", [
    ("held", "is on hold — QA release needed; it cannot be picked."),
    ("quarantined", "is in quarantine — QA release needed; it cannot be picked."),
    ("recalled", "is recalled — it must not leave the site; it cannot be picked."),
    ("expired", "expired on"),
])
def test_a_lot_that_must_not_leave_is_refused_in_words_and_nothing_changes(client, site, picker, which, words):
    db = site["db"]
    before = stock(db)
    answer = scan(client, f"LOT:{site[which]}")
    assert kind(answer) == "error" and 'data-ok="0"' in answer.get_data(as_text=True)
    said = message(answer)
    assert said.startswith(f"Lot {site[which]} ") and words in said, said
    assert picks(db) == [] and stock(db) == before
    assert picked(db, 1) == 0
    with db.read() as s:
        assert s.scalar(select(Order.status).where(Order.number == "SO-1")) is OrderStatus.OPEN


def test_a_lot_of_an_item_the_order_does_not_need_is_refused(client, site, picker):
    db = site["db"]
    with db.write() as s:
        catalog.create_item(s, sku="JAM", name="Jam jar")
        jam = f.received_lot(s, "JAM", 5, location="A-02").lot_number
    answer = scan(client, f"LOT:{jam}")
    assert kind(answer) == "error"
    assert message(answer) == f"Wrong item: lot {jam} is JAM Jam jar. This order needs MILK, BOLT."
    assert picks(db) == []


def test_a_lot_for_another_line_of_the_order_picks_that_line(client, site, picker):
    answer = scan(client, f"LOT:{site['bolt']}")
    assert message(answer) == f"Picked 4 ea of lot {site['bolt']} from A-01. Line 2 done."
    assert picked(site["db"], 2) == 4


def test_unknown_codes_and_item_barcodes_say_what_to_scan(client, site, picker):
    assert "not known here" in message(scan(client, "LOT:NOPE-1"))
    said = message(scan(client, f.gtin13("400000000002")))
    assert said == "That is the barcode of MILK Milk 1 L, not of a lot — scan the lot label or the pallet label."


def test_partial_pick_with_a_set_quantity_then_short_pick_with_a_reason(client, site, picker):
    db = site["db"]
    set_qty = client.post("/pick/SO-1/qty", data={"qty": "4"}, headers={"HX-Request": "true"})
    assert "The next lot scan picks 4 ea." in set_qty.get_data(as_text=True)
    assert message(scan(client, f"LOT:{site['soon']}")) == (
        f"Picked 4 ea of lot {site['soon']} from A-01. 6 ea more: lot {site['soon']} at A-01.")
    assert picked(db, 1) == 4

    # the other 2 of that lot are not there: short, with a reason -> written off, next lot suggested
    short = client.post("/pick/SO-1/short", data={"reason": "Not at the location"}, headers={"HX-Request": "true"})
    html = short.get_data(as_text=True)
    assert (f"Short recorded: 2 ea of lot {site['soon']} at A-01 taken off the books (Not at the location)."
            in html)
    assert f"Next: lot {site['later']} at A-02." in html
    with db.read() as s:
        adjust = s.scalar(select(Movement).where(Movement.kind == MovementKind.ADJUST))
        assert (adjust.qty, adjust.from_location.code, adjust.reason, adjust.operator_id) == (
            2, "A-01", "Short pick SO-1 line 1: Not at the location", picker.id)
        f.assert_books_balance(s)
    assert kind(scan(client, f"LOT:{site['later']}")) == "ok"
    assert picked(db, 1) == 10


def test_a_short_tap_on_a_list_drawn_before_the_suggestion_changed_writes_off_nothing(client, site, picker):
    db = site["db"]
    page = client.get("/pick/SO-1").get_data(as_text=True)
    soon = site["soon"]
    assert f'name="lot" value="{soon}"' in page  # the reasons carry the lot they were shown with
    # the worker's list still showed the later lot (say, before another picker's pick): refused in words
    stale = client.post("/pick/SO-1/short", headers={"HX-Request": "true"},
                        data={"reason": "Not at the location", "lot": site["later"], "location": "A-02"})
    html = stale.get_data(as_text=True)
    assert (f"The list changed: lot {site['soon']} at A-01 is suggested now. Nothing was written off"
            in html)
    with db.read() as s:
        assert s.scalar(select(Movement).where(Movement.kind == MovementKind.ADJUST)) is None
        f.assert_books_balance(s)
    # the list as drawn now: written off
    fresh = client.post("/pick/SO-1/short", headers={"HX-Request": "true"},
                        data={"reason": "Not at the location", "lot": site["soon"], "location": "A-01"})
    assert f"Short recorded: 6 ea of lot {soon} at A-01" in fresh.get_data(as_text=True)


def test_a_line_without_enough_stock_ships_short(client, site, picker):
    db = site["db"]
    with db.write() as s:
        s.execute(OrderLine.__table__.update().where(OrderLine.line_no == 2).values(qty=25))
    scan(client, f"LOT:{site['soon']}")
    scan(client, f"LOT:{site['later']}")
    answer = scan(client, f"LOT:{site['bolt']}")
    assert message(answer) == f"Picked 10 ea of lot {site['bolt']} from A-01. 15 ea more needed, but no pickable stock is left."
    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    assert "No pickable stock left — this line ships 15 ea short." in work
    assert 'data-ready="1"' in work and not re.search(r'data-command="confirm" disabled', work)
    shipped = client.post("/pick/SO-1/ship", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Order SO-1 shipped to Corner Shop: 20 units (15 short) from 3 lots." in shipped


def test_ship_is_refused_until_every_line_is_picked_then_ships_for_the_forward_trace(client, site, picker):
    db = site["db"]
    scan(client, f"LOT:{site['soon']}")
    early = client.post("/pick/SO-1/ship", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert (f"Not everything is picked: line 1 (MILK) still needs 4 ea and lot {site['later']} is at A-02 (and 1 "
            f"more line). Pick it, report it short, or give the reason it ships short.") in early
    with db.read() as s:
        assert s.scalar(select(Order.status).where(Order.number == "SO-1")) is OrderStatus.PICKING

    scan(client, f"LOT:{site['later']}")
    last = scan(client, f"LOT:{site['bolt']}")
    assert message(last) == f"Picked 4 ea of lot {site['bolt']} from A-01. Line 2 done — every line is picked."
    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    assert re.search(r'data-command="confirm">Ship order SO-1', work)

    shipped = client.post("/pick/SO-1/ship", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Order SO-1 shipped to Corner Shop: 14 units from 3 lots." in shipped
    assert "Back to open orders" in shipped
    with db.read() as s:
        order = s.scalar(select(Order).where(Order.number == "SO-1"))
        assert order.status is OrderStatus.SHIPPED and order.shipped_at is not None
        sent = s.execute(select(Lot.lot_number, Movement.qty, Movement.customer_id, Movement.operator_id)
                         .join(Lot, Lot.id == Movement.lot_id).where(Movement.kind == MovementKind.SHIP)
                         .order_by(Movement.id)).all()
        assert sorted(sent) == sorted([(site["soon"], 6, order.customer_id, picker.id),
                                       (site["later"], 4, order.customer_id, picker.id),
                                       (site["bolt"], 4, order.customer_id, picker.id)])
        f.assert_books_balance(s)
    assert "SO-1" not in client.get("/pick").get_data(as_text=True)
    again = client.post("/pick/SO-1/ship", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Order SO-1 is already shipped." in again
    assert "is shipped — nothing more can be picked" in message(scan(client, f"LOT:{site['later']}"))


def test_next_line_and_choosing_a_line(client, site, picker):
    html = client.post("/pick/SO-1/next", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Line 2: BOLT Bolt M8." in html
    assert re.search(r'pick-line--open pick-line--current" data-line="2"', html)
    html = client.post("/pick/SO-1/next", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Line 1: MILK Milk 1 L." in html
    html = client.post("/pick/SO-1/line/2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert re.search(r'pick-line--current" data-line="2"', html)


def test_with_location_scans_on_the_location_comes_first(app, client, site, picker):
    app.config["PICK_SCAN_LOCATION"] = True
    assert "Scan location <b class=\"mono\">A-01</b>" in client.get("/pick/SO-1").get_data(as_text=True)
    first = scan(client, f"LOT:{site['soon']}")
    assert message(first) == "Scan the location first (A-01), then the lot."
    assert picks(site["db"]) == []
    wrong = scan(client, "LOC:A-02")
    assert kind(wrong) == "warn"
    assert message(wrong) == f"Location A-02 — the suggested lot {site['soon']} is at A-01."
    right = scan(client, "LOC:A-01")
    assert kind(right) == "ok" and message(right) == f"Location A-01 — now scan lot {site['soon']}."
    assert kind(scan(client, f"LOT:{site['soon']}")) == "ok"
    assert picks(site["db"]) == [(site["soon"], "A-01", 6, True, None)]


def test_picking_needs_a_picker(client, site, signed_in):
    signed_out = client.get("/pick/SO-1")
    assert signed_out.status_code == 302 and "/signin" in signed_out.headers["Location"]
    signed_in(client, "receiver")
    assert client.get("/pick/SO-1").status_code == 403
    refused = scan(client, f"LOT:{site['soon']}")
    assert refused.status_code == 403
    assert picks(site["db"]) == []


def test_an_unknown_order_is_a_404(client, site, picker):
    assert client.get("/pick/SO-404").status_code == 404


def test_a_pallet_sscc_picks_its_lot_from_where_the_pallet_stands(client, site, picker):
    db = site["db"]
    with db.write() as s:
        pallet = f.received_lot(s, "BOLT", 30, location="A-02", sscc="376130321109103420",
                                produced=clock.today() - dt.timedelta(days=30), on=clock.today()).lot_number
    answer = scan(client, "376130321109103420")
    assert message(answer) == f"Picked 4 ea of lot {pallet} from A-02. Line 2 done."
    assert picks(db) == [(pallet, "A-02", 4, True, None)]


# --- the station's own scanner and the state the station holds -----------------------------------


def test_a_scan_of_the_stations_own_scanner_is_drawn_like_a_wedge_scans_answer(client, site, picker,
                                                                                bound_station):
    """The pick page open at a station takes its scanner's scans on the server (station/workflows/
    intake.py, for the order the page shows); station.js fetches the answer from /floor/answer/<scan
    id>: the same banner as the page's own scan POST, and the pick list shows the pick."""
    from station.workflows import intake

    station = bound_station(client, "Pick 1")
    assert client.get("/pick/SO-1").status_code == 200  # the pick page is now open at Pick 1, on SO-1
    taken = intake.take(site["db"], intake.ScanIn(code=f"LOT:{site['soon']}", source="sim://pick-1",
                                                  station_id=station))
    assert taken.workflow == "picking" and taken.answer.ok
    response = client.get(f"/floor/answer/{taken.scan_id}", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["X-Scan-Id"] == str(taken.scan_id)
    assert f'data-scan-id="{taken.scan_id}"' in html and 'data-ok="1"' in html and kind(response) == "ok"
    assert message(response) == f"Picked 6 ea of lot {site['soon']} from A-01. 4 ea more: lot {site['later']} at A-02."
    assert picks(site["db"]) == [(site["soon"], "A-01", 6, True, None)]
    # the pick is the station's: the page's Undo takes it back
    work = client.get("/pick/SO-1/work", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert undo_button(work) == "Undo last pick"
    undone = client.post("/pick/SO-1/undo", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"Pick taken back: 6 ea of lot {site['soon']}" in undone


def test_a_page_of_another_order_starts_afresh_and_its_scans_pick_on_it(client, site, picker):
    db = site["db"]
    with db.write() as s:
        f.order(s, "SO-2", [("BOLT", 2)])
    client.post("/pick/SO-1/qty", data={"qty": "4"}, headers={"HX-Request": "true"})
    assert "The next scan picks" in client.get("/pick/SO-1/work").get_data(as_text=True)
    other = client.get("/pick/SO-2").get_data(as_text=True)
    assert "The next scan picks" not in other and f"Line 1: scan lot {site['bolt']} at A-01." in other
    answer = client.post("/pick/SO-2/scan", data={"code": f"LOT:{site['bolt']}", "client_id": "other-order-1"},
                         headers={"HX-Request": "true"})
    assert message(answer) == f"Picked 2 ea of lot {site['bolt']} from A-01. Line 1 done — every line is picked."
    # back on SO-1 the quantity typed there is gone (the state is one order's at a time), and a scan picks on SO-1
    assert "The next scan picks" not in client.get("/pick/SO-1").get_data(as_text=True)
    assert message(scan(client, f"LOT:{site['soon']}")).startswith(f"Picked 6 ea of lot {site['soon']}")
    assert picked(db, 1) == 6


# --- the item's policy: a younger lot refused outright --------------------------------------------


def test_an_item_that_refuses_younger_lots_gets_a_red_refusal_and_no_reason_panel(client, site, picker):
    db = site["db"]
    with db.write() as s:
        catalog.item_by_sku(s, "MILK").refuse_younger_lots = True
    page = client.get("/pick/SO-1").get_data(as_text=True)
    assert "Oldest lot first" in page.split('class="card pick-current', 1)[1].split("</section>", 1)[0]
    before = stock(db)
    answer = scan(client, f"LOT:{site['later']}")
    assert kind(answer) == "error" and 'data-ok="0"' in answer.get_data(as_text=True)
    assert message(answer) == (f"Lot {site['later']} expires later than lot {site['soon']} — take {site['soon']} "
                               f"from A-01; this item must go soonest-expiring first.")
    assert f"No exceptions for MILK: scan lot {site['soon']}." in answer.get_data(as_text=True)
    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    assert "Why not the older lot?" not in work and "pick-override" not in work
    # no reason can get past it: nothing waits for one
    tapped = client.post("/pick/SO-1/override", data={"reason": "Suggested lot damaged"},
                         headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Nothing waits for a reason" in tapped
    assert picks(db) == [] and stock(db) == before and picked(db, 1) == 0
    # the older lot is picked as always
    assert kind(scan(client, f"LOT:{site['soon']}")) == "ok"


# --- taking the last pick back -------------------------------------------------------------------------


def undo_button(html: str) -> str | None:
    found = re.search(r'<button[^>]*data-command="undo"[^>]*>([^<]*)</button>', html)
    return found.group(1) if found else None


def test_after_a_pick_the_page_offers_undo_and_it_takes_the_pick_back(app, client, site, picker):
    db = site["db"]
    app.config["SCAN_BOUNCE_MS"] = 0  # the same lot is scanned again at once, after the undo
    assert undo_button(client.get("/pick/SO-1").get_data(as_text=True)) is None  # nothing picked yet
    scan(client, f"LOT:{site['soon']}")
    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    assert undo_button(work) == "Undo last pick"
    last = work.split('class="card pick-last', 1)[1].split("</section>", 1)[0]
    assert site["soon"] in last and "A-01" in last and "<b>6</b> ea" in last

    # the button (CMD:UNDO presses it) takes the pick back
    html = client.post("/pick/SO-1/undo", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-swap-oob="innerHTML"' in html and "banner--ok" in html
    assert (f"Pick taken back: 6 ea of lot {site['soon']} — take it from SHIP and put it back at A-01."
            in html)
    assert "Line 1 needs 10 ea again." in html
    assert undo_button(html) is None
    assert "— taken back" in html  # the pick list still shows the pick, struck through
    assert picked(db, 1) == 0
    with db.read() as s:
        unpick = s.scalar(select(Movement).where(Movement.kind == MovementKind.UNPICK))
        pick_row = s.scalar(select(Movement).where(Movement.kind == MovementKind.PICK))
        assert (unpick.qty, unpick.from_location.code, unpick.to_location.code, unpick.reference,
                unpick.operator_id) == (6, "SHIP", "A-01", f"undo of movement {pick_row.id}", picker.id)
        assert s.scalar(select(Order.status).where(Order.number == "SO-1")) is OrderStatus.OPEN
        f.assert_books_balance(s)
    # a second undo has nothing to take back
    again = client.post("/pick/SO-1/undo", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "No pick to take back" in again
    with db.read() as s:
        assert len(s.scalars(select(Movement.id).where(Movement.kind == MovementKind.UNPICK)).all()) == 1
    # and the same lot is suggested again, one scan picks it
    assert message(scan(client, f"LOT:{site['soon']}")).startswith(f"Picked 6 ea of lot {site['soon']}")


def test_undo_refused_in_words_when_the_pick_was_taken_back_elsewhere(client, site, picker):
    db = site["db"]
    scan(client, f"LOT:{site['soon']}")
    with db.write() as s:  # taken back through the API meanwhile
        from station.services import picking
        picking.undo_pick(s, s.scalar(select(Movement).where(Movement.kind == MovementKind.PICK)))
    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    assert undo_button(work) is None  # the page no longer offers it


def test_undo_after_the_last_line_and_never_after_shipping(app, client, site, picker):
    db = site["db"]
    app.config["SCAN_BOUNCE_MS"] = 0  # the same lot is scanned again at once, after the undo
    scan(client, f"LOT:{site['soon']}")
    scan(client, f"LOT:{site['later']}")
    scan(client, f"LOT:{site['bolt']}")
    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    assert 'data-ready="1"' in work and undo_button(work) == "Undo last pick"
    html = client.post("/pick/SO-1/undo", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f"Pick taken back: 4 ea of lot {site['bolt']}" in html and "put it back at A-01" in html
    assert 'data-ready="1"' not in html
    with db.read() as s:
        assert s.scalar(select(Order.status).where(Order.number == "SO-1")) is OrderStatus.PICKING
    scan(client, f"LOT:{site['bolt']}")
    shipped = client.post("/pick/SO-1/ship", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Order SO-1 shipped to Corner Shop: 14 units from 3 lots." in shipped
    assert undo_button(shipped) is None
    late = client.post("/pick/SO-1/undo", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "No pick to take back" in late
    with db.read() as s:
        assert len(s.scalars(select(Movement.id).where(Movement.kind == MovementKind.UNPICK)).all()) == 1
        f.assert_books_balance(s)


# --- lines shipped short, with why --------------------------------------------------------------------


def test_short_lines_show_qty_and_reason_on_the_ship_screen_and_after_shipping(client, site, picker):
    db = site["db"]
    with db.write() as s:
        s.execute(OrderLine.__table__.update().where(OrderLine.line_no == 2).values(qty=25))
    scan(client, f"LOT:{site['soon']}")
    client.post("/pick/SO-1/short", data={"reason": "Damaged — cannot be sent"}, headers={"HX-Request": "true"})
    scan(client, f"LOT:{site['bolt']}")
    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    assert 'data-ready="1"' in work
    ship_screen = work.split('class="pick-ship', 1)[1]
    shorts = re.findall(r'<li class="pick-short__line" data-line="(\d)">(.*?)</li>', ship_screen, re.S)
    assert [(no, " ".join(re.sub(r"<[^>]+>", "", text).split())) for no, text in shorts] == [
        ("1", "Line 1 · MILK Milk 1 L 4 ea short Damaged — cannot be sent"),
        ("2", "Line 2 · BOLT Bolt M8 15 ea short No pickable stock left")]

    shipped = client.post("/pick/SO-1/ship", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Order SO-1 shipped to Corner Shop: 16 units (19 short) from 2 lots." in shipped
    # BOLT had no stock left for its 15: the line ships short saying so (the ship screen's own words)
    assert ("Line 1 MILK short 4 ea: Damaged — cannot be sent; Line 2 BOLT short 15 ea: No pickable stock left"
            in shipped)
    done = shipped.split('class="card pick-done', 1)[1].split("</section>", 1)[0]
    assert "Shipped short" in done
    shorts = re.findall(r'<li class="pick-short__line" data-line="(\d)">(.*?)</li>', done, re.S)
    assert [(no, " ".join(re.sub(r"<[^>]+>", "", text).split())) for no, text in shorts] == [
        ("1", "Line 1 · MILK Milk 1 L 4 ea short Damaged — cannot be sent"),
        ("2", "Line 2 · BOLT Bolt M8 15 ea short No pickable stock left")]
    with db.read() as s:
        lines = s.execute(select(OrderLine.line_no, OrderLine.short_qty, OrderLine.short_reason)
                          .order_by(OrderLine.line_no)).all()
        assert lines == [(1, 4, "Damaged — cannot be sent"), (2, 15, "No pickable stock left")]
    # the shipped order's page says the same
    page = client.get("/pick/SO-1").get_data(as_text=True)
    assert "Damaged — cannot be sent" in page and "15</b> ea short" in page


def test_a_short_reason_is_escaped(client, site, picker):
    scan(client, f"LOT:{site['soon']}")
    client.post("/pick/SO-1/short", data={"reason": "<script>alert(1)</script>"}, headers={"HX-Request": "true"})
    scan(client, f"LOT:{site['bolt']}")
    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in work and "&lt;script&gt;alert(1)&lt;/script&gt;" in work
