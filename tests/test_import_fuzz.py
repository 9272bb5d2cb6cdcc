"""Hypothesis over the import's files: any cells (strings, numbers, dates, unicode, control characters, empty,
huge) and any bytes give either an import or a list of problems — never an exception, never a partial write."""
from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from station import imports
from station.db import Database
from station.models import Base
from station.schema import upgrade

SETUP = [("suppliers", "code,name\nHOF,Hofmühle\n"), ("locations", "code,kind\nA-01-01,storage\nDOCK-1,dock\n"),
         ("customers", "code,name\nSHOP,Corner Shop\n"),
         ("items", "sku,name,gtins,shelf_life_days,supplier\nFLOUR,Flour,4012345100013,365,HOF\nSALT,Salt,,,\n")]
KNOWN = ["HOF", "A-01-01", "DOCK-1", "SHOP", "FLOUR", "SALT", "receiver", "storage", "FEFO", "LOT-1",
         "340123450001234565", "4012345100013", "2027-03-31", "2027-02-30", "31.12.2027", "1", "12.0", "-5"]

cell = st.one_of(
    st.sampled_from(KNOWN),
    st.just(""),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.integers(min_value=-10**15, max_value=10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.dates().map(lambda d: d.isoformat()),
    st.text(alphabet="xyz=+-@\t\r\n\"';,", min_size=990, max_size=1010),
)


@pytest.fixture(scope="module")
def fuzz_db(tmp_path_factory):
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'station.db'}")
    upgrade(database)
    for kind, text in SETUP:
        assert imports.import_table(database, kind, imports.read(text.encode(), "f.csv")).ok
    yield database
    database.dispose()


def counts(db) -> dict[str, int]:
    with db.read() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def imported_or_refused(db, kind: str, data: bytes, name: str = "fuzz.csv") -> None:
    before = counts(db)
    try:
        table = imports.read(data, name)
    except imports.FileRefused as refused:
        assert refused.message
        assert counts(db) == before
        return
    result = imports.import_table(db, kind, table)
    after = counts(db)
    if result.ok:
        assert result.written > 0 and after != before
    else:
        assert all(str(p) for p in result.problems)
        assert after == before, result.problems[:3]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["opening", "items", "locations", "orders", "expected", "operators", "customers"]),
       rows=st.lists(st.lists(cell, min_size=0, max_size=10), min_size=1, max_size=6))
def test_any_cells_give_an_import_or_problems(fuzz_db, kind, rows):
    header = [c.name for c in imports.KINDS[kind].columns]
    imported_or_refused(fuzz_db, kind, csv_bytes(header, rows))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(st.one_of(st.sampled_from(["sku", "qty", "location", "lot", "pin", "SKU ", "expiry"]),
                                 st.text(max_size=12)), min_size=0, max_size=8),
       rows=st.lists(st.lists(cell, max_size=8), max_size=4))
def test_any_header_gives_an_import_or_problems(fuzz_db, header, rows):
    imported_or_refused(fuzz_db, "opening", csv_bytes(header, rows))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), name=st.sampled_from(["f.csv", "f.xlsx", "f.CSV", "f"]))
def test_any_bytes_give_an_import_or_a_refusal(fuzz_db, data, name):
    imported_or_refused(fuzz_db, "locations", data, name)


OPENING_HEADER = ["sku", "lot", "supplier", "supplier_lot", "qty", "location", "expiry", "produced", "sscc"]
GOOD_ROW = ["SALT", "", "HOF", "S-1", "5", "A-01-01", "", "", ""]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from(OPENING_HEADER), value=cell, good_rows=st.integers(min_value=0, max_value=3))
def test_one_fuzzed_cell_among_good_rows(fuzz_db, column, value, good_rows):
    """Good rows and one row with one cell drawn at random: all imported, or that row's problem and nothing."""
    row = list(GOOD_ROW)
    row[OPENING_HEADER.index(column)] = value
    before = counts(fuzz_db)
    result = imports.import_table(fuzz_db, "opening", imports.read(
        csv_bytes(OPENING_HEADER, [GOOD_ROW] * good_rows + [row]), "f.csv"))
    if result.ok:
        assert result.written == good_rows + 1
        assert counts(fuzz_db)["movements"] == before["movements"] + good_rows + 1
    else:
        assert {p.row for p in result.problems} == {good_rows + 2}, result.problems
        assert counts(fuzz_db) == before
