"""The receiving workflow as a service, without Flask (no app, no client): scans through
intake.take and the taps over the state a station holds, on SQLite and PostgreSQL.

A pallet label fills the receipt, either barcode first; Confirm books lot, stock, ledger row and
labels once; refusals change nothing but the scan log; a scan of the station's own scanner reaches
the step of the page open there, resolved and applied once."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from test_expected_receipts import no_usual_supplier, usual_supplier
from factories import assert_books_balance, gtin13
from station import clock
from station.models import (FloorSession, HandlingUnit, Item, Lot, Movement, Operator, PrintJob, Role, Scan,
                            ScanApplication, Stock)
from station.services import scans
from station.services.actor import Actor
from station.workflows import intake, receiving, state
from station.workflows.intake import ScanIn

BOLT_GTIN = gtin13("400000000001").zfill(14)
NEW_GTIN = gtin13("400000000077").zfill(14)
SSCC, SSCC2 = "376130321109103420", "376130321109103437"
GS = "\x1d"
EXPIRY = (clock.today() + dt.timedelta(days=400)).strftime("%y%m%d")
EXPIRY_ISO = dt.datetime.strptime(EXPIRY, "%y%m%d").date().isoformat()
ROOT = Path(__file__).resolve().parent.parent


def pallet_label(sscc: str = SSCC, gtin: str = BOLT_GTIN, count: int | None = 40, lot: str = "S-77") -> str:
    """A supplier's GS1-128 pallet label as one scan: SSCC, content GTIN, count, lot, expiry."""
    code = f"]C100{sscc}02{gtin}" + (f"37{count}{GS}" if count is not None else "")
    return code + f"10{lot}{GS}17{EXPIRY}"


@pytest.fixture
def site(site):
    """The small site, a dock station printing on a sim:// printer with its own sim:// scanner, and
    a receiver and a supervisor; BOLT gets two labels per receipt."""
    site.printer("dock-zebra", url=f"sim://rcv-{uuid.uuid4().hex[:8]}")
    site.station("Dock 1", location="DOCK", printer="dock-zebra", scanner_url=f"sim://dock-{uuid.uuid4().hex[:8]}")
    with site.write() as s:
        for key, name, role in (("rita", "Rita Receiver", Role.RECEIVER), ("maria", "Maria Keller", Role.SUPERVISOR)):
            person = Operator(badge=f"OP-{key}", name=name, role=role)
            s.add(person)
            s.flush()
            site[key] = person.id
        s.scalar(select(Item).where(Item.sku == "BOLT")).labels_per_receipt = 2
        usual_supplier(s)
    return site


def take(site, code: str, operator: str = "rita", bounce_ms: int = scans.DEFAULT_BOUNCE_MS,
         **scan) -> intake.Taken:
    """A wedge scan at Dock 1, taken for receiving as the page takes it (`bounce_ms=0`: the same label
    scanned again at once is a scan of its own, not the trigger bouncing)."""
    scan.setdefault("client_id", uuid.uuid4().hex)
    return intake.take(site.db, ScanIn(code=code, station_id=site["Dock 1"], operator_id=site[operator], **scan),
                       receiving.NAME, bounce_ms=bounce_ms)


def held(site) -> dict:
    """The receiving state Dock 1 holds."""
    with site.read() as s:
        return state.load(s, state.holder(site["Dock 1"], None), receiving.NAME)


def tap(site, run, *args, **kwargs):
    """A tap as the page runs it: load the station's state, run, save the new state, one transaction."""
    holder = state.holder(site["Dock 1"], None)
    with site.write() as s:
        current = state.load(s, holder, receiving.NAME)
        answer = run(s, current, *args, **kwargs)
        if answer.state is not None:
            state.save(s, holder, receiving.NAME, answer.state)
    return answer


def confirm(site, operator: str = "rita", **form):
    by = Actor(operator_id=site[operator], station_id=site["Dock 1"])
    return tap(site, receiving.confirm, form, by=by, station_id=site["Dock 1"])


def counts(site) -> tuple:
    with site.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Lot, Stock, Movement, PrintJob, HandlingUnit))


# --- scans -------------------------------------------------------------------------------------------


