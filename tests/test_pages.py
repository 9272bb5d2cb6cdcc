"""The home page and the lot lookup pages, through the Flask test client on both backends."""
from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from station import clock
from station.models import LocationKind, Operator, Order, OrderLine, Role
from station.services import catalog, holds, picking, production, receiving, stock
from station.services.actor import Actor
from actions import text_of

HX = {"HX-Request": "true"}
SSCC = "376123450000000016"


@pytest.fixture
def client(client, signed_in):
    """Every page needs a signed-in operator (station/auth/ require_signed_in): a picker's client,
    whose role may use the lookup and the scan page."""
    signed_in(client, "picker")
    return client


@pytest.fixture
def lot_number(db) -> str:
    """A received lot that was moved, held, released, picked and shipped."""
    today = clock.today()
    with db.write() as s:
        anna = Operator(badge="OP-1", name="Anna Berg", role=Role.SUPERVISOR)
        omar = Operator(badge="OP-2", name="Omar Diallo", role=Role.PICKER)
        s.add_all([anna, omar])
        s.flush()
        item = catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g", unit="cup",
                                   shelf_life_days=20)
        supplier = catalog.create_supplier(s, code="NORDMILK", name="Nordic Dairy")
        customer = catalog.create_customer(s, code="FRESH", name="FreshMart Centrum")
        dock = catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        rack = catalog.create_location(s, code="A-01-02", kind=LocationKind.STORAGE)
        catalog.create_location(s, code="SHIP-1", kind=LocationKind.SHIPPING)
        lot = receiving.receive(s, item=item, qty=480, location=dock, supplier=supplier,
                                supplier_lot="ND-7781", produced=today - dt.timedelta(days=2),
                                sscc=SSCC, by=Actor(omar.id))
        stock.move(s, lot, 400, dock, rack, by=Actor(omar.id))
        holds.hold(s, lot, "Lid seal check after cold-chain alarm", by=Actor(anna.id))
        number, ids = lot.lot_number, (anna.id, omar.id, customer.id, item.id)
    with db.write() as s:  # the release comes later, in its own transaction
        holds.release(s, catalog.lot_by_number(s, number), "Seals checked, all fine",
                      by=Actor(ids[0]))
    with db.write() as s:
        _, omar_id, customer_id, item_id = ids
        lot = catalog.lot_by_number(s, number)
        rack = catalog.location_by_code(s, "A-01-02")
        order = Order(number="SO-1042", customer_id=customer_id)
        s.add(order)
        s.flush()
        line = OrderLine(order_id=order.id, line_no=1, item_id=item_id, qty=24)
        s.add(line)
        s.flush()
        picking.pick(s, lot=lot, location=rack, qty=24, line=line, by=Actor(omar_id))
        picking.ship(s, order, by=Actor(omar_id))
    return number


def test_home_shows_an_admin_a_tile_per_workflow_and_no_dead_links(client, signed_in):
    signed_in(client, "admin")
    response = client.get("/")
    assert response.status_code == 200
    page = text_of(response.text)
    for title in ("Receiving", "Put-away", "Picking", "Line", "Lot lookup", "Supervisor", "Station set-up"):
        assert title in page
    assert 'href="/lots"' in response.text
    hrefs = re.findall(r'href="([^"]+)"', response.text)
    assert all(href.startswith("/") and not href.startswith("//") for href in hrefs), hrefs


def test_coming_soon_tiles_are_not_dead_links(client, signed_in):
    signed_in(client, "admin")
    body = client.get("/").text
    soon = re.findall(r'<div class="tile tile--soon".*?</div>', body, re.S)
    assert not any("href" in tile for tile in soon)


def test_home_signed_out_offers_sign_in_and_no_tiles(app):
    response = app.test_client().get("/")  # nobody signed in (this module's `client` is a picker's)
    assert response.status_code == 200
    page = text_of(response.text)
    assert "Scan your badge to sign in" in page
    for title in ("Lot lookup", "Scan", "Receiving", "Picking", "Printers"):
        assert f'<span class="tile__title">{title}</span>' not in response.text
    assert 'class="tiles"' not in response.text and 'class="tile' not in response.text
    assert 'href="/signin"' in response.text


def test_home_shows_a_picker_the_lookup_tiles(client):
    page = text_of(client.get("/").text)
    assert "Lot lookup" in page and "Picking" in page and "Receiving" not in page


