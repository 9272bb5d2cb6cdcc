"""The line page through the test client: start a run, scan component lots (keypad quantity, the source
when unclear), refusals in words, undo, finish into a linked lot with its labels on the station's
printer, the run's page (reprint, print more), and who may use it."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from actions import banner, scanner
from factories import assert_books_balance
from station.models import Item, Lot, LotLink, PrintJob, ProductionRun, RunStatus, Stock
from station.services import catalog, holds
from station.services.stock import move


@pytest.fixture
def site(site):
    """MILK 20 at LINE-1 and 30 at A-01, BOLT 100 at A-02, a held MILK lot at LINE-1; the printers
    "line-zebra" and "office"; `line` is LINE-1's id."""
    site.lot("milk", "MILK", 50, location="A-01")
    site.move("milk", 20, "A-01", "LINE-1")
    site.lot("bolts", "BOLT", 100, location="A-02")
    site.lot("held", "MILK", 10, location="LINE-1", hold="Cold chain alarm")
    site["printer"], site["other"] = site.printer("line-zebra"), site.printer("office")
    with site.read() as s:
        site["line"] = catalog.location_by_code(s, "LINE-1").id
    return site


@pytest.fixture
def operator(client, site, signed_in, bound_station):
    signed_in(client, "line_operator", name="Lee Line")
    bound_station(client, "Line 1 PC", location_id=site["line"], printer_id=site["printer"])
    return client


scan = scanner("/line/scan", text=True)


def page_banner(client, path: str = "/line") -> tuple[str, str]:
    return banner(client.get(path).text)


def start(client, sku: str = "CAKE") -> int:
    assert client.post("/line/start", data={"item": sku}).status_code == 303
    with client.application.extensions["station.db"].read() as s:
        return s.scalar(select(ProductionRun.id).where(ProductionRun.status == RunStatus.OPEN))


def add(client, run_id: int, code: str, qty: int):
    kind, message = banner(scan(client, code))
    assert kind == "ok", message
    client.post("/line/component", data={"run": run_id, "qty": str(qty)})
    kind, message = page_banner(client)
    assert kind == "ok" and message.startswith("Added"), message


