"""The bulk import (station/imports/): every kind from CSV (and XLSX) on both databases, problems by row and
column in words, nothing written on any problem or in a dry run, opening stock on the ledger and its chain."""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from sqlalchemy import func, select

from factories import assert_books_balance
from station import imports
from station.models import (Base, Customer, ExpectedPallet, ExpectedReceipt, HandlingUnit, Item, Location, Lot,
                            Movement, MovementKind, Operator, Order, OrderLine, Role, Stock, Supplier)
from station.services import chain, opening
from station.services.errors import Conflict

SUPPLIERS = "code,name,gln\nHOF,Hofmühle Getreide GmbH,4012345000016\nNOR,Nordhavn Mejeri,\n"
CUSTOMERS = "code;name;gln;min_shelf_life_days\nSHOP;Corner Shop;5060123000016;30\nCAFE;Café Bleu;;\n"
LOCATIONS = "code,kind,name,barcode\nDOCK-1,dock,Dock door 1,\nA-01-01,storage,Rack A,LOC:A-01-01\nQA,quarantine,,\n"
OPERATORS = "Badge,Name,Role\nOP-2001,Anna Lindqvist,receiver\nOP-2002,Marek Nowak,line operator\n"
ITEMS = ("sku,name,gtins,unit,shelf_life_days,removal_strategy,lot_pattern,lot_reset,supplier,refuse_younger_lots\n"
         "FLOUR,Wheat flour 25 kg,4012345100013;14012345100010,kg,365,FEFO,,,HOF,\n"
         "SALT,Sea salt,,kg,,,{item}-{seq:04},never,,yes\n")
OPENING = ("sku,lot,supplier,supplier_lot,qty,location,expiry,produced,sscc\n"
           "FLOUR,L-1,HOF,M1,100,A-01-01,2027-03-31,,340123450001234565\n"
           "FLOUR,L-1,HOF,M1,50,DOCK-1,2027-03-31,,\n"
           "SALT,,,,25,A-01-01,,,\n"
           "FLOUR,,HOF,M2,10,DOCK-1,,2026-11-02,\n")
ORDERS = ("number,customer,due_on,priority,sku,qty\nSO-1,SHOP,2026-12-10,2,FLOUR,40\nSO-1,SHOP,2026-12-10,2,SALT,5\n"
          "SO-2,CAFE,,,SALT,1\n")
EXPECTED = ("supplier,reference,expected_on,sku,gtin,qty,supplier_lot,ssccs\n"
            "HOF,PO-1,2026-12-10,FLOUR,,500,M9,340123450001234572;340123450001234589\n"
            "HOF,PO-1,2026-12-10,,14012345100010,20,,\n")
SITE = [("suppliers", SUPPLIERS), ("customers", CUSTOMERS), ("locations", LOCATIONS), ("operators", OPERATORS),
        ("items", ITEMS)]


def table(text: str, name: str = "file.csv") -> imports.Table:
    return imports.read(text.encode(), name)


def load(db, kind: str, text: str, **options) -> imports.Result:
    return imports.import_table(db, kind, table(text), **options)


def counts(db) -> dict[str, int]:
    """Rows in every table: what 'nothing written' is measured by."""
    with db.read() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def site(db, upto: int = len(SITE)) -> None:
    for kind, text in SITE[:upto]:
        result = load(db, kind, text)
        assert result.ok, result.problems