def test_lot_lookup_page_has_an_autofocused_scan_input_and_no_inline_script(client):
    response = client.get("/lots")
    assert response.status_code == 200
    body = response.text
    assert re.search(r'<input[^>]*name="lot"[^>]*autofocus', body)
    assert 'hx-get="/lots/card"' in body and 'hx-target="#lot-result"' in body
    assert '<link rel="stylesheet" href="/static/station.css">' in body
    assert 'src="/vendor/htmx.min.js"' in body
    scripts = re.findall(r"<script\b[^>]*>", body)
    assert scripts and all("src=" in tag for tag in scripts)
    assert "<script>" not in body and "onclick" not in body.lower()
    assert "Home" in text_of(body)  # the way back


def test_every_page_tells_station_js_the_code_scheme_from_labels_codes(client):
    """station.js matches command barcodes and badges with what <body> says (data-code-*), and that is
    labels/codes.py's scheme: a prefix or command changed there reaches the browser, nothing to copy."""
    from labels import codes

    expected = {"code-command-prefix": codes.COMMAND_PREFIX, "code-commands": " ".join(c.value for c in codes.Command),
                "code-operator-prefix": codes.OPERATOR_PREFIX, "code-aim": codes.AIM_PATTERN}
    for url in ("/", "/lots", "/scan"):
        tag = re.search(r"<body\b[^>]*>", client.get(url).text).group(0)
        found = {name: html.unescape(value) for name, value in re.findall(r'data-(code-[a-z-]+)="([^"]*)"', tag)}
        assert found == expected, url
    js = client.get("/static/station.js")
    script = js.text
    js.close()
    for literal in ("CMD:", "OPR:", "CONFIRM|", "]C0"):  # no scheme of its own (comments aside)
        code_lines = [line for line in script.splitlines() if literal in line and not line.strip().startswith("//")]
        assert not code_lines, (literal, code_lines)


@pytest.mark.parametrize("url", ["/static/station.css", "/static/station.js", "/vendor/htmx.min.js"])
def test_page_assets_are_served_from_the_app(client, url):
    with client.get(url) as response:  # file responses hold the file open until closed
        assert response.status_code == 200


def test_lot_card_shows_item_status_stock_holds_and_history(client, lot_number):
    response = client.get(f"/lots/card?lot={lot_number}", headers=HX)
    assert response.status_code == 200
    page = text_of(response.text)
    assert lot_number in page
    assert "YOG-500 Greek yoghurt 500 g" in page
    assert 'data-status="available"' in response.text and "Available" in page
    assert "456 cup" in page  # on hand: 480 received, 24 shipped
    assert "Nordic Dairy" in page and "ND-7781" in page
    assert "expires in 18 days" in page
    # stock by location: part of the pallet went to the rack, the rest is still at the dock
    assert f"A-01-02 storage 376 cup {SSCC}" in page
    assert f"DOCK-1 dock 80 cup {SSCC}" in page
    # holds and releases: who, what and why
    assert "Hold available → hold Anna Berg Lid seal check after cold-chain alarm" in page
    assert "Release hold → available Anna Berg Seals checked, all fine" in page
    # history, latest first
    kinds = re.findall(r'class="kind kind--(\w+)"', response.text)
    assert kinds == ["ship", "pick", "move", "receive"]
    assert "Shipped 24 cup SHIP-1 → — Omar Diallo FreshMart Centrum · SO-1042" in page
    assert "Received 480 cup — → DOCK-1 Omar Diallo" in page


def test_htmx_request_gets_the_fragment_only(client, lot_number):
    response = client.get(f"/lots/card?lot={lot_number}", headers=HX)
    body = response.text
    assert 'id="lot-card"' in body
    for layout in ("<!doctype", "<html", "<head>", "<title", 'class="topbar"', "<form", "station.css"):
        assert layout not in body
    assert "HX-Request" in response.headers.get("Vary", "")
    assert response.headers["HX-Replace-Url"] == f"/lots/{lot_number}"


def test_full_page_for_a_lot_includes_the_same_card(client, lot_number):
    page = client.get(f"/lots/{lot_number}")
    fragment = client.get(f"/lots/card?lot={lot_number}", headers=HX)
    assert page.status_code == 200
    assert "<html" in page.text and 'class="topbar"' in page.text
    assert f'value="{lot_number}"' in page.text  # ready to be replaced by the next scan
    card = re.search(r'<article class="card lot".*?</article>', fragment.text, re.S).group(0)
    assert card in page.text