def test_a_pallet_label_fills_the_receipt_the_station_holds(site):
    taken = take(site, pallet_label())
    answer = taken.answer
    assert (answer.kind, answer.message) == ("ok", "40 ea × BOLT Bolt M8, lot S-77 — filled from the label.")
    assert answer.detail == "Check it, then press Confirm (or scan CONFIRM)."
    assert answer.data == {"receipt": True}
    draft = held(site)["draft"]
    assert {k: draft[k] for k in ("sku", "qty", "supplier_lot", "expiry", "expiry_kind", "sscc", "labels")
            if k in draft} == {"sku": "BOLT", "qty": 40, "supplier_lot": "S-77", "expiry": EXPIRY_ISO,
                               "expiry_kind": "expiry", "sscc": SSCC}
    with site.read() as s:
        applied = s.scalars(select(ScanApplication)).one()
        assert (applied.scan_id, applied.workflow, applied.answer["kind"]) == (taken.scan_id, "receiving", "ok")
        screen = receiving.screen(s, held(site), site["Dock 1"])
    assert (screen["dock"], screen["labels"], screen["missing"]) == ("DOCK", 2, [])
    assert counts(site) == (0, 0, 0, 0, 0)  # a scan fills; only Confirm books


def test_the_two_barcodes_of_a_pallet_label_fill_one_receipt_in_either_order(site):
    first = take(site, f"]C100{SSCC}").answer
    assert first.ok and first.detail == "Now enter the item and the quantity."
    second = take(site, f"]C102{BOLT_GTIN}3712{GS}10L-9").answer
    assert second.ok and second.message == "12 ea × BOLT Bolt M8, lot L-9 — filled from the label."
    draft = held(site)["draft"]
    assert (draft["sscc"], draft["qty"], draft["supplier_lot"]) == (SSCC, 12, "L-9")
    # Another pallet starts another receipt.
    third = take(site, f"]C100{SSCC2}").answer
    assert third.message.startswith("New pallet: ")
    draft = held(site)["draft"]
    assert draft["sscc"] == SSCC2 and "supplier_lot" not in draft


def test_a_retried_scan_answers_its_first_answer_and_a_bounce_is_ignored(site):
    at = dt.datetime.now(dt.timezone.utc)  # stamped, as a scanner's reads are: a busy machine is no bounce
    first = take(site, pallet_label(), client_id="retry-0001", now=at)
    again = take(site, pallet_label(), client_id="retry-0001", now=at)
    assert again.scan_id == first.scan_id and again.answer == first.answer
    # The trigger pressed twice: the second read, 100 ms later, is no scan.
    bounce = take(site, pallet_label(), now=at + dt.timedelta(milliseconds=100))
    assert bounce.outcome.ignored and bounce.answer is None
    with site.read() as s:
        assert s.scalar(select(func.count()).select_from(ScanApplication)) == 1


@pytest.mark.parametrize("code,words", [
    ("LOT:NOPE-1", "NOPE-1"),
    ("LOC:A-01", "That is a location barcode"),
    ("hello there", "not recognised"),
])
def test_what_is_not_a_pallet_label_is_refused_and_the_receipt_stays(site, code, words):
    take(site, pallet_label())
    before = held(site)
    answer = take(site, code).answer
    assert answer.kind == "error" and words in answer.message, answer
    assert answer.state is None and held(site) == before


def test_a_pallet_received_before_is_refused_with_who_and_nothing_is_booked(site):
    take(site, pallet_label())
    assert confirm(site, token=held(site)["draft"]["token"]).ok
    before, kept = counts(site), held(site)
    answer = take(site, pallet_label(), bounce_ms=0).answer
    assert answer.kind == "error" and f"Pallet {SSCC} was already received on" in answer.message
    assert "by Rita Receiver" in answer.message and answer.detail.startswith("Nothing was booked.")
    assert counts(site) == before and held(site) == kept


def test_an_unknown_gtin_is_kept_and_only_a_supervisor_is_told_to_add_the_item(site):
    for_receiver = take(site, pallet_label(gtin=NEW_GTIN)).answer
    assert for_receiver.message == f"GTIN {NEW_GTIN} is not an item here — do not receive this pallet yet."
    assert held(site)["draft"]["unknown_gtin"] == NEW_GTIN
    refused = confirm(site, qty="40")
    assert refused.kind == "error" and "a supervisor must add the item" in refused.message
    for_supervisor = take(site, pallet_label(sscc=SSCC2, gtin=NEW_GTIN), operator="maria").answer
    assert for_supervisor.message == f"GTIN {NEW_GTIN} is not an item here yet."
    bad = tap(site, receiving.add_item, sku="", name="Oat milk", unit="ea")
    assert (bad.kind, bad.data["status"]) == ("error", 422) and "The SKU is required." in bad.message
    added = tap(site, receiving.add_item, sku="OAT-1", name="Oat milk 1 L", unit="case")
    assert added.ok and added.message.startswith(f"Item OAT-1 Oat milk 1 L added with GTIN {NEW_GTIN}")
    draft = held(site)["draft"]
    assert (draft["sku"], draft["supplier_lot"], draft["qty"]) == ("OAT-1", "S-77", 40)
    assert "unknown_gtin" not in draft
    assert confirm(site, operator="maria", qty="40", supplier="ACME").ok  # a new item has no usual supplier
    assert tap(site, receiving.add_item, sku="X", name="X", unit="ea").data == {"status": 409}


