"""What the floor got wrong in picking (issue 15), through the pick page (Flask client) and the API on
SQLite and PostgreSQL: a lot that would not last for the order (its due date, the customer's minimum
shelf life) is neither suggested nor picked; equal dates are equally good; one rule for shipping short;
refused pick scans are counted as refused by the overrides report."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

import factories as f
from actions import banner, scanner
from station import clock
from station.models import (Customer, LotStatus, Movement, MovementKind, Order, OrderLine, OrderStatus, Role,
                            ScanApplication, Stock)
from station.services import holds, reports
from station.services.shelf_life import day_words
from station.services.tokens import create_token

D = dt.timedelta
scan = scanner("/pick/SO-1/scan", text=True)


@pytest.fixture
def site(site):
    """MILK (FEFO): `short` expires in 5 days (A-01, the soonest), `long` in 40 days (A-02), `longer` in
    60 (A-02). BOLT (FIFO): 10 at A-01. Order SO-1 for Corner Shop: 10 MILK, 4 BOLT."""
    today = clock.today()
    site.lot("short", "MILK", 6, location="A-01", expiry=today + D(days=5))
    site.lot("long", "MILK", 50, location="A-02", expiry=today + D(days=40))
    site.lot("longer", "MILK", 50, location="A-02", expiry=today + D(days=60))
    site.lot("bolt", "BOLT", 10, location="A-01")
    site.order("SO-1", [("MILK", 10), ("BOLT", 4)])
    return site


@pytest.fixture
def picker(client, signed_in):
    return signed_in(client, "picker", badge="OP-PICK", name="Pia Picker")


def contract(site, *, days: int | None = None, due: dt.date | None = None, name: str | None = None) -> None:
    with site.write() as s:
        customer = s.scalar(select(Customer).where(Customer.code == "SHOP"))
        customer.min_shelf_life_days = days
        if name:
            customer.name = name
        s.scalar(select(Order).where(Order.number == "SO-1")).due_on = due


def books(site) -> tuple:
    """Everything a pick or a shipment could change."""
    with site.read() as s:
        return (sorted(s.execute(select(Stock.lot_id, Stock.location_id, Stock.qty)).all()),
                s.scalar(select(func.count()).select_from(Movement)),
                sorted(s.execute(select(OrderLine.id, OrderLine.picked_qty, OrderLine.short_qty,
                                        OrderLine.short_reason)).all()),
                s.scalar(select(Order.status).where(Order.number == "SO-1")))


def next_lot(client) -> str:
    """The lot the pick list tells the picker to scan for the current line."""
    work = client.get("/pick/SO-1/work").get_data(as_text=True)
    return re.search(r'<dt>Lot</dt><dd class="mono">([^<]+)</dd>', work).group(1)


# --- the customer's minimum shelf life and the order's due date ----------------------------------


def test_a_lot_inside_the_customers_shelf_life_is_not_suggested_and_its_scan_is_refused_in_words(
        client, site, picker):
    today = clock.today()
    contract(site, days=30, name="Bäckerei Müller")
    client.get("/pick/SO-1")
    assert next_lot(client) == site["long"]  # `short` expires first, but not 30 days after the ship day
    before = books(site)
    kind, message = banner(scan(client, f"LOT:{site['short']}"))
    until = today + D(days=30)
    assert kind == "error"
    assert message == (f"Lot {site['short']} expires {day_words(today + D(days=5), today)}: Bäckerei Müller needs 30 "
                       f"days of shelf life left when it ships (until {day_words(until, today)}). Take a lot "
                       f"that lasts longer.")
    assert books(site) == before
    # the suggested lot picks with one scan
    kind, message = banner(scan(client, f"LOT:{site['long']}"))
    assert (kind, message.startswith(f"Picked 10 ea of lot {site['long']} from A-02")) == ("ok", True)


def test_the_ship_day_is_the_due_date_when_it_is_later(client, site, picker):
    today = clock.today()
    contract(site, days=30, due=today + D(days=15))  # ships in 15 days: lots must last until day 45
    client.get("/pick/SO-1")
    assert next_lot(client) == site["longer"]
    kind, message = banner(scan(client, f"LOT:{site['long']}"))
    assert kind == "error" and f"(until {day_words(today + D(days=45), today)})" in message
    assert "Corner Shop needs 30 days of shelf life left when it ships" in message


def test_a_lot_expiring_before_the_orders_due_date_is_not_suggested_nor_picked(client, site, picker):
    today = clock.today()
    contract(site, due=today + D(days=10))
    client.get("/pick/SO-1")
    assert next_lot(client) == site["long"]
    before = books(site)
    kind, message = banner(scan(client, f"LOT:{site['short']}"))
    assert kind == "error"
    assert message == (f"Lot {site['short']} expires {day_words(today + D(days=5), today)}, before order SO-1 is "
                       f"due ({day_words(today + D(days=10), today)}). Take a lot that lasts until then.")
    assert books(site) == before
    # a due date already past is today: the soonest lot still fits
    contract(site, due=today - D(days=3))
    assert next_lot(client) == site["short"]


def test_no_reason_gets_an_unfit_lot_past_and_the_api_says_the_same(client, site, picker, database):
    contract(site, days=30)
    client.get("/pick/SO-1")
    with database.write() as s:
        secret = create_token(s, "erp", Role.SUPERVISOR)
    before = books(site)
    response = client.post("/api/v1/picks", json={"order": "SO-1", "line": 1, "lot": site["short"], "qty": 1,
                                                  "override_reason": "Customer asked"},
                           headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "shelf_life_too_short" and "Corner Shop needs 30 days" in error["message"]
    assert books(site) == before
    # the page's scan is refused outright: no override panel waits for a reason
    assert banner(scan(client, f"LOT:{site['short']}"))[0] == "error"
    assert "pick-override__text" not in client.get("/pick/SO-1/work").get_data(as_text=True)
    assert books(site) == before


# --- equal dates are equally good ---------------------------------------------------------------------


def test_the_same_expiry_asks_no_reason_and_never_says_expires_later(client, site, picker):
    today = clock.today()
    # a twin of `short`: the same expiry, received later (a later FIFO date), at A-02
    site.lot("twin", "MILK", 6, location="A-02", expiry=today + D(days=5), on=today + D(days=1))
    client.get("/pick/SO-1")
    assert next_lot(client) == site["short"]
    answer = scan(client, f"LOT:{site['twin']}")
    kind, message = banner(answer)
    assert kind == "ok" and message.startswith(f"Picked 6 ea of lot {site['twin']} from A-02"), message
    assert "expires later" not in answer and "reason" not in message
    with site.read() as s:
        pick = s.scalar(select(Movement).where(Movement.kind == MovementKind.PICK))
        assert (pick.followed_suggestion, pick.reason) == (True, None)
    # a lot that does expire later still asks
    kind, message = banner(scan(client, f"LOT:{site['longer']}"))
    assert kind == "warn" and f"Lot {site['longer']} expires later than the suggested lot {site['short']}" in message


def test_the_same_fifo_date_asks_no_reason(client, site, picker):
    site.lot("bolt_twin", "BOLT", 10, location="A-02")  # received the same day as `bolt`
    client.get("/pick/SO-1")
    client.post("/pick/SO-1/line/2", headers={"HX-Request": "true"})
    kind, message = banner(scan(client, f"LOT:{site['bolt_twin']}"))
    assert kind == "ok" and message.startswith(f"Picked 4 ea of lot {site['bolt_twin']} from A-02"), message


# --- one rule for shipping short ------------------------------------------------------------------------


def test_the_page_and_the_api_refuse_the_same_short_shipment_in_the_same_words(client, site, picker, database):
    client.get("/pick/SO-1")
    scan(client, f"LOT:{site['short']}")  # 6 of 10 MILK; `long` is still there; BOLT not picked
    with database.write() as s:
        secret = create_token(s, "erp", Role.SUPERVISOR)
    before = books(site)
    page = client.post("/pick/SO-1/ship", headers={"HX-Request": "true"}).get_data(as_text=True)
    words = (f"Not everything is picked: line 1 (MILK) still needs 4 ea and lot {site['long']} is at A-02 (and 1 "
             f"more line). Pick it, report it short, or give the reason it ships short.")
    assert banner(page) == ("error", words)
    api = client.post("/api/v1/shipments", json={"order": "SO-1"}, headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 409 and api.get_json()["error"]["message"] == words
    assert books(site) == before
    # the picker reports MILK short (its reason), picks BOLT: the page ships, MILK short with the reason
    client.post("/pick/SO-1/short", data={"reason": "Damaged — cannot be sent"}, headers={"HX-Request": "true"})
    scan(client, f"LOT:{site['bolt']}")
    with site.read() as s:  # `long` is written off at A-02; `longer` is still there for MILK
        assert s.scalar(select(OrderLine.short_reason).where(OrderLine.line_no == 1)) == "Damaged — cannot be sent"
    shipped = client.post("/pick/SO-1/ship", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert banner(shipped)[0] == "ok", banner(shipped)
    with site.read() as s:
        assert s.scalar(select(Order.status).where(Order.number == "SO-1")) is OrderStatus.SHIPPED
        assert s.execute(select(OrderLine.line_no, OrderLine.short_qty, OrderLine.short_reason)
                         .order_by(OrderLine.line_no)).all() == [(1, 4, "Damaged — cannot be sent"), (2, 0, None)]
        f.assert_books_balance(s)


def test_a_line_with_nothing_left_that_fits_ships_short_saying_so(client, site, picker):
    contract(site, days=90)  # no MILK lot lasts 90 days
    client.get("/pick/SO-1")
    scan(client, f"LOT:{site['bolt']}")
    shipped = client.post("/pick/SO-1/ship", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert banner(shipped)[0] == "ok", banner(shipped)
    with site.read() as s:
        assert s.scalar(select(OrderLine.short_reason).where(OrderLine.line_no == 1)) == "No pickable stock left"


# --- refused pick scans are counted as refused -----------------------------------------------------------


def test_four_refused_pick_scans_are_four_refused_scans_in_the_report(client, site, picker, signed_in):
    today = clock.today()
    with site.write() as s:
        held = f.received_lot(s, "MILK", 5, location="A-01", expiry=today + D(days=50), on=today)
        holds.hold(s, held, "Seal check")
        recalled = f.received_lot(s, "MILK", 5, location="A-01", expiry=today + D(days=50), on=today)
        recalled.status = LotStatus.RECALLED
        expired = f.received_lot(s, "MILK", 5, location="A-02", expiry=today - D(days=1),
                                 produced=today - D(days=20), on=today - D(days=20))
        numbers = held.lot_number, recalled.lot_number, expired.lot_number
    contract(site, days=30)
    client.get("/pick/SO-1")
    for number in (*numbers, site["short"]):
        assert banner(scan(client, f"LOT:{number}"))[0] == "error"
    scan(client, f"LOT:{site['long']}")  # a good pick is no refusal
    with site.read() as s:
        report = reports.override_report(s, today, today)
        kept = s.scalars(select(ScanApplication.answer)).all()
    assert report.refused_total == 4
    assert sorted((r.name, r.error, r.count) for r in report.refused) == [
        ("Pia Picker", kind, 1) for kind in sorted(("lot_hold", "lot_recalled", "lot_expired", "shelf_life_too_short"))]
    assert sorted(a["data"].get("refused", "") for a in kept if a["kind"] == "error") == sorted(
        ("lot_hold", "lot_recalled", "lot_expired", "shelf_life_too_short"))
    signed_in(client, "supervisor", badge="OP-SUP", name="Sam Supervisor")
    page = client.get(f"/reports/overrides?from={today.isoformat()}&to={today.isoformat()}")
    assert page.status_code == 200
    assert re.search(r'Refused scans</dt><dd class="fact__big">4</dd>', page.get_data(as_text=True))


# --- in Chromium: the refusal is a red banner that fits a handheld --------------------------------------


def test_the_shelf_life_refusal_in_chromium_at_360_and_1280(live_server, browser, sqlite_app, live_site,
                                                            signed_in_page):
    from browser_support import HANDHELD, TABLET, screenshot, wedge
    from playwright.sync_api import expect
    from test_picking_browser import layout_problems

    today = clock.today()
    short = live_site.lot("short", "MILK", 6, location="A-01", expiry=today + D(days=5))
    long = live_site.lot("long", "MILK", 50, location="A-02", expiry=today + D(days=40))
    live_site.order("SO-1", [("MILK", 10)])
    contract(live_site, days=30, name="Bäckerei Müller")
    for viewport, name in ((HANDHELD, "360"), (TABLET, "1280")):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        try:
            signed_in_page(page, live_server.url, sqlite_app, "picker")
            page.goto(f"{live_server.url}/pick/SO-1")
            expect(page.locator(".pick-current")).to_contain_text(long)
            wedge(page, f"LOT:{short}")
            message = page.locator("#scan-current .banner__message").last
            expect(message).to_contain_text(f"Lot {short} expires {day_words(today + D(days=5), today)}: "
                                            f"Bäckerei Müller needs 30 days of shelf life left when it ships")
            expect(page.locator("#scan-current .banner--error")).to_be_visible()
            expect(page.locator("#scan-current")).to_contain_text(f"Take lot {long} from A-02.")
            assert layout_problems(page) == []
            screenshot(page, f"pick-shelf-life-refused-{name}")
        finally:
            context.close()