def test_every_address_of_a_lot_answers_both_ways(client, lot_number):
    for url in (f"/lots/{lot_number}", f"/lots/card?lot={lot_number}", f"/lots?lot={lot_number}"):
        assert "<html" in client.get(url).text, url
        fragment = client.get(url, headers=HX).text
        assert 'id="lot-card"' in fragment and "<html" not in fragment, url


def test_history_restore_gets_the_whole_page(client, lot_number):
    response = client.get(f"/lots/{lot_number}",
                          headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.text


def test_unknown_lot_gives_the_red_banner(client):
    response = client.get("/lots/card?lot=XYZ-404", headers=HX)
    assert response.status_code == 404
    assert "banner--error" in response.text and 'role="alert"' in response.text
    assert "No lot 'XYZ-404' — check the number or scan the label again" in text_of(response.text)
    assert response.headers["HX-Replace-Url"] == "/lots?lot=XYZ-404"
    page = client.get("/lots/XYZ-404")
    assert page.status_code == 404
    assert "<html" in page.text and "No lot 'XYZ-404'" in text_of(page.text)


@pytest.mark.parametrize("raw", ["", "   ", "\r\n", "\t\x1d"])
def test_empty_scan_gives_a_gentle_message(client, raw):
    response = client.get("/lots/card", query_string={"lot": raw}, headers=HX)
    assert response.status_code == 200
    assert "banner--info" in response.text and "banner--error" not in response.text
    assert "scan a lot label or type a lot number" in text_of(response.text)


def test_missing_lot_parameter_is_an_empty_scan(client):
    response = client.get("/lots/card", headers=HX)
    assert response.status_code == 200 and "banner--info" in response.text


@pytest.mark.parametrize("wrap", ["  {}  ", "{}\r\n", "\t{}\n", "\x02{}\x03", "{}\x1d", "\ufeff{}"])
def test_scanned_value_is_cleaned_of_whitespace_and_control_characters(client, lot_number, wrap):
    response = client.get("/lots/card", query_string={"lot": wrap.format(lot_number)}, headers=HX)
    assert response.status_code == 200
    assert f'data-lot="{lot_number}"' in response.text


def test_lot_and_supplier_lot_values_are_html_escaped(client, db):
    with db.write() as s:
        item = catalog.create_item(s, sku="TAPE", name="Packing tape <50 mm>")
        supplier = catalog.create_supplier(s, code="EVIL", name="Evil & Sons")
        dock = catalog.create_location(s, code="DOCK-9", kind=LocationKind.DOCK)
        lot = receiving.receive(s, item=item, qty=5, location=dock, supplier=supplier,
                                supplier_lot="<b>x</b><script>alert(1)</script>")
        number = lot.lot_number
    body = client.get(f"/lots/{number}").text
    assert "<b>x</b>" not in body and "<script>alert" not in body
    assert "&lt;b&gt;x&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "Packing tape &lt;50 mm&gt;" in body and "Evil &amp; Sons" in body


def test_unknown_lot_with_markup_is_escaped_in_the_banner(client):
    response = client.get("/lots/card", query_string={"lot": "<script>alert(1)</script>"},
                          headers=HX)
    assert response.status_code == 404
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_held_lot_shows_an_amber_badge_and_why_it_cannot_be_picked(client, db, lot_number):
    with db.write() as s:
        holds.hold(s, catalog.lot_by_number(s, lot_number), "Label misprint")
    body = client.get(f"/lots/{lot_number}", headers=HX).text
    assert 'class="badge badge--warn" data-status="hold"' in body
    assert "This lot is on hold — QA release needed." in text_of(body)


def test_expired_lot_shows_red_even_before_its_status_is_updated(client, db):
    today = clock.today()
    with db.write() as s:
        item = catalog.create_item(s, sku="CREAM", name="Cream 200 ml")
        dock = catalog.create_location(s, code="DOCK-2", kind=LocationKind.DOCK)
        lot = receiving.receive(s, item=item, qty=10, location=dock,
                                produced=today - dt.timedelta(days=10),
                                expiry=today - dt.timedelta(days=3))
        number = lot.lot_number
    body = client.get(f"/lots/{number}", headers=HX).text
    assert 'class="badge badge--bad" data-status="expired"' in body
    assert "expired 3 days ago" in text_of(body)


def test_lot_made_on_the_line_says_so_instead_of_showing_an_empty_supplier(client, db):
    with db.write() as s:
        item = catalog.create_item(s, sku="COOKIE", name="Cookies 200 g", shelf_life_days=90)
        line = catalog.create_location(s, code="LINE-1", kind=LocationKind.LINE)
        number = production.produce(s, item=item, qty=600, location=line).lot_number
    page = text_of(client.get(f"/lots/{number}", headers=HX).text)
    assert "Received made here" in page
    assert "Supplier" not in page
    assert "Produced 600 ea — → LINE-1" in page


# --- the lookup page takes scans: a lot, a pallet, a supplier label, a location, an item --------------


@pytest.fixture
def lookup_site(site):
    from factories import TODAY

    site.lot("pallet", "MILK", 24, location="A-01", supplier="ACME", supplier_lot="ACM-77",
             expiry=clock.today() + dt.timedelta(days=20), sscc=SSCC, on=TODAY)
    site.lot("loose", "BOLT", 300, location="A-01", on=TODAY)
    site.lot("held", "BOLT", 5, location="A-02", hold="Thread damage", on=TODAY)
    return site


def lookup_scan(client, code: str):
    """A wedge scan on the lookup page: (banner kind, banner message, the answer's HTML)."""
    from actions import scan

    answer = scan(client, code, "/lots/scan", text=True)
    kind = re.search(r'class="banner banner--(\w+)', answer).group(1)
    message = text_of(re.search(r'<p class="banner__message">(.*?)</p>', answer, re.S).group(1))
    return kind, message, answer


def test_the_lookup_page_captures_wedge_scans(client):
    page = client.get("/lots").text
    assert 'data-scan-url="/lots/scan"' in page and 'data-scan-target="lot-result"' in page


def test_a_scanned_lot_label_shows_its_card(client, lookup_site):
    kind, message, body = lookup_scan(client, f"LOT:{lookup_site['loose']}")
    assert (kind, message) == ("ok", f"Lot {lookup_site['loose']}: BOLT Bolt M8")
    assert f'data-lot="{lookup_site["loose"]}"' in body and 'id="lot-card"' in body and "data-scan-id=" in body


def test_a_held_lot_is_amber_and_says_why(client, lookup_site):
    kind, message, body = lookup_scan(client, lookup_site["held"])
    assert kind == "warn" and 'data-ok="0"' in body and "on hold" in text_of(body)


@pytest.mark.parametrize("code", [SSCC, f"]C100{SSCC}", f"(00){SSCC}"])
def test_a_pallet_shows_its_lots_card(client, lookup_site, code):
    kind, message, body = lookup_scan(client, code)
    assert kind == "ok" and message == f"Pallet {SSCC}: 24 ea of MILK, lot {lookup_site['pallet']} at A-01"
    assert f'id="lot-card" data-lot="{lookup_site["pallet"]}"' in body


def test_a_supplier_label_by_gtin_and_supplier_lot_shows_our_lot(client, lookup_site):
    kind, message, body = lookup_scan(client, "]C1010400000000002010ACM-77")
    assert kind == "ok" and f'id="lot-card" data-lot="{lookup_site["pallet"]}"' in body, message


def test_a_location_shows_the_stock_there(client, lookup_site):
    kind, message, body = lookup_scan(client, "LOC:A-01")
    assert (kind, message) == ("ok", "Location A-01")
    rows = re.findall(r'class="lot-list__row" href="/lots/([^"]+)"', body)
    assert sorted(rows) == sorted([lookup_site["pallet"], lookup_site["loose"]])
    assert "2 lots here" in text_of(body) and "300 ea" in text_of(body)
    kind, message, body = lookup_scan(client, "LOC:SHIP")
    assert kind == "ok" and "Nothing is stored here." in text_of(body)


@pytest.mark.parametrize("code", ["4000000000013", "BOLT", "bolt", "(01)04000000000013"])
def test_an_item_shows_its_lots_in_stock(client, lookup_site, code):
    kind, message, body = lookup_scan(client, code)
    assert (kind, message) == ("ok", "Item BOLT — Bolt M8"), body
    rows = re.findall(r'class="lot-list__row" href="/lots/([^"]+)"', body)
    assert rows == [lookup_site["loose"], lookup_site["held"]]
    assert "On hold" in text_of(body)


def test_an_unknown_code_is_red_in_words(client, lookup_site):
    kind, message, body = lookup_scan(client, "NOPE-NOPE-42")
    assert kind == "error" and 'data-ok="0"' in body and "Traceback" not in body
    assert "Scan a lot, a pallet, a location or an item label." in text_of(body)


def test_lookup_scans_are_escaped(client, lookup_site):
    _, _, body = lookup_scan(client, "<script>alert(1)</script>")
    assert "<script>alert(1)" not in body