def test_a_run_from_start_to_labels(operator, database, site):
    page = operator.get("/line").text
    assert "Line LINE-1: start a run" in page and 'data-scan-url="/line/scan"' in page and "CAKE" in page
    run_id = start(operator)
    assert page_banner(operator)[1] == f"Run {run_id} started: CAKE Cake on LINE-1."

    html = scan(operator, site["milk"])  # at the line and in A-01: the line's stock is used
    assert banner(html) == ("ok", f"Lot {site['milk']}: MILK Milk 1 L, 20 ea at LINE-1.")
    assert "data-keypad-input" in html and 'data-command="confirm"' in html and 'data-command="cancel"' in html
    operator.post("/line/component", data={"run": run_id, "qty": "21"})
    kind, message = page_banner(operator)
    assert kind == "error" and "Only 20 of lot" in message
    operator.post("/line/component", data={"run": run_id, "qty": "15"})
    assert page_banner(operator) == ("ok", f"Added: 15 ea of lot {site['milk']} from LINE-1.")
    add(operator, run_id, f"LOT:{site['bolts']}", 30)  # only in A-02: taken from there

    page = operator.get("/line").text
    assert "Finish and print labels" in page and 'data-command="undo"' in page and "line-zebra" in page
    response = operator.post("/line/finish", data={"run": run_id, "qty": "12", "copies": "2"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/line/runs/{run_id}")
    again = operator.post("/line/finish", data={"run": run_id, "qty": "12", "copies": "2"})  # a double tap
    assert again.headers["Location"].endswith(f"/line/runs/{run_id}")

    with database.read() as s:
        run = s.get(ProductionRun, run_id)
        assert run.status is RunStatus.FINISHED and run.qty == 12 and run.finished_by_id is not None
        lot = s.get(Lot, run.output_lot_id)
        links = {(s.get(Lot, link.component_lot_id).lot_number, link.qty)
                 for link in s.scalars(select(LotLink).where(LotLink.output_lot_id == lot.id))}
        assert links == {(site["milk"], 15), (site["bolts"], 30)}
        assert s.scalar(select(Stock.qty).where(Stock.lot_id == lot.id)) == 12
        jobs = s.execute(select(PrintJob.printer_id, PrintJob.copies, PrintJob.station_id)
                         .where(PrintJob.lot_id == lot.id)).all()
        assert [(p, c) for p, c, _ in jobs] == [(site["printer"], 2)] and jobs[0][2] is not None
        assert_books_balance(s)
        number = lot.lot_number

    run_page = operator.get(f"/line/runs/{run_id}").text
    assert f"Run {run_id} finished: lot {number}, 12 ea of CAKE." in run_page
    assert "2 labels sent to line-zebra." in run_page and "job-status-" in run_page
    assert 'data-command="reprint"' in run_page and 'data-command="next"' in run_page

    # Print more: a double tap (the same form token) makes one job.
    token = re.search(r'name="request_id" value="(\w+m)"', run_page).group(1)
    for _ in range(2):
        operator.post(f"/line/runs/{run_id}/print", data={"copies": "3", "request_id": token})
    assert "3 more labels of lot" in page_banner(operator, f"/line/runs/{run_id}")[1]
    # Reprint: the last job has not been sent yet (no worker here) — said in words.
    operator.post(f"/line/runs/{run_id}/reprint", data={"request_id": "abc"})
    kind, message = page_banner(operator, f"/line/runs/{run_id}")
    assert kind == "error" and "has not been printed yet" in message
    with database.write() as s:
        for job in s.scalars(select(PrintJob)):
            job.status = job.status.__class__("sent")
    operator.post(f"/line/runs/{run_id}/reprint", data={"request_id": "abc"})
    assert page_banner(operator, f"/line/runs/{run_id}")[1].startswith("Printing again: job")
    with database.read() as s:
        assert [c for (c,) in s.execute(select(PrintJob.copies).order_by(PrintJob.id))] == [2, 3, 3]


def test_refused_components_are_red_and_add_nothing(operator, database, site):
    kind, message = banner(scan(operator, site["milk"]))
    assert kind == "error" and "no run is open" in message
    run_id = start(operator)
    kind, message = banner(scan(operator, site["held"]))
    assert (kind, message) == ("error", f"Lot {site['held']} is on hold — QA release needed; it cannot be used.")
    kind, message = banner(scan(operator, "LOT:NOPE-1"))
    assert kind == "error" and "not known here" in message
    kind, message = banner(scan(operator, "4000000000016"))  # an item's GTIN, not a lot
    assert kind == "error"
    with database.read() as s:
        assert s.get(ProductionRun, run_id).components == []
    page = operator.get("/line").text
    assert 'disabled>Finish and print labels' in page.replace("\n", "")


def test_a_lot_in_two_places_off_the_line_asks_where_from(operator, database, site):
    with database.write() as s:
        move(s, catalog.lot_by_number(s, site["bolts"]), 40, catalog.location_by_code(s, "A-02"),
             catalog.location_by_code(s, "A-01"))
    run_id = start(operator)
    html = scan(operator, site["bolts"])
    assert banner(html)[0] == "ok" and 'action="/line/source"' in html
    assert banner(scan(operator, "SHIP"))[1] == f"Lot {site['bolts']} is not at SHIP."
    assert banner(scan(operator, "LOC:A-01"))[1] == f"Lot {site['bolts']} from A-01."
    operator.post("/line/component", data={"run": run_id, "qty": "40"})
    assert page_banner(operator)[1] == f"Added: 40 ea of lot {site['bolts']} from A-01."


def test_undo_cancel_and_the_cancel_command(operator, database, site):
    run_id = start(operator)
    add(operator, run_id, site["milk"], 5)
    scan(operator, f"LOT:{site['bolts']}")
    operator.post("/line/component/cancel")
    assert page_banner(operator)[1] == "Lot not added."
    operator.post("/line/undo", data={"run": run_id})
    assert page_banner(operator)[1] == f"Taken back: 5 of lot {site['milk']}."
    operator.post("/line/cancel-run", data={"run": run_id})
    assert page_banner(operator)[1] == f"Run {run_id} cancelled — nothing was used or made."
    with database.read() as s:
        assert s.get(ProductionRun, run_id).status is RunStatus.CANCELLED
        assert_books_balance(s)


def test_a_finish_refused_changes_nothing(operator, database, site):
    run_id = start(operator)
    add(operator, run_id, site["milk"], 5)
    with database.write() as s:
        holds.hold(s, catalog.lot_by_number(s, site["milk"]), "Lab result pending")
    response = operator.post("/line/finish", data={"run": run_id, "qty": "4", "copies": "1"})
    assert response.headers["Location"].endswith("/line")
    kind, message = page_banner(operator)
    assert kind == "error" and "on hold" in message
    with database.read() as s:
        assert s.get(ProductionRun, run_id).status is RunStatus.OPEN
        assert s.scalar(select(PrintJob.id)) is None
        assert s.scalar(select(Lot).where(Lot.origin == "production")) is None


def test_a_station_that_is_not_at_a_line(client, site, signed_in, bound_station):
    signed_in(client, "line_operator")
    bound_station(client, "Dock tablet")
    page = client.get("/line").text
    assert "has no location" in page
    response = client.get("/move")
    assert response.status_code == 403
    signed_in(client, "picker")
    assert client.get("/line").status_code == 403


# --- starting a run by scanning the item (no run open) ----------------------------------------------


def open_runs(database) -> list[tuple[int, str]]:
    with database.read() as s:
        return [(run_id, s.get(Item, item_id).sku) for run_id, item_id in s.execute(select(ProductionRun.id, ProductionRun.item_id)
                                                 .where(ProductionRun.status == RunStatus.OPEN))]


@pytest.mark.parametrize("code", ["4000000000020", "]C10104000000000020", "(01)04000000000020", "MILK", "milk"])
def test_scanning_an_item_with_no_run_open_starts_a_run_of_it(operator, database, site, code):
    kind, message = banner(scan(operator, code))
    runs = open_runs(database)
    assert [sku for _, sku in runs] == ["MILK"], (kind, message)
    assert (kind, message) == ("ok", f"Run {runs[0][0]} started: MILK Milk 1 L on LINE-1.")
    with database.read() as s:
        assert s.get(ProductionRun, runs[0][0]).started_by_id is not None
    # With the run open, the item scanned again is no lot: today's refusal, no second run.
    kind, message = banner(scan(operator, "MILK" if code != "MILK" else "4000000000020"))
    assert kind == "error" and len(open_runs(database)) == 1, message


def test_a_gs1_label_of_the_item_with_a_lot_not_received_still_starts_its_run(operator, database, site):
    kind, message = banner(scan(operator, "]C1010400000000002010NEWLOT-9"))
    assert kind == "ok" and [sku for _, sku in open_runs(database)] == ["MILK"], message


def test_a_lot_scanned_with_no_run_open_keeps_its_answer_and_starts_nothing(operator, database, site):
    for code in (site["milk"], f"LOT:{site['bolts']}"):
        kind, message = banner(scan(operator, code))
        assert kind == "error" and "no run is open" in message
    kind, message = banner(scan(operator, "NO-SUCH-SKU"))
    assert kind == "error"
    assert open_runs(database) == []


def test_an_item_scanned_at_a_station_that_is_no_line_is_refused_in_words(client, database, site, signed_in,
                                                                          bound_station):
    signed_in(client, "line_operator")
    with database.read() as s:
        dock = catalog.location_by_code(s, "DOCK").id
    bound_station(client, "Dock tablet", location_id=dock)
    kind, message = banner(scan(client, "4000000000020"))
    assert kind == "error" and "not a production line" in message
    assert open_runs(database) == []


# --- the station's own scanner ----------------------------------------------------------------------


def test_a_scan_of_the_stations_own_scanner_is_drawn_like_a_wedge_scans_answer(operator, database, site):
    """The line page open at a station takes its scanner's scans on the server; station.js fetches the
    answer from /floor/answer/<scan id>: the same .scan-result as the page's own scan POST, with the run;
    the keypad's OK then adds the lot the scanner read."""
    from station.models import StationDevice
    from station.workflows import intake

    run_id = start(operator)
    assert operator.get("/line").status_code == 200  # the line page is now open at Line 1 PC
    with database.read() as s:
        station = s.scalar(select(StationDevice.id).where(StationDevice.name == "Line 1 PC"))
    taken = intake.take(database, intake.ScanIn(code=f"LOT:{site['milk']}", source="sim://line-1",
                                                station_id=station))
    assert taken.workflow == "line" and taken.answer.ok
    response = operator.get(f"/floor/answer/{taken.scan_id}", headers={"HX-Request": "true"})
    html = response.text
    assert response.status_code == 200 and response.headers["X-Scan-Id"] == str(taken.scan_id)
    assert f'data-scan-id="{taken.scan_id}"' in html and 'data-ok="1"' in html
    assert banner(html) == ("ok", f"Lot {site['milk']}: MILK Milk 1 L, 20 ea at LINE-1.")
    assert "data-keypad-input" in html and 'data-command="confirm"' in html
    operator.post("/line/component", data={"run": run_id, "qty": "7"})
    assert page_banner(operator) == ("ok", f"Added: 7 ea of lot {site['milk']} from LINE-1.")
