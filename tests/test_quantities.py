"""station/quantities.py: what a typed or sent quantity is read as, what is refused (in words), how a
quantity is shown, and the Quantity column: exact on both engines, whole figures back as ints, floats,
seven decimals and figures beyond a BIGINT of millionths refused before the database sees them."""
from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, func, literal, select, type_coerce
from sqlalchemy.exc import StatementError
from sqlalchemy.types import NullType

from station import quantities as q
from station.quantities import Quantity, QuantityError

D = Decimal
LARGEST = D("9223372036854.775807")  # 2**63 - 1 millionths


# --- parse: what a person typed, or a JSON body carried ---------------------------------------------

@pytest.mark.parametrize("typed, read", [
    ("12", 12),
    ("12.35", D("12.35")),
    ("12,35", D("12.35")),  # a decimal comma, as typed where the site's locale has one
    (" 7 ", 7),
    ("0", 0),
    ("0.000001", D("0.000001")),
    ("00012.500", D("12.5")),
    ("5.000", 5),  # trailing zeros do not make a whole figure fractional
    ("123456789012.123456", D("123456789012.123456")),
    ("9223372036854.775807", LARGEST),
    # Fifteen digits are read as they are: too much for one booking is the caller's limit to say (MAX_QTY),
    # too much to store is the column's (to_micro).
    ("999999999999999.999999", D("999999999999999.999999")),
    ("１２,５", D("12.5")),  # full-width digits from an input method are digits
    (12, 12),
    (D("12.350"), D("12.35")),
    (D("1E+3"), 1000),  # a JSON number 1e3, read as a Decimal: its value is exact, so it is taken
    (D("-0"), 0),
])
def test_a_quantity_is_read_exactly(typed, read):
    value = q.parse(typed)
    assert value == read and type(value) is type(read)


@pytest.mark.parametrize("typed, words", [
    ("1e3", "must be a number like 12 or 12.35, not '1e3'"),  # nobody types an exponent: a misread cell
    ("1E3", "must be a number like 12 or 12.35"),
    ("-1", "must be a number like 12 or 12.35, not '-1'"),
    ("+1", "must be a number like 12 or 12.35"),
    ("", "must be a number like 12 or 12.35"),
    ("1.", "must be a number like 12 or 12.35"),
    (".5", "must be a number like 12 or 12.35"),
    ("1,000.5", "must be a number like 12 or 12.35"),  # thousands separators are ambiguous with a comma
    ("1 000", "must be a number like 12 or 12.35"),
    ("12 kg", "must be a number like 12 or 12.35"),
    ("NaN", "must be a number like 12 or 12.35"),
    ("0x10", "must be a number like 12 or 12.35"),
    ("1.1234567", "has more than 6 decimals"),
    ("0,0000001", "has more than 6 decimals"),
    ("9999999999999999", "must be a number like 12 or 12.35"),  # sixteen digits: no quantity anyone typed
    (1.5, "must be a number like 12 or 12.35"),  # a float is a binary fraction: never a quantity
    (2.0, "must be a number like 12 or 12.35"),
    (True, "must be a number like 12 or 12.35"),
    (-3, "cannot be negative"),
    (D("-0.5"), "cannot be negative"),
    (D("NaN"), "must be a number like 12 or 12.35"),
    (D("sNaN"), "must be a number like 12 or 12.35"),
    (D("Infinity"), "must be a number like 12 or 12.35"),
    (D("1E-7"), "has more than 6 decimals"),
    (10**15, "is too large to be a quantity"),
    (D("1E+15"), "is too large to be a quantity"),
    (D("1E+999999"), "is too large to be a quantity"),  # refused at once, not made an int first
    (D("-1E+999999"), "cannot be negative"),
    # More digits than Decimal's default 28: refused for their decimals, never rounded to 1 or 12.35.
    (D("0.99999999999999999999999999999"), "has more than 6 decimals"),
    (D("1.00000000000000000000000000001"), "has more than 6 decimals"),
    (D("12.3500000000000000000000000000001"), "has more than 6 decimals"),
])
def test_what_is_not_a_quantity_is_refused_in_words(typed, words):
    with pytest.raises(QuantityError) as refused:
        q.parse(typed, what="The weight")
    message = str(refused.value)
    assert message.startswith("The weight ") and message.endswith(".") and words in message, message