def test_every_kind_imports_from_csv(db):
    site(db)
    for kind, text, written in [("opening", OPENING, 3), ("orders", ORDERS, 2), ("expected", EXPECTED, 1)]:
        result = load(db, kind, text)
        assert result.ok and result.written == written, result.problems
    with db.read() as s:
        assert s.scalar(select(Supplier.gln).where(Supplier.code == "HOF")) == "4012345000016"
        assert s.scalar(select(Customer.min_shelf_life_days).where(Customer.code == "SHOP")) == 30
        assert s.scalar(select(Location.barcode).where(Location.code == "DOCK-1")) == "DOCK-1"
        assert {(o.badge, o.role, o.pin_hash) for o in s.scalars(select(Operator))} == {
            ("OP-2001", Role.RECEIVER, None), ("OP-2002", Role.LINE_OPERATOR, None)}
        flour = s.scalar(select(Item).where(Item.sku == "FLOUR"))
        assert [g.gtin for g in flour.gtins] == ["04012345100013", "14012345100010"]
        assert flour.supplier.code == "HOF" and flour.shelf_life_days == 365 and not flour.refuse_younger_lots
        salt = s.scalar(select(Item).where(Item.sku == "SALT"))
        assert salt.supplier_id is None and salt.refuse_younger_lots and salt.lot_scheme.pattern == "{item}-{seq:04}"
        lots = {lot.lot_number: lot for lot in s.scalars(select(Lot))}
        assert lots["L-1"].on_hand == 150 and lots["L-1"].origin == "opening"
        assert lots["SALT-0001"].on_hand == 25  # the item's own pattern drew the number
        made = next(lot for n, lot in lots.items() if n not in ("L-1", "SALT-0001"))
        assert made.expiry == dt.date(2026, 11, 2) + dt.timedelta(days=365)  # production date + shelf life
        unit = s.scalar(select(HandlingUnit))
        assert unit.sscc == "340123450001234565" and unit.lot_id == lots["L-1"].id
        kinds = s.execute(select(Movement.kind, Movement.from_location_id, Movement.reference)).all()
        assert len(kinds) == 4 and all(k == (MovementKind.OPENING, None, "opening stock") for k in kinds)
        assert_books_balance(s)
        order = s.scalar(select(Order).where(Order.number == "SO-1"))
        assert order.priority == 2 and [(ln.item.sku, ln.qty) for ln in order.lines] == [("FLOUR", 40), ("SALT", 5)]
        assert s.scalar(select(Order.priority).where(Order.number == "SO-2")) == 5
        receipt = s.scalar(select(ExpectedReceipt))
        assert receipt.reference == "PO-1" and [ln.qty for ln in receipt.lines] == [500, 20]
        assert s.scalar(select(func.count()).select_from(ExpectedPallet)) == 2
    assert all(report.breaks == 0 for report in chain.verify(db))


def test_templates_import_in_order_on_an_empty_site(db):
    for name in imports.ORDER:
        result = load(db, name, imports.template_csv(imports.KINDS[name]))
        assert result.ok and result.written == 1, (name, result.problems)


def test_xlsx_reads_like_csv_and_refuses_formulas(db):
    site(db, 3)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["code", "kind", "name"])
    sheet.append(["B-01", "storage", 12])
    sheet.append(["B-02", "storage", "=1+1"])
    buffer = io.BytesIO()
    book.save(buffer)
    before = counts(db)
    result = imports.import_table(db, "locations", imports.read(buffer.getvalue(), "sheet.xlsx"))
    assert [str(p) for p in result.problems] == ["row 3, name: is a formula (=1+1); paste the values instead"]
    assert counts(db) == before
    sheet["C3"] = "Bay 2"
    buffer = io.BytesIO()
    book.save(buffer)
    result = imports.import_table(db, "locations", imports.read(buffer.getvalue(), "sheet.xlsx"))
    assert result.ok and result.written == 2
    with db.read() as s:
        assert s.scalar(select(Location.name).where(Location.code == "B-01")) == "12"


