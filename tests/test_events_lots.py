"""Events out for holds, recalls, expiry, counts, returns and labels that gave up (issue 16), on SQLite and
PostgreSQL: each change writes exactly one event of its type per lot (per count, per failed label), in its
own transaction, with a body that stands alone; a refused change writes none."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from actions import Api
from devices.printers.emulator import PrinterEmulator
from factories import operator, received_lot
from test_print_worker import wait_until
from station import clock
from station.models import Count, Event, LocationKind, Order, OrderLine, PrintJob, PrintJobStatus, Role
from station.processes.expiry_job import run_once
from station.processes.print_worker import PrintWorker
from station.services import (catalog, counts, events, expiry, holds, picking, print_queue, printing, production,
                              recalls, returns, stock)
from station.services.actor import Actor
from station.services.errors import Conflict, DomainError, Invalid
from station.services.production import Component
from station.services.tokens import create_token

TODAY = clock.today()
D = dt.timedelta


def feed(db, type: str) -> list[dict]:
    """The events of `type` as the feed gives them, in commit order."""
    with db.read() as s:
        return events.feed(s, types=[type], limit=events.MAX_LIMIT).events


def only(db, type: str) -> dict:
    found = feed(db, type)
    assert len(found) == 1, found
    return found[0]


def event_count(db) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(Event))


def refused_writes_nothing(db, action, error=DomainError) -> None:
    before = event_count(db)
    with pytest.raises(error):
        with db.write() as s:
            action(s)
    assert event_count(db) == before


def people(site) -> None:
    with site.write() as s:
        site["sam"] = operator(s, badge="SUP-SAM", name="Sam Super", role="supervisor").id
        site["sue"] = operator(s, badge="SUP-SUE", name="Sue Boss", role="supervisor").id
        site["pat"] = operator(s, badge="OP-PAT", name="Pat Picker", role="picker").id


def by(site, who: str) -> Actor:
    return Actor(operator_id=site[who], station_id=site.get("Aisle A"))


# --- holds and releases -----------------------------------------------------------------------------------


@pytest.fixture
def api(client, database) -> Api:
    with database.write() as s:
        return Api(client, create_token(s, "erp-test", Role.SUPERVISOR))


def test_hold_quarantine_and_release_by_the_api_write_one_event_each(api, site):
    number = site.lot("bolt", "BOLT", 10, location="A-01", supplier="ACME", supplier_lot="S-1",
                      expiry=TODAY + D(days=90))
    assert api.post(f"/lots/{number}/hold", {"reason": "Damaged wrap"}).status_code == 200
    held = only(site, "lot.held")
    assert held["key"] == f"lot:{number}" and held["via_api"] is True and held["operator"] is None
    data = held["data"]
    assert (data["status"], data["from_status"], data["reason"]) == ("hold", "available", "Damaged wrap")
    assert data["lot"] == {
        "number": number, "status": "hold", "on_hand": "10", "supplier_lot": "S-1",
        "expiry": (TODAY + D(days=90)).isoformat(), "produced_on": None, "received_on": TODAY.isoformat(),
        "origin": "receipt", "item": {"sku": "BOLT", "name": "Bolt M8", "unit": "ea",
                                      "gtins": ["04000000000013"]},
        "supplier": {"code": "ACME", "name": "Acme Foods", "gln": "4000000000013"}}

    # Refused: held already, an unknown status, no reason. None of them writes an event.
    assert api.post(f"/lots/{number}/hold", {"reason": "again"}).status_code == 409
    assert api.post(f"/lots/{number}/hold", {"reason": "x", "status": "recalled"}).status_code == 422
    assert api.post(f"/lots/{number}/release", {"reason": "  "}).status_code == 422
    assert len(feed(site, "lot.held")) == 1 and feed(site, "lot.released") == []

    assert api.post(f"/lots/{number}/release", {"reason": "Rewrapped"}).status_code == 200
    released = only(site, "lot.released")["data"]
    assert (released["status"], released["from_status"], released["reason"], released["lot"]["status"]) == \
        ("available", "hold", "Rewrapped", "available")
    assert api.post(f"/lots/{number}/release", {"reason": "again"}).status_code == 409
    assert api.post(f"/lots/{number}/hold", {"reason": "Lab test", "status": "quarantine"}).status_code == 200
    assert [(e["data"]["status"], e["data"]["reason"]) for e in feed(site, "lot.held")] == [
        ("hold", "Damaged wrap"), ("quarantine", "Lab test")]
    assert len(feed(site, "lot.released")) == 1


def test_a_hold_by_an_operator_at_a_station_names_them(site):
    people(site)
    site.station("Aisle A", location="A-01")
    number = site.lot("milk", "MILK", 5, location="A-01")
    with site.write() as s:
        holds.hold(s, catalog.lot_by_number(s, number), "Cold chain alarm", by=by(site, "sam"))
    held = only(site, "lot.held")
    assert held["operator"] == {"badge": "SUP-SAM", "name": "Sam Super"} and held["station"] == "Aisle A"
    assert held["via_api"] is False and held["data"]["reason"] == "Cold chain alarm"
    refused_writes_nothing(site, lambda s: holds.release(s, catalog.lot_by_number(s, number), "", by=by(site, "sam")))


# --- recalls -----------------------------------------------------------------------------------------------


@pytest.fixture
def recall_site(site):
    """BOLT lot "a" (ACME S-77) made into CAKE "p" and "q" (q from p too); BOLT "b" unrelated; "q" already
    recalled by an earlier recall; "c" made from a and used up."""
    people(site)
    with site.write() as s:
        a01, line = catalog.location_by_code(s, "A-01"), catalog.location_by_code(s, "LINE-1")
        cake = catalog.item_by_sku(s, "CAKE")
        a = received_lot(s, "BOLT", 100, supplier="ACME", supplier_lot="S-77", on=TODAY)
        b = received_lot(s, "BOLT", 50, on=TODAY)
        p = production.produce(s, item=cake, qty=20, location=line, components=[Component(a, a01, 30)])
        q = production.produce(s, item=cake, qty=4, location=line, components=[Component(p, line, 4)])
        c = production.produce(s, item=cake, qty=2, location=line, components=[Component(a, a01, 2)])
        site.update(a=a.lot_number, b=b.lot_number, p=p.lot_number, q=q.lot_number, c=c.lot_number)
    with site.write() as s:
        line = catalog.location_by_code(s, "LINE-1")
        stock.adjust(s, catalog.lot_by_number(s, site["c"]), line, -2, "eaten in the tasting")
    with site.write() as s:
        site["earlier"] = recalls.open_recall(s, reason="Mould found", lot=site["q"], by=by(site, "sam")).number
    return site


def test_a_recall_writes_one_lot_recalled_event_per_lot_in_its_scope(recall_site):
    site = recall_site
    assert [e["data"]["lot"]["number"] for e in feed(site, "lot.recalled")] == [site["q"]]
    with site.write() as s:
        number = recalls.open_recall(s, reason="Metal fragments", lot=site["a"], by=by(site, "sue")).number
    mine = [e for e in feed(site, "lot.recalled") if e["data"]["recall"]["number"] == number]
    by_lot = {e["data"]["lot"]["number"]: e for e in mine}
    assert sorted(by_lot) == sorted([site["a"], site["p"], site["q"], site["c"]]) and len(mine) == 4
    assert site["b"] not in by_lot
    assert all(e["key"] == f"lot:{lot}" and e["operator"]["badge"] == "SUP-SUE" for lot, e in by_lot.items())
    source = by_lot[site["a"]]["data"]
    assert source["recall"] == {"number": number, "reason": "Metal fragments", "source": f"lot {site['a']}",
                                "source_lot": site["a"], "supplier": None, "supplier_lot": None}
    assert (source["depth"], source["status_before"], source["on_hand_at_start"], source["already_recalled"]) == \
        (0, "available", "68", False)
    assert source["lot"]["status"] == "recalled" and source["lot"]["supplier_lot"] == "S-77"
    assert (by_lot[site["p"]]["data"]["depth"], by_lot[site["p"]]["data"]["lot"]["item"]["sku"]) == (1, "CAKE")
    assert by_lot[site["q"]]["data"]["already_recalled"] is True
    assert by_lot[site["q"]]["data"]["status_before"] == "recalled"
    assert by_lot[site["c"]]["data"]["status_before"] == "consumed"

    # Refused: the same source again (an open recall has it), no reason, an unknown lot.
    refused_writes_nothing(site, lambda s: recalls.open_recall(s, reason="again", lot=site["a"]))
    refused_writes_nothing(site, lambda s: recalls.open_recall(s, reason=" ", lot=site["b"]))
    refused_writes_nothing(site, lambda s: recalls.open_recall(s, reason="x", lot="NO-SUCH-LOT"))


def test_a_recall_from_a_suppliers_lot_names_it(recall_site):
    site = recall_site
    with site.write() as s:
        number = recalls.open_recall(s, reason="Supplier notice", supplier="ACME", supplier_lot="S-77").number
    mine = [e for e in feed(site, "lot.recalled") if e["data"]["recall"]["number"] == number]
    assert len(mine) == 4 and {e["data"]["recall"]["supplier_lot"] for e in mine} == {"S-77"}
    assert {e["data"]["recall"]["supplier"] for e in mine} == {"ACME"}


# --- expiry ------------------------------------------------------------------------------------------------


@pytest.fixture
def expiry_site(site):
    """Lots past their date (MILK, CAKE), one expiring today, one past its date but on hold, one without."""
    with site.write() as s:
        def lot(sku, qty, expiry_on, location="A-01"):
            return received_lot(s, sku, qty, location=location, expiry=expiry_on, on=TODAY - D(days=40)).lot_number

        site.update(past1=lot("MILK", 10, TODAY - D(days=1)), past9=lot("CAKE", 4, TODAY - D(days=9), "A-02"),
                    today=lot("MILK", 5, TODAY), held=lot("MILK", 7, TODAY - D(days=3)), none=lot("BOLT", 9, None))
        holds.hold(s, catalog.lot_by_number(s, site["held"]), "QA check")
    return site


def test_the_expiry_job_writes_one_lot_expired_event_per_lot_it_marks(expiry_site):
    site = expiry_site
    assert run_once(site.db) == 2
    found = feed(site, "lot.expired")
    assert sorted(e["data"]["lot"]["number"] for e in found) == sorted([site["past1"], site["past9"]])
    for e in found:
        number = e["data"]["lot"]["number"]
        assert e["key"] == f"lot:{number}" and e["operator"] is None and e["station"] is None
        assert e["data"]["lot"]["status"] == "expired" and e["data"]["from_status"] == "available"
        assert e["data"]["reason"] == f"Expired on {e['data']['lot']['expiry']}"
    cake = next(e for e in found if e["data"]["lot"]["number"] == site["past9"])["data"]["lot"]
    assert (cake["expiry"], cake["on_hand"], cake["item"]["sku"]) == ((TODAY - D(days=9)).isoformat(), "4", "CAKE")
    assert run_once(site.db) == 0 and len(feed(site, "lot.expired")) == 2  # nothing more to mark: no event

    # The held lot is released: the next run marks it, and tells once.
    with site.write() as s:
        holds.release(s, catalog.lot_by_number(s, site["held"]), "QA done")
    assert run_once(site.db) == 1
    assert [e["data"]["lot"]["number"] for e in feed(site, "lot.expired")][2:] == [site["held"]]


def test_a_large_backlog_gets_an_event_per_lot_across_batches_and_chunks(site, monkeypatch):
    monkeypatch.setattr(expiry, "TELL_CHUNK", 7)  # several chunks per batch, with a short last one
    with site.write() as s:
        numbers = [received_lot(s, "MILK", 1, expiry=TODAY - D(days=2), on=TODAY - D(days=40)).lot_number
                   for _ in range(30)]
    with site.write() as s:
        assert len(expiry.expire_due(s, limit=20)) == 20
    with site.write() as s:
        assert len(expiry.expire_due(s)) == 10
    found = feed(site, "lot.expired")
    assert sorted(e["data"]["lot"]["number"] for e in found) == sorted(numbers)
    assert [e["position"] for e in found] == sorted(e["position"] for e in found)
    with site.read() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.type == "lot.expired")) == 30


# --- counts ------------------------------------------------------------------------------------------------


@pytest.fixture
def count_site(site):
    people(site)
    site.station("Aisle A", location="A-01")
    site.lot("milk", "MILK", 40, location="A-01")
    site.lot("bolt", "BOLT", 30, location="A-01")
    return site


def count(site, found: dict[str, tuple[int, str | None]], who: str = "pat") -> int:
    """Start a count of A-01 and key what was found of each lot (name -> (qty, reason))."""
    with site.write() as s:
        row = counts.start(s, catalog.location_by_code(s, "A-01"), by=by(site, who))
        for name, (qty, reason) in found.items():
            line = counts.line_for_lot(s, row, catalog.lot_by_number(s, site[name]))
            counts.set_counted(row, line, qty)
            if reason:
                counts.set_reason(row, line, reason)
        return row.id


def finish(site, count_id: int, who: str = "pat") -> str:
    with site.write() as s:
        return counts.finish(s, s.get(Count, count_id), by=by(site, who), threshold=10).status


def test_a_count_booked_at_once_writes_one_event_with_every_line(count_site):
    site = count_site
    count_id = count(site, {"milk": (38, "Damaged"), "bolt": (30, None)})
    assert finish(site, count_id) == "booked"
    booked = only(site, "count.booked")
    assert booked["key"] == "location:A-01" and booked["operator"]["badge"] == "OP-PAT"
    data = booked["data"]
    assert (data["count"], data["location"], data["counted_by"], data["approval"]) == (
        count_id, {"code": "A-01", "kind": "storage"}, {"badge": "OP-PAT", "name": "Pat Picker"}, None)
    lines = {line["lot"]["number"]: line for line in data["lines"]}
    assert {k: (v["before"], v["counted"], v["difference"], v["reason"], v["sscc"]) for k, v in lines.items()} == {
        site["milk"]: ("40", "38", "-2", "Damaged", None), site["bolt"]: ("30", "30", "0", None, None)}
    assert lines[site["milk"]]["lot"]["on_hand"] == "38" and lines[site["milk"]]["lot"]["item"]["sku"] == "MILK"


def test_a_count_waits_for_approval_then_one_event_names_the_approver(count_site):
    site = count_site
    refused_id = count(site, {"milk": (40, None)})
    # Refused: a line not counted yet. Nothing is booked, no event.
    refused_writes_nothing(site, lambda s: counts.finish(s, s.get(Count, refused_id), by=by(site, "pat"),
                                                         threshold=10), Invalid)
    with site.write() as s:
        counts.cancel(s, s.get(Count, refused_id), by=by(site, "pat"))
    count_id = count(site, {"milk": (10, "Taken without a scan"), "bolt": (31, "Found — not booked in")})
    assert finish(site, count_id) == "pending" and feed(site, "count.booked") == []
    refused_writes_nothing(site, lambda s: counts.approve(s, s.get(Count, count_id), by=by(site, "pat")), Conflict)
    with site.write() as s:
        counts.approve(s, s.get(Count, count_id), by=by(site, "sue"), note="Checked the shelf",
                       approver_name="Sue Boss")
    booked = only(site, "count.booked")
    assert booked["operator"]["badge"] == "SUP-SUE"
    assert booked["data"]["approval"] == {"by": {"badge": "SUP-SUE", "name": "Sue Boss"}, "note": "Checked the shelf"}
    assert booked["data"]["counted_by"]["badge"] == "OP-PAT"
    assert sorted((line["before"], line["counted"], line["difference"]) for line in booked["data"]["lines"]) == [
        ("30", "31", "1"), ("40", "10", "-30")]

    # A rejected count books nothing and tells nothing.
    other = count(site, {"milk": (10, None), "bolt": (90, "Found — not booked in")})
    assert finish(site, other) == "pending"
    with site.write() as s:
        counts.reject(s, s.get(Count, other), by=by(site, "sue"), note="Count it again")
    assert len(feed(site, "count.booked")) == 1


# --- returns -----------------------------------------------------------------------------------------------


@pytest.fixture
def return_site(site):
    """A quarantine place; 40 BOLT, 10 of them shipped to SHOP."""
    people(site)
    with site.write() as s:
        catalog.create_location(s, code="Q-DOCK", kind=LocationKind.QUARANTINE)
        lot = received_lot(s, "BOLT", 40, supplier="ACME", supplier_lot="S-9", on=TODAY)
        shop = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "SHOP"))
        order = Order(number="SO-1", customer_id=shop.id)
        s.add(order)
        s.flush()
        line = OrderLine(order_id=order.id, line_no=1, item_id=lot.item_id, qty=10)
        s.add(line)
        s.flush()
        picking.pick(s, lot=lot, location=catalog.location_by_code(s, "A-01"), qty=10, line=line)
        picking.ship(s, order)
        site["bolt"] = lot.lot_number
    return site


def book(s, site, qty: int, **options):
    shop = s.scalar(select(catalog.Customer).where(catalog.Customer.code == "SHOP"))
    return returns.book_return(s, lot=catalog.lot_by_number(s, site["bolt"]), qty=qty, customer=shop,
                               by=by(site, "pat"), **{"reason": "Damaged box", **options})


def test_a_customer_return_writes_one_event_with_customer_lot_qty_and_place(return_site):
    site = return_site
    with site.write() as s:
        book(s, site, 4)
    booked = only(site, "return.booked")
    assert booked["key"] == f"lot:{site['bolt']}" and booked["operator"]["badge"] == "OP-PAT"
    data = booked["data"]
    assert (data["qty"], data["reason"], data["reference"], data["sscc"], data["status_before"]) == \
        ("4", "Damaged box", "return from SHOP", None, "available")
    assert data["customer"] == {"code": "SHOP", "name": "Corner Shop", "gln": None}
    assert data["location"] == {"code": "Q-DOCK", "kind": "quarantine"}
    assert (data["lot"]["number"], data["lot"]["status"], data["lot"]["on_hand"], data["lot"]["supplier_lot"]) == \
        (site["bolt"], "quarantine", "34", "S-9")

    # Refused: more than the customer still has, no reason. None writes an event.
    refused_writes_nothing(site, lambda s: book(s, site, 7), Conflict)
    refused_writes_nothing(site, lambda s: book(s, site, 1, reason=" "), Invalid)
    with site.write() as s:
        book(s, site, 6, reason="Wrong item ordered")
    assert [(e["data"]["qty"], e["data"]["status_before"]) for e in feed(site, "return.booked")] == [
        ("4", "available"), ("6", "quarantine")]


# --- labels that gave up -----------------------------------------------------------------------------------


@pytest.fixture
def emulator(tmp_path):
    with PrinterEmulator("127.0.0.1", 0, tmp_path / "emulator", delay=0.1) as emu:
        yield emu


def worker(db, **options) -> PrintWorker:
    options = {"threads": 1, "poll_s": 0.02, "backoff_first": 0.05, "backoff_max": 0.2, "status_every": 0,
               "networks": "127.0.0.1/32", **options}
    return PrintWorker(db, **options)


def statuses(db) -> list[PrintJobStatus]:
    with db.read() as s:
        return list(s.scalars(select(PrintJob.status).order_by(PrintJob.id)))


def test_the_print_worker_writes_label_failed_when_a_job_gives_up(site, emulator):
    people(site)
    site.station("Dock 1", location="DOCK")
    site.printer("zebra", url=f"tcp://127.0.0.1:{emulator.port}?timeout=0.3")
    number = site.lot("milk", "MILK", 12, location="DOCK", sscc="376130321109103420")
    with site.write() as s:
        ids = [printing.request_labels(s, number, printer="zebra", station=site["Dock 1"],
                                       operator=site["pat"]).id,
               printing.test_print(s, "zebra").id]
    emulator.set_mode("silent")
    with worker(site.db, max_attempts=3):
        wait_until(lambda: statuses(site.db) == [PrintJobStatus.FAILED] * 2, timeout=120, what="both jobs failed")
    found = feed(site, "label.failed")
    assert [e["data"]["job"] for e in found] == ids  # one each, when it gave up: none for the retries
    lot_label, test_label = found
    assert lot_label["key"] == f"lot:{number}" and test_label["key"] == "printer:zebra"
    assert lot_label["station"] == "Dock 1" and lot_label["operator"]["badge"] == "OP-PAT"
    data = lot_label["data"]
    assert (data["printer"], data["template"], data["copies"], data["attempts"], data["lost"]) == \
        ("zebra", "lot", 1, 3, 0)
    assert data["error"].startswith("Not printed after 3 tries") and "Printer offline" in data["error"]
    assert data["lot"]["number"] == number and data["lot"]["item"]["sku"] == "MILK"
    assert (test_label["data"]["lot"], test_label["data"]["sscc"], test_label["data"]["template"]) == \
        (None, None, printing.TEST_TEMPLATE)
    assert emulator.jobs == []


def test_a_pallet_label_that_cannot_be_sent_names_its_sscc(site):
    site.printer("zebra", url="lpt://wherever")
    number = site.lot("pallet", "BOLT", 50, location="DOCK", sscc="376130321109103420")
    with site.write() as s:
        printing.request_labels(s, number, template="pallet", printer="zebra", sscc="376130321109103420")
    with worker(site.db):
        wait_until(lambda: statuses(site.db) == [PrintJobStatus.FAILED], timeout=120, what="the job failed")
    data = only(site, "label.failed")["data"]
    assert (data["template"], data["sscc"], data["attempts"]) == ("pallet", "376130321109103420", 1)
    assert "unknown printer URL" in data["error"]


def test_a_label_lost_twice_by_its_printer_writes_one_event(site):
    site.printer("zebra")
    number = site.lot("milk", "MILK", 3, location="DOCK")
    with site.write() as s:
        job_id = printing.request_labels(s, number, printer="zebra").id
    for round in range(2):
        with site.write() as s:
            assert [j.id for j in print_queue.claim_next(s, "w1")] == [job_id]
            print_queue.mark_sent(s, job_id, "w1")
        with site.write() as s:
            postgres = s.get_bind().dialect.name == "postgresql"
            if postgres:  # as the print worker writes
                s.execute(text("SET LOCAL synchronous_commit = off"))
            job = print_queue.mark_lost(s, job_id, "zebra")
            assert job.status is (PrintJobStatus.QUEUED if round == 0 else PrintJobStatus.FAILED)
            if postgres:  # the transaction with the event waits for the WAL: its position cannot be forgotten
                assert s.scalar(text("SHOW synchronous_commit")) == ("off" if round == 0 else "on")
        assert len(feed(site, "label.failed")) == round
    data = only(site, "label.failed")["data"]
    assert (data["lost"], data["attempts"]) == (2, 2) and "Lost twice" in data["error"]