def test_a_long_typed_value_is_shown_cut_short_in_the_refusal():
    with pytest.raises(QuantityError) as refused:
        q.parse("x" * 500)
    assert len(str(refused.value)) < 120


# --- normal, decimals_of, to_micro, from_micro --------------------------------------------------------

@pytest.mark.parametrize("value, plain", [
    (0, 0), (5, 5), (-5, -5), (10**30, 10**30),
    (D("5"), 5), (D("5.000"), 5), (D("1E+3"), 1000), (D("-0"), 0), (D("0.000"), 0),
    (D("1.50"), D("1.5")), (D("-1.50"), D("-1.5")), (D("0.0000001"), D("1E-7")),
    (D("0.99999999999999999999999999999"), D("0.99999999999999999999999999999")),
])
def test_normal_is_an_int_when_whole_and_an_exact_decimal_otherwise(value, plain):
    out = q.normal(value)
    assert out == plain and type(out) is type(plain)
    if isinstance(out, Decimal):
        assert out.as_tuple().digits[-1] != 0  # no trailing zeros: 1.5, not 1.50


@pytest.mark.parametrize("value", [1.5, 1.0, True, False, "5", None, D("NaN"), D("-Infinity")])
def test_normal_refuses_what_is_not_an_exact_number(value):
    with pytest.raises(TypeError):
        q.normal(value)


@pytest.mark.parametrize("value, decimals", [
    (5, 0), (D("5.00"), 0), (D("12.3"), 1), (D("12.30"), 1), (D("0.000001"), 6), (D("1E-7"), 7), (D("1E+3"), 0),
])
def test_decimals_of(value, decimals):
    assert q.decimals_of(value) == decimals


@pytest.mark.parametrize("value, stored", [
    (0, 0), (1, 1_000_000), (40, 40_000_000), (D("0.000001"), 1), (D("12.35"), 12_350_000),
    (D("0.3"), 300_000), (D("-1.5"), -1_500_000), (LARGEST, 2**63 - 1), (-LARGEST, -(2**63 - 1)),
    (D("9223372036854"), 9_223_372_036_854_000_000),
])
def test_to_micro_and_back(value, stored):
    assert q.to_micro(value) == stored
    back = q.from_micro(stored)
    assert back == value and type(back) is type(q.normal(value))


@pytest.mark.parametrize("value, words", [
    (D("0.0000001"), "has more than 6 decimals"),
    (D("1.00000000000000000000000000001"), "has more than 6 decimals"),
    (LARGEST + D("0.000001"), "cannot be stored"),
    (10**13, "cannot be stored"),
    (-(10**13), "cannot be stored"),
    (D("1E+999999"), "cannot be stored"),
])
def test_to_micro_refuses_what_a_bigint_of_millionths_cannot_hold(value, words):
    with pytest.raises(QuantityError, match=words):
        q.to_micro(value)


def test_from_micro_of_a_sum_beyond_a_bigint_stays_exact():
    # PostgreSQL's sum() of BIGINTs is a NUMERIC: it may exceed the column's range, and stays exact.
    assert q.from_micro(10**40 + 1) == D("10000000000000000000000000000000000.000001")