@pytest.mark.parametrize("kind, text, expected", [
    ("opening", "sku,qty,location,expiry\nFLOUR,5,A-01-01,2027-02-30\n",
     ["row 2, expiry: 30 February 2027 is not a date"]),
    ("opening", "sku,qty,location\nFLR-99,5,A-01-01\n", ["row 2, sku: no item FLR-99"]),
    ("opening", "sku,qty,location,expiry\nFLOUR,0,A-01-01,2027-01-01\nFLOUR,-3,A-01-01,2027-01-01\n",
     ["row 2, qty: must be more than 0", "row 3, qty: must be more than 0"]),
    ("opening", "sku,lot,qty,location,expiry\nFLOUR,LOT-1,5,A-01-01,2027-01-01\nSALT,LOT-2,5,A-01-01,\n"
                "FLOUR,LOT-1,5,A-01-01,2027-01-01\n",
     ["row 4, lot: LOT-1 is twice in the file (rows 2 and 4) at A-01-01"]),
    ("opening", "sku,lot,qty,location,expiry\nFLOUR,LOT-1,5,A-01-01,2027-01-01\nSALT,LOT-1,5,DOCK-1,\n",
     ["row 3, lot: LOT-1 is on row 2 too, with another sku: rows of one lot differ only in location, pallet and "
      "quantity"]),
    ("opening", "sku,qty,location\nFLOUR,5,A-01-01\n",
     ["row 2, expiry: FLOUR has a shelf life of 365 days: give the expiry date (or the production date)"]),
    ("opening", "sku,qty,location,sscc\nSALT,5,A-01-01,340123450001234562\n",
     ["row 2, sscc: SSCC 340123450001234562: check digit should be 5"]),
    ("items", "sku,name,gtins\nBOLT,Bolt,4012345100011\n", ["row 2, gtins: GTIN 4012345100011: check digit should be 3"]),
    ("items", "sku,name,gtins\nFLOUR,Flour again,\nBOLT,Bolt,4012345100013\n",
     ["row 2, sku: item FLOUR already exists", "row 3, gtins: GTIN 04012345100013 already belongs to item FLOUR"]),
    ("items", "sku,name,shelf_life_days,removal_strategy,supplier\nBOLT,Bolt,12.5,LIFO,ZZZ\n",
     ["row 2, shelf_life_days: '12.5' is not a number of days", "row 2, removal_strategy: 'LIFO' is not one of: "
      "FIFO, FEFO", "row 2, supplier: no supplier ZZZ"]),
    ("items", "sku,name,colour\nBOLT,Bolt,red\n",
     ["row 1, colour: is not a column of items; the columns are: sku, name, gtins, unit, decimals, "
      "variable_measure, shelf_life_days, removal_strategy, lot_pattern, lot_reset, supplier, labels_per_receipt, "
      "refuse_younger_lots"]),
    ("items", "sku,name,unit,decimals,variable_measure\nA,A,kilo,,\nB,B,kg,7,\nC,C,ea,0,yes\n",
     ["row 2, unit: 'kilo' is not a unit Station knows (e.g. ea, kg, g, L, mL, m)",
      "row 3, decimals: must be at most 6 (got 7)",
      "row 4, variable_measure: a variable-measure item is weighed: its unit is kg, g, t, lb or oz, not ea"]),
    ("opening", "sku,qty,location,expiry\nFLOUR,12.5,A-01-01,2027-01-01\nFLOUR,1e3,A-01-01,2027-01-01\n",
     ["row 2, qty: the quantity 12.5 kg has too many decimals: this item is counted in whole numbers of kg",
      "row 3, qty: '1e3' is not a quantity: write it like 12 or 12.35"]),
    ("items", "name\nBolt\n", ["row 1, sku: this column is missing from the header row"]),
    ("locations", "code,kind\nB 1,storage\nB-2,garage\nB-3,storage\nB-3,dock\n",
     ["row 2, code: 'B 1' is not a code: 1–30 letters, digits or . _ / - (starting with a letter or digit)",
      "row 3, kind: 'garage' is not one of: dock, storage, line, shipping, quarantine",
      "row 5, code: B-3 is twice in the file (rows 4 and 5)"]),
    ("operators", "badge,name,role,pin\nOP-9,Eve,admin,1234\n", [f"row 1, pin: {imports.master.NO_PINS}"]),
    ("operators", "badge,name,role\nOP-2001,Someone,picker\nOP-9,Eve,boss\n",
     ["row 2, badge: badge OP-2001 already belongs to Anna Lindqvist",
      "row 3, role: There is no role 'boss'; choose one of receiver, picker, line operator, supervisor, admin."]),
    ("orders", "number,customer,sku,qty,due_on\nSO-9,SHOP,FLOUR,1,2026-12-01\nSO-9,CAFE,SALT,1,2026-12-01\n",
     ["row 3, customer: order SO-9 has another customer on row 2; its rows must agree"]),
    ("expected", "supplier,reference,qty\nHOF,PO-9,5\n", ["row 2, sku: give the item's SKU or its GTIN"]),
])
def test_problems_by_row_and_column_and_nothing_written(db, kind, text, expected):
    site(db)
    before = counts(db)
    result = load(db, kind, text)
    assert [str(p) for p in result.problems] == expected
    assert result.summary().endswith("nothing was imported.")
    assert counts(db) == before


def test_one_bad_row_among_good_ones_writes_none(db):
    site(db)
    before = counts(db)
    good = "".join(f"SALT,,,,{n},A-01-01,,,\n" for n in range(1, 200))
    result = load(db, "opening", "sku,lot,supplier,supplier_lot,qty,location,expiry,produced,sscc\n" + good
                  + "SALT,,,,5,NOWHERE,,,\n")
    assert [str(p) for p in result.problems] == ["row 201, location: no location NOWHERE"]
    assert counts(db) == before


def test_a_lot_or_pallet_already_booked_is_a_problem_of_its_row(db):
    site(db)
    assert load(db, "opening", OPENING).ok
    before = counts(db)
    result = load(db, "opening", "sku,lot,qty,location,expiry,sscc\nFLOUR,L-1,5,A-01-01,2027-01-01,\n"
                                 "FLOUR,L-2,5,A-01-01,2027-01-01,340123450001234565\n")
    assert [str(p) for p in result.problems] == ["row 2, lot: lot L-1 already exists",
                                                 "row 3, sscc: pallet 340123450001234565 is already booked"]
    assert counts(db) == before


