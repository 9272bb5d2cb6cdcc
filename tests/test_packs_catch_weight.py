"""Packs and catch weight at the scan, on SQLite and PostgreSQL, through the one intake and the receiving and
picking workflows (no Flask): a case GTIN counts its pack (1 case = 12 ea) at the dock and at picking; a
pallet label's AI 37 with the content GTIN (02) counts that many of the content's pack; a variable-measure
item is booked by its labels' exact net weight with its cases as pieces (a pallet of 40 cases, or 40 case
labels one by one), picked by each case's label or a keyed weight; every refusal says why and books
nothing."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import actions
from factories import assert_books_balance, gtin13
from station import clock
from station.demo import check_digit
from station.models import Event, HandlingUnit, ItemGtin, Lot, Movement, MovementKind, Operator, OrderLine, Role
from station.scanning import ScanContext, resolve
from station.services import catalog
from station.services.actor import Actor
from station.workflows import intake, picking, receiving, state
from station.workflows.intake import ScanIn

GS = "\x1d"


def gtin14(body13: str) -> str:
    return body13 + check_digit(body13)


BOLT = "0" + gtin13("400000000001")   # the trade unit (ea)
CASE = gtin14("1400000000001")        # a case of 12 ea
PALLET = gtin14("2400000000001")      # a pallet of 480 ea
BEEF = gtin14("9400000000301")        # catch weight, in kg to 3 decimals
SSCC = "37613032110910343" + check_digit("37613032110910343")
EXPIRY = (clock.today() + dt.timedelta(days=400)).strftime("%y%m%d")


@pytest.fixture
def site(site):
    """BOLT with a case of 12 and a pallet of 480 GTINs; BEEF weighed in kg (3 decimals, variable measure);
    a dock station and a pick station, and a supervisor to work them."""
    with site.write() as s:
        bolt = catalog.item_by_sku(s, "BOLT")
        bolt.gtins += [ItemGtin(gtin=CASE, pack_qty=12, pack_name="case"),
                       ItemGtin(gtin=PALLET, pack_qty=480, pack_name="pallet")]
        beef = catalog.create_item(s, sku="BEEF", name="Beef brisket", gtins=[BEEF], unit="kg", qty_decimals=3,
                                   variable_measure=True)
        beef.supplier_id = catalog.supplier_by_code(s, "ACME").id
        boss = Operator(badge="OP-SUP", name="Sam Super", role=Role.SUPERVISOR)
        s.add(boss)
        s.flush()
        site["boss"] = boss.id
    site.station("Dock 1", location="DOCK")
    site.station("Pick 1")
    return site


def take(site, code: str, workflow: str, station: str, bounce_ms: int = 0) -> intake.Taken:
    """A wedge scan on a page of `workflow` at `station` (bounce_ms=0: the same label scanned again at once
    is another case, not the trigger bouncing)."""
    scan = ScanIn(code=code, station_id=site[station], operator_id=site["boss"], client_id=uuid.uuid4().hex)
    return intake.take(site.db, scan, workflow, bounce_ms=bounce_ms)


def receive(site, code: str) -> intake.Taken:
    return take(site, code, receiving.NAME, "Dock 1")


def pick(site, code: str) -> intake.Taken:
    return take(site, code, picking.NAME, "Pick 1")


def tap(site, workflow: str, station: str, run, *args, **kwargs):
    holder = state.holder(site[station], None)
    with site.write() as s:
        answer = run(s, state.load(s, holder, workflow), *args, **kwargs)
        if answer.state is not None:
            state.save(s, holder, workflow, answer.state)
    return answer


def draft(site) -> dict:
    with site.read() as s:
        return state.load(s, state.holder(site["Dock 1"], None), receiving.NAME).get("draft", {})


def confirm(site, **form):
    by = Actor(operator_id=site["boss"], station_id=site["Dock 1"])
    return tap(site, receiving.NAME, "Dock 1", receiving.confirm, {"token": draft(site)["token"], **form},
               by=by, station_id=site["Dock 1"])


def ledger(site, kind: MovementKind = MovementKind.RECEIVE) -> list[tuple]:
    with site.read() as s:
        rows = s.scalars(select(Movement).where(Movement.kind == kind).order_by(Movement.id))
        return [(m.lot.item.sku, m.qty, m.pieces) for m in rows]


def counts(site) -> tuple:
    with site.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Lot, Movement, HandlingUnit, Event))


# --- what a scan says ------------------------------------------------------------------------------


@pytest.mark.parametrize("code, workflow, qty, words", [
    (CASE, "lookup", "12", "BOLT Bolt M8 (1 case = 12 ea)."),
    (CASE, "receiving", "12", "1 case = 12 ea"),
    (f"]C101{CASE}10S-1", "receiving", "12", "Receive BOLT Bolt M8 (1 case = 12 ea), lot S-1."),
    (f"]C100{SSCC}02{CASE}3740{GS}10S-1", "receiving", "480", "40 × case of 12 ea = 480 ea"),
    (f"]C100{SSCC}02{BOLT}3740{GS}10S-1", "receiving", "40", "40 × BOLT Bolt M8"),
    (f"]C102{PALLET}372", "receiving", "960", "2 × pallet of 480 ea = 960 ea"),
    (f"]C100{SSCC}02{CASE}10S-1", "receiving", None, "New pallet"),  # the content alone counts nothing
    (BOLT, "receiving", None, "BOLT Bolt M8."),
])
def test_a_pack_gtin_resolves_to_its_item_with_its_content(db, site, code, workflow, qty, words):
    with db.read() as session:
        res = resolve(session, code, ScanContext(workflow=workflow))
    assert res.ok and res.records["item"]["sku"] == "BOLT", res.to_dict()
    assert res.fields.get("qty") == qty and words in res.message, res.to_dict()
    if CASE in code:
        assert res.records["pack"] == {"gtin": CASE, "name": "case", "qty": "12"}


# --- receiving packs ---------------------------------------------------------------------------------


def test_each_case_gtin_scanned_at_the_dock_counts_its_12(site):
    answers = [receive(site, CASE).answer for _ in range(3)]
    assert [a.message for a in answers] == [
        "12 ea × BOLT Bolt M8 — filled from the label.",
        "24 ea × BOLT Bolt M8 (2 labels scanned) — filled from the label.",
        "36 ea × BOLT Bolt M8 (3 labels scanned) — filled from the label."]
    assert (draft(site)["qty"], draft(site)["counted"]) == (36, 3)
    done = confirm(site, qty="36")
    assert done.ok, done.message
    assert ledger(site) == [("BOLT", 36, None)]
    with site.read() as s:
        assert_books_balance(s)


def test_a_count_typed_over_the_cases_scanned_stands(site):
    receive(site, CASE)
    receive(site, CASE)
    assert tap(site, receiving.NAME, "Dock 1", receiving.fill, {"qty": "30"}).state is not None
    assert "counted" not in draft(site)
    receive(site, CASE)  # counting starts again from this case
    assert (draft(site)["qty"], draft(site)["counted"]) == (12, 1)


def test_a_pallet_label_with_37_and_the_case_gtin_books_40_cases_of_12(site):
    answer = receive(site, f"]C100{SSCC}02{CASE}3740{GS}10S-1{GS}17{EXPIRY}").answer
    assert answer.ok and answer.message == "480 ea × BOLT Bolt M8, lot S-1 — filled from the label."
    assert confirm(site).ok
    assert ledger(site) == [("BOLT", 480, None)]
    with site.read() as s:
        unit = s.scalars(select(HandlingUnit)).one()
        assert (unit.sscc, unit.qty_received, unit.pieces_received) == (SSCC, 480, None)


def test_a_case_label_on_a_pallets_receipt_names_the_goods_but_not_its_count(site):
    receive(site, f"]C100{SSCC}02{CASE}3740{GS}10S-1")
    receive(site, f"]C101{CASE}10S-1")
    assert draft(site)["qty"] == 480


# --- receiving catch weight --------------------------------------------------------------------------


def test_a_pallet_of_40_cases_books_40_cases_and_their_exact_total_weight(site):
    answer = receive(site, f"]C100{SSCC}02{BEEF}3740{GS}3103512347{GS}10B-1{GS}17{EXPIRY}").answer
    assert answer.message == "512.347 kg × BEEF Beef brisket in 40 cases, lot B-1 — filled from the label."
    done = confirm(site)
    assert done.ok and "512.347 kg in 40 cases of BEEF" in done.detail, (done.message, done.detail)
    assert ledger(site) == [("BEEF", Decimal("512.347"), 40)]
    with site.read() as s:
        unit = s.scalars(select(HandlingUnit)).one()
        assert (unit.qty_received, unit.pieces_received) == (Decimal("512.347"), 40)
        body = s.scalars(select(Event.body).where(Event.type == "receipt.booked")).one()
        assert (body["qty"], body["pieces"]) == ("512.347", 40)
        assert_books_balance(s)


def test_40_case_labels_of_different_weights_add_up_to_the_exact_total(site):
    weights = [Decimal("12.345") + Decimal("0.011") * i for i in range(40)]
    for weight in weights:
        answer = receive(site, f"]C101{BEEF}3103{int(weight * 1000):06d}{GS}10B-2").answer
        assert answer.ok, answer.message
    assert answer.message == ("502.380 kg × BEEF Beef brisket in 40 cases (40 labels scanned), lot B-2 — filled "
                              "from the label.")
    assert confirm(site).ok
    assert ledger(site) == [("BEEF", sum(weights), 40)]
    with site.read() as s:
        assert s.scalars(select(Lot.on_hand)).one() == sum(weights)


def test_without_a_weight_on_the_label_the_page_asks_for_it_and_the_keyed_weight_is_booked(site):
    answer = receive(site, f"]C101{BEEF}10B-3").answer
    assert answer.ok and answer.detail == "Now enter the weight (kg)."
    assert draft(site)["pieces"] == 1 and "qty" not in draft(site)
    refused = confirm(site)
    assert refused.kind == "error" and refused.message == "Still needed: the weight (kg)."
    assert confirm(site, qty="12.5").ok
    assert ledger(site) == [("BEEF", Decimal("12.5"), 1)]


@pytest.mark.parametrize("code, error, words", [
    (f"]C101{BOLT}3102001234{GS}10S-9", "not_variable_measure",
     "The label gives a net weight (3102: 12.34 kg), but BOLT Bolt M8 is not a variable-measure item"),
    (f"]C101{BEEF}3202001234{GS}10B-9", "too_many_decimals", "5.5973298458 kg"),
    (f"]C101{BEEF}3104123456{GS}10B-9", "too_many_decimals", "12.3456 kg"),
])
def test_a_weight_that_cannot_be_taken_is_refused_in_words_and_changes_nothing(site, code, error, words):
    receive(site, f"]C101{BEEF}3103012345{GS}10B-1")
    before, kept = counts(site), draft(site)
    taken = receive(site, code)
    assert taken.resolution.error == error
    assert taken.answer.kind == "error" and words in taken.answer.message, taken.answer.message
    assert (counts(site), draft(site)) == (before, kept)


def test_pieces_are_only_counted_for_a_weighed_item(site):
    from station.services import receiving as receiving_service
    from station.services.errors import Invalid

    with site.write() as s:
        with pytest.raises(Invalid, match="BOLT is not a variable-measure item"):
            receiving_service.receive(s, item=catalog.item_by_sku(s, "BOLT"), qty=5, pieces=1,
                                      location=catalog.location_by_code(s, "DOCK"))
        with pytest.raises(Invalid, match="must be a whole number greater than 0"):
            receiving_service.receive(s, item=catalog.item_by_sku(s, "BEEF"), qty=5, pieces=0,
                                      location=catalog.location_by_code(s, "DOCK"))


# --- picking -------------------------------------------------------------------------------------------


def opened(site, number: str) -> None:
    with site.write() as s:
        state.save(s, state.holder(site["Pick 1"], None), picking.NAME, {"order": site[number]})


def picked(site, number: str) -> list:
    with site.read() as s:
        return [line.picked_qty for line in s.scalars(select(OrderLine).where(OrderLine.order_id == site[number])
                                                       .order_by(OrderLine.line_no))]


def test_picking_a_case_gtin_label_picks_its_12(site):
    site.lot("bolts", "BOLT", 100, location="A-01", supplier="ACME", supplier_lot="S-1")
    site.order("SO-1", [("BOLT", 24)])
    opened(site, "SO-1")
    first = pick(site, f"]C101{CASE}10S-1").answer
    assert first.ok and first.message.startswith(f"Picked 12 ea of lot {site['bolts']} from A-01"), first.message
    assert pick(site, f"]C101{CASE}10S-1").answer.ok
    assert picked(site, "SO-1") == [24]
    assert ledger(site, MovementKind.PICK) == [("BOLT", 12, None), ("BOLT", 12, None)]


def test_a_case_of_12_is_refused_when_the_line_needs_fewer(site):
    site.lot("bolts", "BOLT", 100, location="A-01", supplier="ACME", supplier_lot="S-1")
    site.order("SO-2", [("BOLT", 10)])
    opened(site, "SO-2")
    before = counts(site)
    answer = pick(site, f"]C101{CASE}10S-1").answer
    assert answer.kind == "error" and "needs only 10 more; 12 is too many" in answer.message, answer.message
    assert counts(site) == before and picked(site, "SO-2") == [0]


@pytest.fixture
def beef(site):
    """100 kg of BEEF in 8 cases (supplier lot B-1) at A-01, and an order for 30 kg of it."""
    with site.write() as s:
        from station.services import receiving as receiving_service

        lot = receiving_service.receive(s, item=catalog.item_by_sku(s, "BEEF"), qty=100, pieces=8,
                                        location=catalog.location_by_code(s, "A-01"),
                                        supplier=catalog.supplier_by_code(s, "ACME"), supplier_lot="B-1")
        site["beef"] = lot.lot_number
    site.order("SO-3", [("BEEF", 30)])
    opened(site, "SO-3")
    return site


def test_picking_catch_weight_records_each_cases_weight_and_one_piece(beef):
    site = beef
    first = pick(site, f"]C101{BEEF}3102001234{GS}10B-1").answer
    assert first.ok and first.message.startswith(f"Picked 12.340 kg (1 case) of lot {site['beef']}"), first.message
    assert pick(site, f"]C101{BEEF}3103011000{GS}10B-1").answer.ok
    assert tap(site, picking.NAME, "Pick 1", picking.set_qty, "5,5").kind == "info"  # the picker keys the weight
    keyed = pick(site, f"LOT:{site['beef']}").answer
    assert keyed.ok and keyed.message.startswith("Picked 5.500 kg (1 case)"), keyed.message
    assert ledger(site, MovementKind.PICK) == [("BEEF", Decimal("12.34"), 1), ("BEEF", 11, 1),
                                               ("BEEF", Decimal("5.5"), 1)]
    assert picked(site, "SO-3") == [Decimal("28.84")]
    undone = tap(site, picking.NAME, "Pick 1", picking.undo, Actor(operator_id=site["boss"]))
    assert undone.ok and ledger(site, MovementKind.UNPICK) == [("BEEF", Decimal("5.5"), 1)]
    assert pick(site, f"]C101{BEEF}3102000166{GS}10B-1").answer.ok
    last = pick(site, f"]C101{BEEF}3102000500{GS}10B-1").answer
    assert last.ok and "Line 1 done" in last.message, last.message
    shipped = tap(site, picking.NAME, "Pick 1", picking.ship, Actor(operator_id=site["boss"]))
    assert shipped.ok, shipped.message
    assert ledger(site, MovementKind.SHIP) == [("BEEF", 30, 4)]  # 5 cases picked, 1 taken back
    with site.read() as s:
        bodies = list(s.scalars(select(Event.body).where(Event.type == "pick.confirmed").order_by(Event.position)))
        assert [(b["qty"], b["pieces"]) for b in bodies] == [("12.34", 1), ("11", 1), ("5.5", 1), ("1.66", 1),
                                                              ("5", 1)]
        assert_books_balance(s)


def test_a_catch_weight_lot_label_without_a_weight_is_refused_until_the_weight_is_keyed(beef):
    site = beef
    before = counts(site)
    answer = pick(site, f"LOT:{site['beef']}").answer
    assert answer.kind == "error" and answer.message == (
        f"BEEF is picked by weight: scan the case's own label (with its net weight), or key the case's weight "
        f"in kg, then scan lot {site['beef']}.")
    assert counts(site) == before and picked(site, "SO-3") == [0]


def test_a_weight_label_for_an_item_counted_by_the_piece_is_refused_at_picking(site):
    site.lot("bolts", "BOLT", 100, location="A-01", supplier="ACME", supplier_lot="S-1")
    site.order("SO-4", [("BOLT", 20)])
    opened(site, "SO-4")
    before = counts(site)
    answer = pick(site, f"]C101{BOLT}3102001234{GS}10S-1").answer
    assert answer.kind == "error" and "is not a variable-measure item" in answer.message
    assert counts(site) == before



def test_the_receiving_page_asks_for_the_weight_a_label_does_not_give(client, site):
    actions.sign_in(client, "receiver")
    actions.bind_station(client, "Dock 1")
    page = actions.scanner("/receive/scan", station="Dock 1")(client, f"]C101{BEEF}303{GS}10B-4").get_data(as_text=True)
    assert "Weight <span class=\"muted\">(kg)</span>" in page
    assert "No weight on the label: weigh the 3 cases and key the weight in kg." in page
    assert "Still needed: the weight" in page
    form = client.get("/receive").get_data(as_text=True)
    token = form[form.index('name="token" value="') + 20:].split('"', 1)[0]
    done = client.post("/receive/confirm", data={"token": token, "qty": "36,125"}, headers={"HX-Request": "true"})
    assert done.status_code == 200 and "in 3 cases" in done.get_data(as_text=True)
    assert ledger(site) == [("BEEF", Decimal("36.125"), 3)]