SIX_DECIMALS = st.decimals(min_value=-LARGEST, max_value=LARGEST, places=6, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(value=SIX_DECIMALS)
def test_any_six_decimal_quantity_in_range_survives_storage_exactly(value):
    stored = q.to_micro(value)
    assert -(2**63) < stored < 2**63
    back = q.from_micro(stored)
    assert back == value
    assert isinstance(back, int) == (value == value.to_integral_value())
    assert q.to_micro(back) == stored


@settings(max_examples=300, deadline=None)
@given(stored=st.integers(min_value=-(2**63 - 1), max_value=2**63 - 1))
def test_any_stored_bigint_reads_back_to_the_same_bigint(stored):
    assert q.to_micro(q.from_micro(stored)) == stored


@settings(max_examples=200, deadline=None)
@given(value=st.decimals(min_value=0, max_value=LARGEST, places=6, allow_nan=False, allow_infinity=False),
       comma=st.booleans(), decimals=st.integers(0, 6))
def test_what_is_shown_is_read_back_as_the_same_quantity(value, comma, decimals):
    assert q.parse(q.text(value, decimals, comma=comma)) == value


# --- for_item, check_unit, check_decimals ---------------------------------------------------------------

@pytest.mark.parametrize("value, decimals, fits", [
    (12, 0, 12), (D("12.000"), 0, 12), (D("12.35"), 2, D("12.35")), (D("12.350"), 2, D("12.35")),
    (D("0.001"), 3, D("0.001")), (D("0.000001"), 6, D("0.000001")), (7, 6, 7),
])
def test_a_quantity_within_the_items_decimals_is_taken(value, decimals, fits):
    out = q.for_item(value, decimals, "kg")
    assert out == fits and type(out) is type(fits)


@pytest.mark.parametrize("value, decimals, unit, message", [
    (D("12.5"), 0, "ea", "The quantity 12.5 ea has too many decimals: this item is counted in whole numbers of ea."),
    (D("0.35"), 1, "kg", "The quantity 0.35 kg has too many decimals: this item is counted in at most 1 decimal "
                         "of kg."),
    (D("12.355"), 2, "L", "The quantity 12.355 L has too many decimals: this item is counted in at most 2 "
                          "decimals of L."),
    (D("1.99999999999999999999999999999"), 3, "kg", "has too many decimals"),  # not rounded to 2 first
])
def test_more_decimals_than_the_item_has_are_refused_never_rounded(value, decimals, unit, message):
    with pytest.raises(QuantityError) as refused:
        q.for_item(value, decimals, unit)
    assert message in str(refused.value)


@pytest.mark.parametrize("unit", ["ea", "kg", "g", "lb", "L", "mL", "m", "case", "pallet"])
def test_a_known_unit_is_taken(unit):
    assert q.check_unit(unit) == unit
    assert unit in q.UNITS


@pytest.mark.parametrize("unit", ["kilos", "", "Kg ", "litre", "each"])
def test_an_unknown_unit_is_refused_with_the_list(unit):
    with pytest.raises(QuantityError) as refused:
        q.check_unit(unit)
    assert "is not a unit Station knows; use one of: ea, pcs," in str(refused.value)
    assert str(refused.value).endswith(".")


def test_every_weight_unit_is_a_unit_and_a_pound_is_exact():
    assert set(q.WEIGHTS_KG) <= set(q.UNITS)
    assert q.WEIGHTS_KG["lb"] == D("0.45359237") and q.WEIGHTS_KG["oz"] * 16 == q.WEIGHTS_KG["lb"]


@pytest.mark.parametrize("decimals", [0, 1, 3, 6])
def test_zero_to_six_decimals(decimals):
    assert q.check_decimals(decimals) == decimals


@pytest.mark.parametrize("decimals", [7, -1, True, "2", 2.0, None])
def test_other_decimals_are_refused_in_words(decimals):
    with pytest.raises(QuantityError, match=r"An item is counted in 0 to 6 decimals \(got .+\)\."):
        q.check_decimals(decimals)


# --- text and JSON ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, decimals, comma, shown", [
    (None, None, False, ""),
    (5, None, False, "5"), (0, None, False, "0"), (D("12.35"), None, False, "12.35"),
    (D("12.350"), None, False, "12.35"), (D("1E+3"), None, False, "1000"), (D("0.000001"), None, False, "0.000001"),
    (D("12.3"), 3, False, "12.300"), (5, 2, False, "5.00"), (0, 3, False, "0.000"),
    (D("1.2345"), 2, False, "1.2345"),  # more decimals than the item: shown in full, never rounded
    (D("12.35"), None, True, "12,35"), (D("12.3"), 3, True, "12,300"), (7, None, True, "7"),
    (LARGEST, 6, False, "9223372036854.775807"),
])
def test_text(value, decimals, comma, shown):
    assert q.text(value, decimals, comma=comma) == shown