def test_a_drawn_number_that_is_taken_undoes_the_whole_import(db):
    """The check cannot know the numbers the scheme will draw: a drawn number someone typed into an earlier
    import is the row's problem at write time, and the transaction rolls back."""
    site(db)
    assert load(db, "opening", "sku,lot,qty,location\nSALT,SALT-0002,1,A-01-01\n").ok
    before = counts(db)
    result = load(db, "opening", "sku,qty,location\nSALT,1,A-01-01\nSALT,2,DOCK-1\n")
    assert [str(p) for p in result.problems] == [
        "row 3, lot: lot SALT-0002 already exists — a drawn lot number is another lot's; give this row its lot "
        "number, or set the item's lot pattern."]
    assert counts(db) == before


def test_dry_run_writes_nothing(db):
    site(db)
    before = counts(db)
    result = load(db, "opening", OPENING, dry_run=True)
    assert result.ok and len(result.records) == 4 and result.written == 0
    assert result.summary() == "4 lots would be imported (dry run: nothing was written)."
    assert counts(db) == before


@pytest.mark.parametrize("data, name, message", [
    (b"sku,name\n", "items.txt", "Only .csv and .xlsx files can be imported"),
    (b"sku,name\nA,\xff\xfe\n", "items.csv", "The file is not UTF-8 text (byte 12)"),
    (b"PK\x03\x04 not really", "items.xlsx", "This is not an Excel workbook (.xlsx)"),
    (b"", "items.csv", "The file is empty"),
    (b"a,b\n" + b"x" * (imports.MAX_BYTES), "items.csv", "at most 32 MB can be imported at once"),
])
def test_a_file_that_cannot_be_read_is_refused_in_words(data, name, message):
    with pytest.raises(imports.FileRefused) as refused:
        imports.read(data, name)
    assert message in refused.value.message


def test_too_many_rows_is_refused():
    with pytest.raises(imports.FileRefused, match="more than 250,000 rows"):
        imports.read(b"code,name\n" + b"S,n\n" * (imports.MAX_ROWS + 1), "s.csv")


def test_cells_are_trimmed_and_semicolons_and_bom_are_read(db):
    result = load(db, "suppliers", "\ufeffCode ; NAME\n  HOF  ;  Hofmühle   Getreide \n")
    assert result.ok
    with db.read() as s:
        assert s.execute(select(Supplier.code, Supplier.name)).one() == ("HOF", "Hofmühle Getreide")


def test_book_opening_one_lot_through_the_stock_service(db):
    site(db)
    with db.write() as s:
        item = s.scalar(select(Item).where(Item.sku == "SALT"))
        location = s.scalar(select(Location).where(Location.code == "A-01-01"))
        lot = opening.book_opening(s, item=item, qty=12, location=location, sscc="340123450001234565")
        assert lot.lot_number == "SALT-0001" and lot.on_hand == 12 and lot.origin == "opening"
        with pytest.raises(Conflict):
            opening.book_opening(s, item=item, qty=1, location=location, lot_number="SALT-0001")
        assert_books_balance(s)
        assert s.scalar(select(Stock.handling_unit_id)) is not None
    assert all(report.breaks == 0 for report in chain.verify(db))


def test_bulk_opening_rows_and_rows_written_one_at_a_time_make_one_chain(db):
    # PostgreSQL writes the bulk rows by COPY with ids drawn first and hashes of its own: the rows after
    # them (one lot through the stock service, then a second import) must chain on without a break
    site(db)
    assert load(db, "opening", OPENING).ok
    with db.write() as s:
        item = s.scalar(select(Item).where(Item.sku == "SALT"))
        location = s.scalar(select(Location).where(Location.code == "DOCK-1"))
        opening.book_opening(s, item=item, qty=7, location=location)
    second = load(db, "opening", "sku,lot,qty,location,expiry\nSALT,L-9,3,A-01-01,\nFLOUR,L-10,4,DOCK-1,2027-06-30\n")
    assert second.ok, second.problems
    with db.read() as s:
        rows = s.execute(select(Movement.id, Movement.qty).order_by(Movement.id)).all()
        assert [qty for _, qty in rows] == [100, 50, 25, 10, 7, 3, 4]
        assert_books_balance(s)
        lots = dict(s.execute(select(Lot.lot_number, Lot.on_hand)).all())
        assert lots["L-9"] == 3 and lots["L-10"] == 4
    report = next(r for r in chain.verify(db) if r.chain == "movements")
    assert (report.count, report.breaks) == (7, 0)


def test_order_lines_with_their_rows(db):
    site(db)
    result = load(db, "orders", "number,customer,sku,qty\nSO-7,SHOP,FLOUR,3\nSO-7,SHOP,FLOUR,4\n")
    assert [str(p) for p in result.problems] == [
        "row 3, sku: FLOUR is twice in order SO-7 (rows 2 and 3); put it on one row"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(OrderLine)) == 0