def test_who_adds_items_is_the_supervisor_workflow_of_station_auth():
    from station.auth.roles import WORKFLOWS  # loads Flask (station.auth): hence the copy in the workflow

    assert receiving.ADDS_ITEMS == WORKFLOWS["supervisor"]


# --- taps ------------------------------------------------------------------------------------------


def test_confirm_books_lot_stock_ledger_row_and_labels_once(site):
    take(site, pallet_label())
    token = held(site)["draft"]["token"]
    answer = confirm(site, token=token, qty="40", expiry=EXPIRY_ISO, supplier_lot="S-77")
    assert answer.ok and answer.message.startswith("Received — lot ")
    done = answer.data["done"]
    assert (done["sku"], done["qty"], done["location"], done["sscc"], len(done["jobs"])) == ("BOLT", 40, "DOCK", SSCC, 1)
    with site.read() as s:
        lot = s.scalars(select(Lot)).one()
        assert (lot.lot_number, lot.on_hand, lot.supplier_lot) == (done["lot"], 40, "S-77")
        move = s.scalars(select(Movement)).one()
        assert (move.operator_id, move.station_id) == (site["rita"], site["Dock 1"]) and SSCC in move.raw_scan
        job = s.scalars(select(PrintJob)).one()
        assert (job.id, job.copies, job.station_id) == (done["jobs"][0], 2, site["Dock 1"])
        assert_books_balance(s)
    after = held(site)
    assert after["done"] == done and after["draft"]["token"] != token and "sku" not in after["draft"]
    # Confirm pressed twice (or CONFIRM scanned twice): the first booking's answer, nothing booked again.
    twice = confirm(site, token=token, qty="40")
    assert twice.ok and twice.data["repeated"] and twice.detail.startswith("Already booked")
    assert counts(site)[:4] == (1, 1, 1, 1)


@pytest.mark.parametrize("form,words,bad", [
    ({"qty": "abc"}, "is not a number", "qty"),
    ({"qty": ""}, "Still needed: the quantity", "qty"),
    ({"qty": "5", "supplier": "NOBODY"}, "There is no supplier 'NOBODY'", "supplier"),
    ({"qty": "5", "expiry": "9999-12-31"}, "more than 50 years ahead", "expiry"),
])
def test_bad_input_is_refused_in_words_and_books_nothing(site, form, words, bad):
    assert tap(site, receiving.choose_item, "BOLT", {}).ok
    before = counts(site)
    answer = confirm(site, **form)
    assert answer.kind == "error" and words in answer.message and answer.data["status"] == 422, answer
    assert answer.data.get("bad") == bad
    assert counts(site) == before


def test_typed_values_are_kept_a_half_typed_one_is_not_and_cancel_clears(site):
    assert tap(site, receiving.choose_item, "MILK", {"qty": "12"}).ok
    assert tap(site, receiving.fill, {"qty": "12", "supplier_lot": "M-5"}).state is not None
    assert tap(site, receiving.fill, {"qty": "1x"}).state is None  # not refused yet: Confirm will say
    draft = held(site)["draft"]
    assert (draft["sku"], draft["qty"], draft["supplier_lot"]) == ("MILK", 12, "M-5")
    assert tap(site, receiving.choose_item, "NOPE", {}).kind == "error"
    cleared = tap(site, receiving.cancel)
    assert cleared.kind == "info" and set(held(site)["draft"]) == {"token"}


# --- a scan of the station's own scanner ----------------------------------------------------------------


