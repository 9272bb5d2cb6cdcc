"""Decimal quantities on the floor pages, through the Flask client on both backends: every page writes a
quantity in its item's unit and decimals (12.350 kg, 40 ea; 12,350 kg where the site writes a decimal
comma), the keypad has a separator key only for an item counted in decimals, and a typed quantity with
more decimals than the item is counted in is refused in words in the red banner, nothing booked."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

import actions
from actions import banner, text_of
from factories import assert_books_balance
from station import config, quantities
from station.models import CountLine, Lot, Movement, MovementKind, Stock
from station.services import catalog
from station.views.filters import qty, qty_field

HX = {"HX-Request": "true"}
NNBSP = "\u202f"  # the thousands' group mark next to a decimal comma


@pytest.fixture
def site(site):
    """FLOUR counted in kg to 3 decimals: 12.35 kg at A-01; MILK (ea, whole numbers): 40 at A-01."""
    with site.write() as s:
        flour = catalog.create_item(s, sku="FLOUR", name="Flour T55", unit="kg", qty_decimals=3)
        flour.supplier_id = catalog.supplier_by_code(s, "ACME").id
    site.lot("flour", "FLOUR", Decimal("12.35"), location="A-01")
    site.lot("milk", "MILK", 40, location="A-01")
    return site


def stock_at(site, lot_key: str) -> dict:
    with site.read() as s:
        lot = catalog.lot_by_number(s, site[lot_key])
        return dict(s.execute(select(catalog.Location.code, func.sum(Stock.qty)).join(catalog.Location)
                              .where(Stock.lot_id == lot.id, Stock.qty > 0).group_by(catalog.Location.code)).all())


def ledger_rows(site) -> int:
    with site.read() as s:
        return s.scalar(select(func.count()).select_from(Movement))


# --- the |qty filter ---------------------------------------------------------------------------------


def test_the_lot_card_writes_the_quantity_in_the_items_unit_and_decimals(client, app, site, signed_in):
    signed_in(client, "supervisor")
    flour = text_of(client.get(f"/lots/{site['flour']}").text)
    assert "On hand 12.350 kg" in flour
    assert "A-01 storage 12.350 kg" in flour  # stock by location
    assert "12.35 kg" not in flour.replace("12.350 kg", "")  # never the bare value beside the padded one
    milk = text_of(client.get(f"/lots/{site['milk']}").text)
    assert "On hand 40 ea" in milk and "40.0" not in milk

    app.config["DECIMAL_COMMA"] = True  # STATION_DECIMAL_COMMA=true: the site writes 12,35
    assert "On hand 12,350 kg" in text_of(client.get(f"/lots/{site['flour']}").text)


def test_the_filter_groups_thousands_pads_decimals_and_signs_differences(app, site):
    with site.read() as s, app.app_context():
        flour, milk = catalog.item_by_sku(s, "FLOUR"), catalog.item_by_sku(s, "MILK")
        assert qty(Decimal("1234.5"), flour) == "1,234.500 kg"
        assert qty(40, milk) == "40 ea" and qty(1200) == "1,200" and qty(None, flour) == "—"
        assert qty("12.35", flour) == "12.350 kg"  # as a JSON column keeps a Decimal
        assert qty(Decimal("-0.25"), flour, unit=False, sign=True) == "-0.250"
        assert qty(Decimal("0.25"), flour, sign=True) == "+0.250 kg"
        assert qty_field(Decimal("2.5"), flour) == "2.500" and qty_field(None) == ""
        app.config["DECIMAL_COMMA"] = True
        assert qty(Decimal("1234.5"), flour) == f"1{NNBSP}234,500 kg"
        assert qty_field(Decimal("2.5"), flour) == "2,500"


def test_the_decimal_comma_setting_is_read_and_a_bad_one_refused_in_words(monkeypatch):
    assert config.decimal_comma_setting() is False  # unset: 12.35
    for value, expected in (("true", True), ("1", True), ("no", False), (" ", False)):
        monkeypatch.setenv("STATION_DECIMAL_COMMA", value)
        assert config.decimal_comma_setting() is expected
    monkeypatch.setenv("STATION_DECIMAL_COMMA", "comma")
    with pytest.raises(config.ConfigError, match=r"STATION_DECIMAL_COMMA must be true \(12,35\) or false \(12.35\), "
                                                 r"not 'comma'\."):
        config.decimal_comma_setting()


# --- typed on the floor -----------------------------------------------------------------------------


move_scan = actions.scanner("/move/scan", text=True)


@pytest.fixture
def mover(client, site, signed_in, bound_station):
    signed_in(client, "picker", name="Pat Picker")
    bound_station(client, "Dock tablet")
    return client


def test_a_move_takes_a_typed_decimal_and_refuses_more_decimals_than_the_item_has(mover, app, site):
    move_scan(mover, site["flour"])
    page = mover.get("/move").text
    assert "at most 12.350 kg" in text_of(page)
    assert 'class="keypad move-keypad keypad--decimal"' in page and 'data-key="."' in page

    before = ledger_rows(site)
    mover.post("/move/qty", data={"qty": "1,2345"})
    kind, message = banner(mover.get("/move").text)
    assert (kind, message) == ("error", "The quantity 1.2345 kg has too many decimals: this item is counted in "
                                        "at most 3 decimals of kg.")
    mover.post("/move/qty", data={"qty": "1,5"})  # a decimal comma is read as well as a point
    assert "Moving 1.500 kg from A-01" in text_of(mover.get("/move").text)
    assert ledger_rows(site) == before  # nothing is booked until the destination is scanned

    assert banner(move_scan(mover, "A-02")) == ("ok", f"Moved: 1.500 kg of FLOUR, lot {site['flour']}, A-01 → A-02.")
    assert stock_at(site, "flour") == {"A-01": Decimal("10.85"), "A-02": Decimal("1.5")}
    with site.read() as s:
        assert_books_balance(s)

    # A whole-number item: no separator key, and a fraction is refused in words.
    move_scan(mover, site["milk"])
    page = mover.get("/move").text
    assert "keypad--decimal" not in page and 'data-key="."' not in page and 'data-key=","' not in page
    mover.post("/move/qty", data={"qty": "2.5"})
    assert banner(mover.get("/move").text) == (
        "error", "The quantity 2.5 ea has too many decimals: this item is counted in whole numbers of ea.")

    app.config["DECIMAL_COMMA"] = True
    move_scan(mover, f"LOT:{site['flour']}")  # not the same code again: that would be a trigger bounce
    mover.post("/move/source", data={"from": "A-02"})
    page = mover.get("/move").text
    assert 'data-key=","' in page and 'aria-label="Decimal comma"' in page and "at most 1,500 kg" in text_of(page)


def test_a_decimal_comma_site_writes_it_in_the_banners_too_and_only_for_its_own_requests(mover, app, site,
                                                                                          monkeypatch):
    app.config["DECIMAL_COMMA"] = True
    assert banner(actions.scan(mover, site["flour"], text=True, station="Dock tablet")) == (
        "ok", f"Lot {site['flour']}: FLOUR Flour T55, 12,350 kg on hand.")  # the resolver, padded
    move_scan(mover, f"LOT:{site['flour']}")
    mover.post("/move/qty", data={"qty": "1.2345"})
    assert banner(mover.get("/move").text) == (
        "error", "The quantity 1,2345 kg has too many decimals: this item is counted in at most 3 decimals of kg.")
    mover.post("/move/qty", data={"qty": "1,5"})
    assert banner(move_scan(mover, "A-02")) == ("ok", f"Moved: 1,500 kg of FLOUR, lot {site['flour']}, A-01 → A-02.")

    # Outside a request the site's choice is the process's STATION_DECIMAL_COMMA (the scanner service has no
    # Flask); the request above put its own choice back when it ended.
    assert quantities.said(Decimal("1234.5"), 3, "kg") == "1,234.500 kg"
    monkeypatch.setenv("STATION_DECIMAL_COMMA", "true")
    quantities._environment_comma.cache_clear()
    try:
        assert quantities.said(Decimal("1234.5"), 3, "kg") == f"1{NNBSP}234,500 kg"
    finally:
        monkeypatch.undo()
        quantities._environment_comma.cache_clear()


count_scan = actions.scanner("/count/scan", text=True)


def test_a_count_keyed_with_too_many_decimals_is_refused_and_nothing_is_counted(client, site, signed_in,
                                                                               bound_station):
    signed_in(client, "picker")
    bound_station(client, "Aisle tablet")
    count_scan(client, "LOC:A-01")
    count_scan(client, f"LOT:{site['milk']}")
    assert 'data-key="."' not in client.get("/count").text
    client.post("/count/qty", data={"qty": "39,5"})
    kind, message = banner(client.get("/count").text)
    assert (kind, message) == ("error", "The count 39.5 ea has too many decimals: this item is counted in whole "
                                        "numbers of ea.")
    count_scan(client, f"LOT:{site['flour']}")
    page = client.get("/count").text
    assert 'data-key="."' in page and "12.350 kg on the books at A-01" in text_of(page)
    client.post("/count/qty", data={"qty": "12.3456"})
    assert "too many decimals" in banner(client.get("/count").text)[1]
    with site.read() as s:
        assert s.scalars(select(CountLine.counted_qty)).all() == [None, None]
    client.post("/count/qty", data={"qty": "12,1"})
    text = text_of(client.get("/count").text)
    assert "12.350 → 12.100 kg -0.250" in text
    with site.read() as s:
        assert Decimal("12.1") in s.scalars(select(CountLine.counted_qty)).all()


def test_a_receipt_with_too_many_decimals_is_refused_in_the_red_banner_and_books_nothing(client, site,
                                                                                       signed_in, bound_station):
    site.printer("dock-zebra")
    site.station("Dock 1", location="DOCK", printer="dock-zebra")
    signed_in(client, "receiver")
    bound_station(client, "Dock 1")
    chosen = client.post("/receive/item", data={"sku": "FLOUR"}, headers=HX).text
    assert 'class="receive-key receive-key--sep"' in chosen and "Quantity (kg)" in text_of(chosen)
    with site.read() as s:
        lots = s.scalar(select(func.count()).select_from(Lot))
    before = ledger_rows(site)

    def confirm(qty_text: str):
        page = client.get("/receive").text
        token = page.split('name="token" value="', 1)[1].split('"', 1)[0]
        return client.post("/receive/confirm", data={"token": token, "qty": qty_text}, headers=HX)

    refused = confirm("25.0004")
    assert refused.status_code == 422
    assert ("The quantity 25.0004 kg has too many decimals: this item is counted in at most 3 decimals of kg."
            in refused.text and "banner--error" in refused.text and "receive-field--bad" in refused.text)
    with site.read() as s:
        assert s.scalar(select(func.count()).select_from(Lot)) == lots
    assert ledger_rows(site) == before

    booked = confirm("25,125")
    assert booked.status_code == 200, booked.text
    assert "25.125 kg · FLOUR Flour T55" in text_of(booked.text)
    with site.read() as s:
        received = s.scalars(select(Movement.qty).where(Movement.kind == MovementKind.RECEIVE)
                             .order_by(Movement.id.desc())).first()
        assert received == Decimal("25.125")
        assert_books_balance(s)
