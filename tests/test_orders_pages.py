"""The supervisor's /orders and /customers pages and the order of /pick, through the Flask client on
SQLite and PostgreSQL: entering an order by hand, cancelling it with a reason, adding and changing
customers; every refusal drawn again in words with nothing written; the roles that may use them."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from actions import text_of
from station.models import Customer, Order, OrderLine, OrderStatus
from station.services import orders as order_service
from station.services.orders import OrderLineIn


@pytest.fixture
def boss(client, signed_in):
    return signed_in(client, "supervisor", badge="OP-BOSS", name="Sam Supervisor")


def stored(db) -> list[tuple]:
    with db.read() as s:
        return (s.execute(select(Order.number, Order.status, Order.priority, Order.due_on, Order.cancel_reason,
                                 Order.created_by_id).order_by(Order.number)).all()
                + s.execute(select(OrderLine.order_id, OrderLine.line_no, OrderLine.item_id, OrderLine.qty)
                            .order_by(OrderLine.id)).all()
                + s.execute(select(Customer.code, Customer.name, Customer.gln, Customer.min_shelf_life_days,
                                   Customer.active).order_by(Customer.code)).all())


def banner(response) -> str:
    return text_of(response.get_data(as_text=True))


FORM = {"customer": "SHOP", "number": "HAND-1", "due_on": "2026-07-01", "priority": "2",
        "sku": ["MILK", "", "BOLT"], "qty": ["12", "", "3"]}


def test_a_supervisor_enters_an_order_by_hand(client, site, boss):
    page = client.get("/orders")
    assert page.status_code == 200
    assert 'name="sku"' in page.get_data(as_text=True) and "Corner Shop (SHOP)" in page.get_data(as_text=True)
    done = client.post("/orders", data=FORM)
    assert done.status_code == 303
    listed = client.get("/orders")
    assert "Order HAND-1 for Corner Shop entered: 2 lines." in banner(listed)
    assert "MILK × 12" in banner(listed) and "BOLT × 3" in banner(listed)
    with site.read() as s:
        order = order_service.order_by_number(s, "HAND-1")
        assert [(x.item.sku, x.qty) for x in order.lines] == [("MILK", 12), ("BOLT", 3)]
        assert (order.priority, order.due_on, order.created_by_id) == (2, dt.date(2026, 7, 1), boss.id)
    again = client.post("/orders", data=FORM, follow_redirects=True)  # a double tap enters it once
    assert "Order HAND-1 was already entered just like this — nothing changed." in banner(again)


@pytest.mark.parametrize("change, words", [
    ({"customer": ""}, "No customer ''."),
    ({"sku": ["MILK", "GHOST"], "qty": ["1", "2"]}, "Line 2: there is no item with SKU 'GHOST'."),
    ({"sku": ["MILK"], "qty": ["two"]}, "Line 1 (MILK): the quantity must be a number like 12 or 12.5 (got 'two')."),
    ({"sku": ["MILK"], "qty": ["0"]}, "Line 1 (MILK): the quantity must be a number greater than 0"),
    ({"sku": ["", ""], "qty": ["", ""]}, "An order needs at least one line"),
    ({"sku": ["MILK", "MILK"], "qty": ["1", "1"]}, "SKU MILK is on line 1 and line 2; put it on one line."),
    ({"due_on": "2026-02-30"}, "The due date '2026-02-30' is not a date"),
    ({"priority": "0"}, "The priority is a whole number from 1 (picked first) to 9"),
    ({"number": ""}, "The order number is required."),
])
def test_a_wrong_order_form_is_refused_in_words_and_saves_nothing(client, site, boss, change, words):
    before = stored(site.db)
    answer = client.post("/orders", data={**FORM, **change})
    assert answer.status_code in (404, 422), answer.status_code
    assert words in banner(answer) and "Nothing was saved." in banner(answer)
    html = answer.get_data(as_text=True)
    assert 'value="HAND-1"' in html or change.get("number") == ""  # what was typed stays, lines too
    assert all(f'value="{typed}"' in html for typed in {**FORM, **change}["sku"] + {**FORM, **change}["qty"] if typed)
    assert stored(site.db) == before


def test_the_line_row_is_added_and_removed_by_htmx(client, site, boss):
    row = client.get("/orders/line-row", headers={"HX-Request": "true"})
    assert row.status_code == 200
    html = row.get_data(as_text=True)
    assert 'name="sku"' in html and 'name="qty"' in html and 'hx-swap="delete"' in html
    assert client.get("/orders/no-row").get_data(as_text=True) == ""


def test_cancel_with_a_reason_while_nothing_is_picked(client, site, boss):
    with site.write() as s:
        order_service.enter_order(s, number="C-1", customer_code="SHOP", lines=[OrderLineIn("BOLT", 2)])
    before = stored(site.db)
    refused = client.post("/orders/C-1/cancel", data={"reason": "   "})
    assert refused.status_code == 422 and "Say why the order is cancelled. Nothing was changed." in banner(refused)
    assert stored(site.db) == before
    missing = client.post("/orders/NOPE/cancel", data={"reason": "x"})
    assert missing.status_code == 404 and "There is no order 'NOPE'." in banner(missing)
    done = client.post("/orders/C-1/cancel", data={"reason": "Customer rang"}, follow_redirects=True)
    assert "Order C-1 is cancelled; pickers no longer see it." in banner(done)
    assert "C-1" not in banner(client.get("/orders"))  # open orders only, by default
    cancelled = banner(client.get("/orders?show=cancelled"))
    assert "C-1" in cancelled and "Customer rang" in cancelled


def test_an_orders_lines_are_changed_on_the_page_while_nothing_is_picked(client, site, boss):
    with site.write() as s:
        order_service.enter_order(s, number="L-1", customer_code="SHOP", lines=[OrderLineIn("BOLT", 2)])
    assert "Change lines…" in banner(client.get("/orders"))
    page = banner(client.get("/orders?change=L-1"))
    assert "Change the lines of L-1 (Corner Shop)" in page and "Save the lines of L-1" in page
    before = stored(site.db)
    refused = client.post("/orders/L-1/lines", data={"sku": ["BOLT"], "qty": ["two"]})
    assert refused.status_code == 422 and "the quantity must be a number" in banner(refused)
    assert "Nothing was changed." in banner(refused) and stored(site.db) == before
    unknown = client.post("/orders/L-1/lines", data={"sku": ["NOPE-9"], "qty": ["1"]})
    assert unknown.status_code in (404, 422) and "NOPE-9" in banner(unknown) and stored(site.db) == before
    done = client.post("/orders/L-1/lines", data={"sku": ["BOLT", "MILK"], "qty": ["5", "12"]},
                       follow_redirects=True)
    assert "Order L-1 now has 2 lines." in banner(done)
    with site.read() as s:
        order = order_service.order_by_number(s, "L-1")
        assert [(line.item.sku, line.qty) for line in order.lines] == [("BOLT", 5), ("MILK", 12)]


def test_cancel_is_refused_once_a_pick_exists(client, site, boss):
    site.lot("bolt", "BOLT", 10, location="A-01")
    with site.write() as s:
        order, _ = order_service.enter_order(s, number="C-2", customer_code="SHOP", lines=[OrderLineIn("BOLT", 2)])
        from station.services import catalog, picking
        picking.pick_line(s, line=order.lines[0], lot=catalog.lot_by_number(s, site["bolt"]), qty=1)
    before = stored(site.db)
    page = banner(client.get("/orders"))
    assert "Picking has started: take the picks back to cancel." in page
    refused = client.post("/orders/C-2/cancel", data={"reason": "Customer rang"})
    assert refused.status_code == 409
    assert "Order C-2 has 1 picked already; it cannot be cancelled." in banner(refused)
    assert stored(site.db) == before


def test_pick_lists_by_priority_then_due_date_then_number(client, site, signed_in):
    today = dt.date(2026, 7, 1)
    with site.write() as s:
        for number, priority, due in [("N-5-late", 5, today + dt.timedelta(days=3)), ("N-5-none", 5, None),
                                      ("N-5-soon", 5, today), ("A-9", 9, today - dt.timedelta(days=9)),
                                      ("Z-1", 1, None), ("B-5-soon", 5, today), ("X-gone", 1, today)]:
            order_service.enter_order(s, number=number, customer_code="SHOP", lines=[OrderLineIn("BOLT", 1)],
                                      priority=priority, due_on=due)
        order_service.cancel_order(s, order_service.order_by_number(s, "X-gone"), reason="Not wanted")
        order_service.enter_order(s, number="Y-shipped", customer_code="SHOP", lines=[OrderLineIn("BOLT", 1)])
        order_service.order_by_number(s, "Y-shipped").status = OrderStatus.SHIPPED
    signed_in(client, "picker")
    html = client.get("/pick").get_data(as_text=True)
    shown = [n for n in ("Z-1", "B-5-soon", "N-5-soon", "N-5-late", "N-5-none", "A-9", "X-gone", "Y-shipped")
             if f">{n}<" in html]
    assert sorted(shown, key=html.index) == ["Z-1", "B-5-soon", "N-5-soon", "N-5-late", "N-5-none", "A-9"]
    assert "Priority 1" in text_of(html) and "Priority 9" in text_of(html)


def test_a_cancelled_order_is_refused_at_the_next_scan(client, site, signed_in):
    site.lot("bolt", "BOLT", 10, location="A-01")
    with site.write() as s:
        order_service.enter_order(s, number="P-1", customer_code="SHOP", lines=[OrderLineIn("BOLT", 2)])
    signed_in(client, "picker")
    assert client.get("/pick/P-1").status_code == 200  # the picker has it open
    with site.write() as s:
        order_service.cancel_order(s, order_service.order_by_number(s, "P-1"), reason="Customer rang")
    answer = client.post("/pick/P-1/scan", data={"code": site["bolt"]})
    assert "Order P-1 is cancelled — nothing more can be picked." in banner(answer)
    with site.read() as s:
        assert [x.picked_qty for x in order_service.order_by_number(s, "P-1").lines] == [0]


def test_customers_are_added_changed_and_deactivated(client, site, boss):
    added = client.post("/customers", data={"code": "FRESH", "name": "FreshMart", "gln": "4000000000020",
                                             "min_shelf_life_days": "30"}, follow_redirects=True)
    assert "Customer FreshMart (FRESH) added." in banner(added)
    changed = client.post("/customers/FRESH", data={"name": "FreshMart Centrum", "gln": "",
                                                    "min_shelf_life_days": ""}, follow_redirects=True)
    assert "Customer FreshMart Centrum (FRESH) saved." in banner(changed)
    off = client.post("/customers/FRESH/active", data={"active": "no"}, follow_redirects=True)
    assert "is deactivated: no new orders can be entered for it." in banner(off)
    with site.read() as s:
        fresh = s.scalar(select(Customer).where(Customer.code == "FRESH"))
        assert (fresh.name, fresh.gln, fresh.min_shelf_life_days, fresh.active) == \
            ("FreshMart Centrum", None, None, False)
    page = client.get("/orders").get_data(as_text=True)
    assert 'value="FRESH"' not in page  # an inactive customer is not offered for new orders
    refused = client.post("/orders", data={**FORM, "customer": "FRESH"})
    assert "Customer FRESH (FreshMart Centrum) is no longer active" in banner(refused)


@pytest.mark.parametrize("url, form, words", [
    ("/customers", {"code": "SHOP", "name": "Again"}, "Customer SHOP already exists. Nothing was saved."),
    ("/customers", {"code": "N1", "name": "X", "gln": "4000000000021"}, "GLN"),
    ("/customers", {"code": "N1", "name": "X", "min_shelf_life_days": "-3"}, "The minimum shelf life is a whole number"),
    ("/customers", {"code": "N 1", "name": "X"}, "The customer code 'N 1' must be"),
    ("/customers/SHOP", {"name": "", "gln": "", "min_shelf_life_days": ""}, "The name is required. Nothing was changed."),
    ("/customers/SHOP", {"name": "X", "gln": "", "min_shelf_life_days": "1000000"}, "minimum shelf life"),
    ("/customers/GHOST", {"name": "X"}, "No customer 'GHOST'."),
    ("/customers/SHOP/active", {"active": "maybe"}, "Tap Deactivate or Activate — nothing was changed."),
])
def test_a_wrong_customer_form_is_refused_in_words_and_changes_nothing(client, site, boss, url, form, words):
    before = stored(site.db)
    answer = client.post(url, data=form)
    assert answer.status_code in (400, 404, 409, 422)
    assert words in banner(answer)
    assert stored(site.db) == before


@pytest.mark.parametrize("role", ["picker", "receiver", "line_operator"])
def test_only_supervisors_and_admins_use_the_pages(client, site, signed_in, role):
    signed_in(client, role)
    before = stored(site.db)
    for url in ("/orders", "/customers"):
        assert client.get(url).status_code == 403
    assert client.post("/orders", data=FORM).status_code == 403
    assert client.post("/customers", data={"code": "N", "name": "N"}).status_code == 403
    assert client.post("/customers/SHOP/active", data={"active": "no"}).status_code == 403
    assert stored(site.db) == before