def test_a_scan_of_the_stations_own_scanner_reaches_the_open_receiving_page_once(site, monkeypatch):
    resolved = []
    real = scans.resolve
    monkeypatch.setattr(scans, "resolve", lambda *a, **k: resolved.append(a[1]) or real(*a, **k))
    with site.write() as s:
        session = FloorSession(secret_hash=uuid.uuid4().hex * 2, operator_id=site["rita"], station_id=site["Dock 1"],
                               started_at=clock.now(), last_seen_at=clock.now())
        s.add(session)
        s.flush()
        state.open_at(s, site["Dock 1"], receiving.NAME, floor_session_id=session.id, operator_id=site["rita"])
    scanner = "sim://dock"
    taken = intake.take(site.db, ScanIn(code=pallet_label().encode(), source=scanner, station_id=site["Dock 1"],
                                        client_id="sim-scan-0001"))
    assert taken.workflow == "receiving" and taken.answer.ok
    assert taken.answer.message == "40 ea × BOLT Bolt M8, lot S-77 — filled from the label."
    again = intake.take(site.db, ScanIn(code=pallet_label().encode(), source=scanner, station_id=site["Dock 1"],
                                        client_id="sim-scan-0001"))
    assert again.scan_id == taken.scan_id and again.answer == taken.answer
    assert len(resolved) == 1  # resolved once, applied once, logged once
    with site.read() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 1
        applied = s.scalars(select(ScanApplication)).one()
        assert (applied.scan_id, applied.operator_id, applied.workflow) == (taken.scan_id, site["rita"], "receiving")
        assert intake.applied(s, taken.scan_id) == ("receiving", taken.answer)
    assert held(site)["draft"]["sscc"] == SSCC
    # The command barcode from that scanner is left to the page (it presses Confirm): logged, not applied.
    command = intake.take(site.db, ScanIn(code=b"CMD:CONFIRM", source=scanner, station_id=site["Dock 1"]))
    assert command.answer is None and counts(site)[0] == 0


def test_the_workflow_imports_no_flask():
    check = ("import sys, station.workflows.receiving, station.workflows.receipt_draft; "
             "assert 'flask' not in sys.modules, sorted(m for m in sys.modules if m.startswith('flask'))")
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, check=True)


# --- against what suppliers said they would deliver (services/expected.py) ---------------------------------

ACME_GLN = "4000000000013"


def expect(site, reference: str = "PO-1", supplier: str = "ACME", lines=None) -> int:
    """An open expected receipt (default: 40 BOLT on pallet SSCC, 12 MILK); its id."""
    from station.services import catalog, expected

    with site.write() as s:
        if supplier != "ACME" and s.scalar(select(func.count()).select_from(catalog.Supplier)
                                           .where(catalog.Supplier.code == supplier)) == 0:
            catalog.create_supplier(s, code=supplier, name="Northern Mill")
        lines = lines or [expected.ExpectedLineIn(qty=40, sku="BOLT", supplier_lot="S-77", ssccs=(SSCC,)),
                          expected.ExpectedLineIn(qty=12, sku="MILK")]
        receipt, _ = expected.enter_expected_receipt(s, supplier_code=supplier, reference=reference, lines=lines)
        return receipt.id


def expected_state(site, expected_id: int) -> tuple:
    from station.models import ExpectedReceipt

    with site.read() as s:
        row = s.get(ExpectedReceipt, expected_id)
        return row.status.value, [(ln.item.sku, ln.received_qty) for ln in row.lines], [
            p.received_at is not None for ln in row.lines for p in ln.pallets]


def test_an_expected_pallet_fills_the_receipt_and_is_booked_against_its_line(site):
    from station.services.expected import ExpectedLineIn

    rid = expect(site, supplier="MILL", lines=[ExpectedLineIn(qty=40, sku="BOLT", supplier_lot="S-77", ssccs=(SSCC,)),
                                               ExpectedLineIn(qty=12, sku="MILK")])
    answer = take(site, f"]C100{SSCC}").answer  # only the SSCC: the ASN says the rest
    assert answer.ok and answer.message == "40 ea × BOLT Bolt M8, lot S-77 — filled from the label."
    assert answer.detail == "Expected: PO-1 from Northern Mill. Check it, then press Confirm (or scan CONFIRM)."
    draft = held(site)["draft"]
    assert (draft["sku"], draft["qty"], draft["supplier"], draft["supplier_from"]) == ("BOLT", 40, "MILL", "expected")
    done = confirm(site, token=draft["token"], qty="40")
    assert done.ok, done
    assert done.detail.endswith("Still missing from Northern Mill (PO-1): 12 ea MILK.")
    assert done.data["done"]["expected"] == "PO-1 from Northern Mill"
    assert expected_state(site, rid) == ("open", [("BOLT", 40), ("MILK", 0)], [True])
    with site.read() as s:
        assert s.scalars(select(Lot)).one().supplier.code == "MILL"  # the expected receipt's, not BOLT's usual
    assert tap(site, receiving.choose_item, "MILK", {}).ok
    last = confirm(site, qty="12")
    assert last.ok and last.detail.endswith("Everything expected on PO-1 from Northern Mill is in.")
    assert expected_state(site, rid) == ("received", [("BOLT", 40), ("MILK", 12)], [True])


