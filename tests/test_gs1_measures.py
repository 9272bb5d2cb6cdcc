"""GS1 measures on a real database (SQLite and PostgreSQL): a table of labels with a net weight (AI 310n in
kg, 320n in lb, n decimals), a gross weight and a price, resolved for items weighed in kg, lb and g with
their decimals, and what each gives: the weight in the item's unit, exactly, and the cases it came in; or a
refusal in words (never a rounded weight, never a weight for an item counted by the piece)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from station.demo import check_digit
from station.scanning import ScanContext, resolve
from station.scanning.measures import NotAQuantity, convert, label_quantity
from station.services import catalog

from factories import gtin13

GS = "\x1d"
BOLT14 = "0" + gtin13("400000000001")
SSCC = "37613032110910343" + check_digit("37613032110910343")


def gtin14(body13: str) -> str:
    return body13 + check_digit(body13)


# Catch-weight items (indicator 9: a variable-measure trade item), one per way of weighing.
BEEF = gtin14("9400000000301")    # kg, 3 decimals
BRISKET = gtin14("9400000000302")  # kg, 2 decimals
SALMON = gtin14("9400000000303")  # kg, 6 decimals
PORK = gtin14("9400000000304")    # lb, 2 decimals
HAM = gtin14("9400000000305")     # g, whole grams


@pytest.fixture
def site(site):
    with site.write() as s:
        for sku, gtin, unit, decimals in (("BEEF", BEEF, "kg", 3), ("BRISKET", BRISKET, "kg", 2),
                                          ("SALMON", SALMON, "kg", 6), ("PORK", PORK, "lb", 2),
                                          ("HAM", HAM, "g", 0)):
            catalog.create_item(s, sku=sku, name=f"{sku.title()}, catch weight", gtins=[gtin], unit=unit,
                                qty_decimals=decimals, variable_measure=True)
    return site


@dataclass
class Label:
    why: str
    code: str
    ok: bool = True
    error: str | None = None
    qty: str | None = None  # fields["qty"]: the weight in the item's unit, a decimal string
    pieces: int | None = None
    words: tuple[str, ...] = ()
    workflow: str = "receiving"
    extra: dict = field(default_factory=dict)


def case(label: Label):
    return pytest.param(label, id=label.why)


LABELS = [
    case(Label("3102: kg with 2 decimals", f"]C101{BEEF}3102001234", qty="12.34", pieces=1,
               words=("BEEF", "1 case, 12.340 kg"))),
    case(Label("3103: kg with 3 decimals", f"]C101{BEEF}3103012345", qty="12.345", pieces=1)),
    case(Label("3100: whole kg", f"]C101{BEEF}3100000012", qty="12", pieces=1)),
    case(Label("3101 into grams", f"]C101{HAM}3101012345", qty="1234500", pieces=1)),
    case(Label("3202: lb on an item weighed in lb", f"]C101{PORK}3202001234", qty="12.34", pieces=1)),
    case(Label("3200: 100 lb is exactly 45.359237 kg", f"]C101{SALMON}3200000100", qty="45.359237", pieces=1)),
    case(Label("3202 into kg: more decimals than the item has, refused, not rounded",
               f"]C101{BEEF}3202001234", ok=False, error="too_many_decimals",
               words=("12.34 lb", "5.5973298458 kg", "3 decimals of kg", "nothing was rounded"))),
    case(Label("3103 on an item counted to 2 decimals", f"]C101{BRISKET}3103012345", ok=False,
               error="too_many_decimals", words=("12.345 kg", "2 decimals of kg", "key the weight"))),
    case(Label("3102 into lb: no exact number of lb", f"]C101{PORK}3102001234", ok=False,
               error="inexact_weight", words=("12.34 kg", "no exact number of lb"))),
    case(Label("both 3102 and 3202: the one in the item's unit", f"]C101{PORK}3102000560{GS}3202001234",
               qty="12.34", pieces=1)),
    case(Label("3922 is a price, not a weight", f"]C101{BEEF}3922001234", qty=None, pieces=1,
               words=("no weight on the label",))),
    case(Label("3302 is a gross weight, never the goods' weight", f"]C101{BEEF}3302001234", qty=None,
               pieces=1)),
    case(Label("a zero net weight is refused", f"]C101{BEEF}3102000000", ok=False, error="invalid_weight",
               words=("is 0 kg",))),
    case(Label("a 310n on an item that is not variable measure is refused with the reason",
               f"]C101{BOLT14}3102001234", ok=False, error="not_variable_measure",
               words=("net weight (3102: 12.34 kg)", "BOLT Bolt M8 is not a variable-measure item",
                      "its quantity is its count in ea"))),
    case(Label("the same in picking", f"]C101{BOLT14}3102001234", ok=False, error="not_variable_measure",
               workflow="picking")),
    case(Label("in lookup the weight is not taken, so not refused", f"]C101{BOLT14}3102001234",
               workflow="lookup", qty=None)),
    case(Label("3922 on a fixed-measure item is no weight to refuse", f"]C101{BOLT14}3922001234", qty=None)),
    case(Label("a pallet of 40 cases: their count and their total net weight",
               f"]C100{SSCC}02{BEEF}3740{GS}3102051235{GS}10LOT-7", qty="512.35", pieces=40,
               words=("New pallet", "40 cases, 512.350 kg"))),
    case(Label("count (30) of a catch-weight item's cases", f"]C101{BEEF}303{GS}3103036000", qty="36",
               pieces=3)),
]


@pytest.mark.parametrize("label", LABELS)
def test_a_labels_measure(db, site, label):
    with db.read() as session:
        res = resolve(session, label.code, ScanContext(workflow=label.workflow))
    assert res.ok is label.ok, res.to_dict()
    assert res.error == label.error, res.to_dict()
    assert res.fields.get("qty") == label.qty, res.to_dict()
    assert res.fields.get("pieces") == label.pieces, res.to_dict()
    for words in label.words:
        assert words in res.message, res.message
    if not label.ok:
        assert res.action is None and res.message.endswith(".")


def test_a_price_is_never_read_as_a_measure(db, site):
    with db.read() as session:
        res = resolve(session, f"]C101{BEEF}3922001234", ScanContext(workflow="receiving"))
    assert "measures" not in res.fields and res.fields["ai"]["3922"] == "001234"


@pytest.mark.parametrize("value, unit, to, expected", [
    ("1", "lb", "kg", Decimal("0.45359237")),
    ("12.34", "lb", "kg", Decimal("5.5973298458")),
    ("2", "kg", "g", 2000),
    ("1500", "g", "kg", Decimal("1.5")),
    ("0.45359237", "kg", "lb", 1),
    ("16", "oz", "lb", 1),
])
def test_weights_convert_exactly(value, unit, to, expected):
    got = convert(Decimal(value), unit, to)
    assert got == expected and type(got) is type(expected)


def test_a_weight_with_no_exact_decimal_in_the_unit_is_refused_not_rounded():
    from station.quantities import QuantityError

    with pytest.raises(QuantityError, match="no exact number of lb"):
        convert(Decimal("1"), "kg", "lb")


def test_the_count_of_a_fixed_item_is_its_quantity_and_a_weight_is_refused():
    bolt = {"sku": "BOLT", "name": "Bolt", "unit": "ea", "decimals": 0, "variable_measure": False}
    assert label_quantity({"gtin": BOLT14, "count": 7}, bolt, None) == {"qty": "7"}
    assert label_quantity({"gtin": BOLT14}, bolt, None) == {}
    with pytest.raises(NotAQuantity) as refused:
        label_quantity({"gtin": BOLT14, "measures": [{"ai": "3202", "value": "1.5"}]}, bolt, None)
    assert refused.value.error == "not_variable_measure" and "1.5 lb" in refused.value.message