def test_json_columns_write_a_decimal_as_its_string_and_refuse_a_stranger():
    assert q.json_dumps({"qty": D("12.350"), "whole": 5, "big": D("1E+3")}) == \
        '{"qty": "12.35", "whole": 5, "big": "1000"}'
    with pytest.raises(TypeError, match="not JSON serializable"):
        q.json_dumps({"when": object()})


# --- the Quantity column, on SQLite and PostgreSQL --------------------------------------------------------

@pytest.fixture
def column(db):
    """A scratch table with one Quantity column on the parametrised database: (connection, table)."""
    table = Table(f"qty_probe_{uuid.uuid4().hex[:8]}", MetaData(), Column("id", Integer, primary_key=True),
                  Column("q", Quantity()))
    with db.engine.connect() as conn:
        table.create(conn)
        conn.commit()
        try:
            yield conn, table
        finally:
            conn.rollback()
            table.drop(conn)
            conn.commit()


def _stored(conn, table) -> list:
    raw = type_coerce(table.c.q, NullType())
    return [int(v) for v in conn.execute(select(raw).order_by(table.c.id)).scalars()]


KEPT = [0, 7, 10**9, D("0.000001"), D("12.35"), D("0.3"), D("-1.5"), LARGEST]
REFUSED = [
    (1.5, "a quantity is an int or a finite Decimal, not 1.5"),
    (2.0, "a quantity is an int or a finite Decimal, not 2.0"),  # even a whole float: a float is never one
    (D("0.0000001"), "has more than 6 decimals"),
    (D("12.3500001"), "has more than 6 decimals"),
    (LARGEST + D("0.000001"), "cannot be stored"),
    (10**13, "cannot be stored"),
    (D("NaN"), "a quantity is an int or a finite Decimal"),
    (True, "a quantity is not a truth value"),
]


def test_the_column_keeps_a_quantity_exactly(column):
    conn, table = column
    conn.execute(table.insert(), [{"q": value} for value in KEPT])
    back = conn.execute(select(table.c.q).order_by(table.c.id)).scalars().all()
    assert back == KEPT
    assert [type(v) for v in back] == [type(q.normal(v)) for v in KEPT]
    assert _stored(conn, table) == [q.to_micro(v) for v in KEPT]


def test_the_column_refuses_what_it_cannot_keep_exactly_and_writes_nothing(column):
    conn, table = column
    conn.execute(table.insert().values(q=5))
    for value, words in REFUSED:
        with pytest.raises(StatementError, match=words):
            conn.execute(table.insert().values(q=value))
        assert _stored(conn, table) == [5_000_000], value


def test_sums_in_the_database_are_exact_on_both_engines(column):
    conn, table = column
    conn.execute(table.insert(), [{"q": D("0.1")}, {"q": D("0.2")}])
    total = conn.execute(select(func.sum(table.c.q))).scalar_one()
    assert total == D("0.3") and str(total) == "0.3"
    conn.execute(table.insert().values(q=D("0.7")))
    assert conn.execute(select(func.sum(table.c.q))).scalar_one() == 1  # a whole sum is an int
    assert type(conn.execute(select(func.sum(table.c.q))).scalar_one()) is int
    assert conn.execute(select(table.c.q).where(table.c.q > D("0.15")).order_by(table.c.q)).scalars().all() == \
        [D("0.2"), D("0.7")]
    conn.execute(table.delete())
    assert conn.execute(select(func.coalesce(func.sum(table.c.q), 0))).scalar_one() == 0


def test_a_literal_quantity_is_rendered_as_millionths(db):
    statement = select(literal(D("12.35"), Quantity()))
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    assert "12350000" in sql
    with db.engine.connect() as conn:
        assert conn.execute(statement).scalar_one() == D("12.35")