def test_more_than_expected_is_said_at_the_scan_and_at_confirm(site):
    from station.services.expected import ExpectedLineIn

    rid = expect(site, lines=[ExpectedLineIn(qty=40, sku="BOLT")])
    answer = take(site, pallet_label(count=52)).answer
    assert (answer.kind, answer.message) == ("error", "12 more than expected (40 still to come on PO-1 from Acme Foods).")
    done = confirm(site, qty="52")
    assert done.kind == "error" and done.data["status"] == 200
    assert done.message.endswith("12 more than expected.") and done.data["done"]["lot"]
    assert expected_state(site, rid) == ("received", [("BOLT", 52)], [])


def test_an_item_the_labels_supplier_does_not_expect_is_said_in_words(site):
    from station.services.expected import ExpectedLineIn

    rid = expect(site, lines=[ExpectedLineIn(qty=12, sku="MILK")])
    answer = take(site, pallet_label() + f"{GS}412{ACME_GLN}").answer
    assert (answer.kind, answer.message) == ("error", "Not expected from Acme Foods: BOLT Bolt M8.")
    done = confirm(site, qty="40")
    assert done.kind == "error" and "Not expected from Acme Foods" in done.message and counts(site)[0] == 1
    assert expected_state(site, rid) == ("open", [("MILK", 0)], [])


def test_when_several_deliveries_expect_the_item_the_receiver_picks_one(site):
    from station.services.expected import ExpectedLineIn

    first = expect(site, lines=[ExpectedLineIn(qty=10, sku="BOLT")])
    second = expect(site, reference="PO-9", supplier="MILL", lines=[ExpectedLineIn(qty=30, sku="BOLT")])
    take(site, pallet_label(count=30))
    draft = held(site)["draft"]
    assert [c["words"] for c in draft["expected_choices"]] == ["PO-1 from Acme Foods: 10 ea to come",
                                                               "PO-9 from Northern Mill: 30 ea to come"]
    before = counts(site)
    refused = confirm(site, qty="30")
    assert (refused.kind, refused.message) == ("error", "Still needed: which delivery it is.")
    assert refused.data["bad"] == "expected" and counts(site) == before
    assert confirm(site, qty="30", expected_line="999999").message == "Pick the delivery from the list."
    line_id = draft["expected_choices"][1]["id"]
    done = confirm(site, qty="30", expected_line=str(line_id))
    assert done.ok and done.data["done"]["expected"] == "PO-9 from Northern Mill"
    assert expected_state(site, second)[:2] == ("received", [("BOLT", 30)])
    assert expected_state(site, first)[:2] == ("open", [("BOLT", 0)])


def test_goods_of_no_known_supplier_wait_for_the_receiver_to_choose_one(site):
    no_usual_supplier(site, "MILK")
    assert tap(site, receiving.choose_item, "MILK", {}).ok  # MILK: no label, nothing expected, no usual supplier
    before = counts(site)
    refused = confirm(site, qty="12")
    assert (refused.kind, refused.message) == ("error", "Still needed: the supplier (pick it below).")
    assert refused.data["bad"] == "supplier" and counts(site) == before
    with site.read() as s:
        assert [code for code, _ in receiving.screen(s, held(site), site["Dock 1"])["suppliers"]] == ["ACME"]
    done = confirm(site, qty="12", supplier="ACME")
    assert done.ok
    with site.read() as s:
        assert s.scalars(select(Lot)).one().supplier.code == "ACME"


def test_goods_past_their_expiry_are_booked_into_quarantine_in_red_words(site):
    from station.models import LotEvent, LotStatus

    assert tap(site, receiving.choose_item, "BOLT", {}).ok
    done = confirm(site, qty="5", expiry="2020-01-01")
    assert done.kind == "error" and done.data["status"] == 200
    assert "Expired on 2020-01-01" in done.message and "is in quarantine" in done.message
    with site.read() as s:
        lot = s.scalars(select(Lot)).one()
        event = s.scalars(select(LotEvent).where(LotEvent.lot_id == lot.id)).one()
        assert (lot.status, lot.on_hand) == (LotStatus.QUARANTINE, 5)
        assert (event.to_status, event.reason, event.operator_id) == (LotStatus.QUARANTINE, "expired on receipt",
                                                                      site["rita"])
        assert_books_balance(s)
