"""RawReader runs the scan look-ups on the DBAPI cursor: it must return what SQLAlchemy returns."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import column, select, table
from sqlalchemy.exc import DBAPIError

from station.demo import check_digit
from station.rawsql import RawReader
from station.scanning import lookup
from station.services import catalog, receiving

from factories import basic_site, gtin13

SSCC = "3" + "4012345" + "000000042"
SSCC += check_digit(SSCC)


@pytest.fixture
def lots(db):
    basic_site(db)
    with db.write() as s:
        milk = catalog.item_by_sku(s, "MILK")
        dock, acme = catalog.location_by_code(s, "DOCK"), catalog.supplier_by_code(s, "ACME")
        first = receiving.receive(s, item=milk, qty=10, location=dock, supplier=acme, supplier_lot="S-1",
                                  expiry=dt.date(2031, 5, 31), sscc=SSCC)
        second = receiving.receive(s, item=milk, qty=5, location=dock, supplier=acme, supplier_lot="S-1",
                                   expiry=dt.date(2031, 6, 30))
        return {"item": milk.id, "lots": [first.lot_number, second.lot_number]}


def cases(lots: dict) -> list[tuple]:
    return [
        (lookup._ITEM_AND_LOT, {"gtin": gtin13("400000000002").zfill(14), "lot": lots["lots"][0]}),
        (lookup._ITEM_AND_LOT, {"gtin": "00000000000000", "lot": None}),
        (lookup._SUPPLIER_LOTS, {"item": lots["item"], "lot": "S-1"}),  # a UNION with a LIMIT
        (lookup._LOT_BY_NUMBER, {"lot": lots["lots"][1]}),
        (lookup._UNIT_BY_SSCC, {"sscc": SSCC}),  # dates, a timestamp, an enum, a sub-select
        (lookup._LOCATION_BY_CODES, {"barcode": "nope", "code": "DOCK"}),
        (lookup._SUPPLIER_BY_GLN, {"gln": "4000000000013"}),
    ]


def test_raw_rows_equal_sqlalchemy_rows(db, lots):
    with db.read() as session:
        raw = RawReader.of_session(session)
        for statement, params in cases(lots):
            expected = session.connection().execute(statement, params).all()
            got = list(raw.execute(statement, params))
            assert [tuple(r) for r in got] == [tuple(r) for r in expected], statement
            for g, e in zip(got, expected):
                assert g._fields == tuple(e._fields)
                assert [type(v) for v in g] == [type(v) for v in e]  # dates are dates, enums enums
        assert len(list(raw.execute(*cases(lots)[2]))) == 2  # the case list does find rows


def test_the_pooled_reader_sees_committed_rows_and_types(db, lots):
    with db.reader() as reader:
        row = reader.execute(lookup._LOT_BY_NUMBER, {"lot": lots["lots"][0]}).first()
        assert row.lot_number == lots["lots"][0]
        assert row.expiry == dt.date(2031, 5, 31)
        assert reader.execute(lookup._LOT_BY_NUMBER, {"lot": "no such lot"}).first() is None


def test_a_database_error_is_sqlalchemys_error(db):
    """resolve() lets SQLAlchemy errors through (an outage is not a bad scan): raw errors must be one."""
    missing = table("no_such_table", column("x"))
    with db.reader() as reader:
        with pytest.raises(DBAPIError):
            reader.execute(select(missing.c.x), {})


def test_the_lot_api_card_on_the_cursor_says_what_the_lot_page_says(db, lots):
    """services.lots: the lot API reads the lot card's statements on the DBAPI cursor (lot_card), the pages
    in a Session (lot_details): the same lot, stock, history and status changes, in the same types."""
    from station.services import holds
    from station.services.actor import Actor
    from station.services.lots import lot_card, lot_details
    from station.services.tokens import create_token
    from station.models import ApiToken, Role

    number = lots["lots"][0]
    with db.write() as s:
        create_token(s, "erp", Role.SUPERVISOR)
        token = s.scalar(select(ApiToken.id))
        lot = catalog.lot_by_number(s, number)
        holds.hold(s, lot, "smells odd", by=Actor(token_id=token))
        holds.release(s, lot, "checked: fine")
    with db.reader() as reader:
        card = lot_card(reader, number)
    with db.read() as session:
        page = lot_details(session, number)
        lot = page.lot
        assert (card.lot.lot_number, card.lot.status, card.lot.expiry, card.lot.on_hand, card.lot.sku,
                card.lot.unit, card.lot.supplier) == (lot.lot_number, lot.status, lot.expiry, lot.on_hand,
                                                       lot.item.sku, lot.item.unit, lot.supplier.code)
        assert card.days_to_expiry == page.days_to_expiry
    assert (card.stock, card.history, card.events) == (page.stock, page.history, page.events)
    assert [e.who for e in card.events] == [None, "API: erp"]
    assert len(card.history) == 1 and card.stock[0].sscc == SSCC
    with db.reader() as reader:
        with pytest.raises(catalog.NotFound):
            lot_card(reader, "no such lot")
