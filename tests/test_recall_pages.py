"""The recall pages (views/recalls.py) through the Flask client on both databases: start from a lot or a
supplier lot with a preview first, follow up, close, CSV; refusals in words that change nothing."""
from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from station.models import Recall, RecallEvent

from factories import gtin13
from test_recalls import build_site, snapshot, statuses


def _db(client):
    return client.application.extensions["station.db"]


def _start(client, signed_in, role="supervisor"):
    site = build_site(_db(client))
    signed_in(client, role, name="Sam Supervisor")
    return site


def test_only_supervisors_get_in(client, signed_in):
    assert client.get("/recalls").status_code == 302  # signed out: to the sign-in page
    signed_in(client, "picker")
    page = client.get("/recalls")
    assert page.status_code == 403 and "supervisors" in page.get_data(as_text=True)
    assert client.post("/recalls", data={"lot": "x", "reason": "y"}).status_code == 403


def test_preview_then_confirm_starts_the_recall(client, signed_in, bound_station):
    site = _start(client, signed_in)
    station_id = bound_station(client, "Office")
    index = client.get("/recalls")
    assert index.status_code == 200
    html = index.get_data(as_text=True)
    assert 'data-scan-url="/recalls/scan"' in html and "No open recall." in html
    assert "Acme Foods (ACME)" in html  # the supplier choice

    with _db(client).read() as s:
        before = (snapshot(s), statuses(s))
    page = client.get("/recalls/new", query_string={"lot": site.a})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"A recall of lot {site.a} stops 5 lots" in html
    assert 'data-fact="stopped">5<' in html and 'data-fact="customers">2<' in html
    assert 'data-fact="stock">68<' in html
    for number in (site.a, site.p, site.q, site.s, site.c):
        assert f'data-lot="{number}"' in html
    assert f'data-lot="{site.b}"' not in html and 'data-customer="OTHER"' not in html
    assert 'data-command="confirm"' in html and 'data-command="cancel"' in html
    with _db(client).read() as s:
        assert (snapshot(s), statuses(s)) == before  # a preview changes nothing
        assert s.scalar(select(Recall.id)) is None

    # No reason: refused in words, the preview stays, nothing stopped.
    refused = client.post("/recalls", data={"lot": site.a, "reason": "  "})
    assert refused.status_code == 422
    assert "Write why" in refused.get_data(as_text=True)
    with _db(client).read() as s:
        assert (snapshot(s), statuses(s)) == before

    done = client.post("/recalls", data={"lot": site.a, "reason": "Customer complaint"})
    assert done.status_code == 303
    number = done.headers["Location"].rsplit("/", 1)[1]
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"Recall {number} started: 5 lots stopped" in page and "2 customers to tell" in page
    assert "Customer complaint" in page and "Sam Supervisor" in page
    with _db(client).read() as s:
        assert statuses(s)[site.q] == "recalled"
        event = s.scalar(select(RecallEvent))
        assert event.station_id == station_id and event.operator_id is not None
    # The list shows it as open with its progress.
    html = client.get("/recalls").get_data(as_text=True)
    assert number in html and "0</strong> of 2" in html


def test_supplier_lot_and_refusals_from_the_start_form(client, signed_in):
    site = _start(client, signed_in)
    page = client.get("/recalls/new", query_string={"supplier": "ACME", "supplier_lot": "S-77"})
    assert page.status_code == 200 and "Acme Foods&#39;s lot S-77 stops 7 lots" in page.get_data(as_text=True)
    for args, status, words in [
        ({"supplier": "ACME", "supplier_lot": "NOPE"}, 422, "Nothing was received here from Acme Foods"),
        ({"lot": "NO-SUCH"}, 422, "There is no lot &#39;NO-SUCH&#39;"),
        ({}, 422, "Say what is recalled"),
        ({"supplier": "ACME"}, 422, "needs both"),
    ]:
        page = client.get("/recalls/new", query_string=args)
        assert page.status_code == status, args
        html = page.get_data(as_text=True)
        assert words in html and "Nothing was stopped." in html, args
    client.post("/recalls", data={"supplier": "ACME", "supplier_lot": "S-77", "reason": "Supplier notice"})
    again = client.get("/recalls/new", query_string={"lot": site.a})
    assert again.status_code == 409 and "already in open recall R-" in again.get_data(as_text=True)
    twice = client.post("/recalls", data={"lot": site.a2, "reason": "again"})  # e.g. a confirm sent twice
    assert twice.status_code == 303
    html = client.get(twice.headers["Location"]).get_data(as_text=True)
    assert f"Lot {site.a2} is already in open recall" in html and "Nothing more was stopped." in html
    with _db(client).read() as s:
        assert len(s.scalars(select(Recall)).all()) == 1


def test_a_scanned_lot_label_opens_its_preview(client, signed_in):
    site = _start(client, signed_in)
    answer = client.post("/recalls/scan", data={"code": site.p, "source": "wedge"}, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and answer.headers["HX-Redirect"] == f"/recalls/new?lot={site.p}"
    bad = client.post("/recalls/scan", data={"code": "ZZZ-NOTHING", "source": "wedge"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "floor-banner" in bad.get_data(as_text=True)
    item = client.post("/recalls/scan", data={"code": gtin13("400000000001"), "source": "wedge"},
                       headers={"HX-Request": "true"})
    assert "barcode of the item BOLT, not of one lot" in item.get_data(as_text=True)


def test_follow_up_retrieved_notified_close_and_csv(client, signed_in):
    site = _start(client, signed_in)
    number = client.post("/recalls", data={"lot": site.a, "reason": "=HYPERLINK(\"x\")"}).headers["Location"].rsplit("/", 1)[1]
    base = f"/recalls/{number}"

    ok = client.post(f"{base}/retrieved", data={"lot": site.a, "qty": "40", "note": "put aside"})
    assert ok.status_code == 303
    html = client.get(base).get_data(as_text=True)
    assert f"Lot {site.a}: 40 more retrieved" in html and 'data-retrieved="40"' in html
    for data, status, words in [
        ({"lot": site.a, "qty": "23"}, 409, "at most 62"),
        ({"lot": site.a, "qty": "abc"}, 422, "must be a number"),
        ({"lot": site.a, "qty": ""}, 422, "Type how many"),
        ({"lot": site.b, "qty": "1"}, 422, "is not part of recall"),
    ]:
        page = client.post(f"{base}/retrieved", data=data)
        assert page.status_code == status, data
        assert words in page.get_data(as_text=True) and "Nothing was changed." in page.get_data(as_text=True)

    assert client.post(f"{base}/notified", data={"customer": "SHOP", "note": "Phoned <b>Ann</b>"}).status_code == 303
    html = client.get(base).get_data(as_text=True)
    assert "Phoned &lt;b&gt;Ann&lt;/b&gt;" in html and "<b>Ann</b>" not in html
    assert client.post(f"{base}/notified", data={"customer": "SHOP"}).status_code == 409

    refused = client.post(f"{base}/close", data={"reason": "done"})
    assert refused.status_code == 409 and "Big Co" in refused.get_data(as_text=True)
    assert client.post(f"{base}/close", data={"reason": ""}).status_code == 422
    closed = client.post(f"{base}/close", data={"reason": "Big Co told by letter", "accept_unnotified": "1"})
    assert closed.status_code == 303
    html = client.get(base).get_data(as_text=True)
    assert f"Recall {number} closed" in html and "closing the recall did not release them" in html
    assert 'action="' + base + '/retrieved"' not in html  # no follow-up forms once closed
    with _db(client).read() as s:
        assert statuses(s)[site.a] == "recalled"

    export = client.get(f"{base}.csv")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    assert f'filename="{number}.csv"' in export.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert ["Reason", "'=HYPERLINK(\"x\")"] in rows  # a formula is made text
    assert ["Stock retrieved", "40", "of", "95", "ea"] in rows  # 52+10 a, 5+6 p, 7+3 q, 4 s, 0+8 c; per unit
    lots = {r[0] for r in rows[rows.index(next(r for r in rows if r[:1] == ["Lot"])) + 1:] if r and r[0]}
    assert {site.a, site.p, site.q, site.s, site.c} <= lots
    assert [(r[3], r[4], r[5]) for r in rows if r[:2] == ["SHOP", "SO-1"]] == [(site.p, "6", "ea")]
    assert any(r[1] == "retrieve" and r[4] == site.a and (r[6], r[7]) == ("40", "ea") for r in rows if len(r) == 9)


def test_an_unknown_recall(client, signed_in):
    signed_in(client, "supervisor")
    page = client.get("/recalls/R-1999-0001")
    assert page.status_code == 404 and "There is no recall" in page.get_data(as_text=True)
    assert client.get("/recalls/R-1999-0001.csv").status_code == 404


def test_the_lot_card_refuses_to_release_a_recalled_lot_in_words(client, signed_in):
    site = _start(client, signed_in)
    client.post("/recalls", data={"lot": site.p, "reason": "Complaint"})
    answer = client.post("/lots/actions/release", data={"lot": site.q, "reason": "QA passed"})
    assert answer.status_code == 409
    html = answer.get_data(as_text=True)
    assert f"Lot {site.q} is recalled, not on hold; nothing to release." in html and "Nothing changed." in html
    with _db(client).read() as s:
        assert statuses(s)[site.q] == "recalled"


def test_a_lot_scanned_on_the_recall_page_opens_its_form(client, signed_in):
    site = _start(client, signed_in)
    number = client.post("/recalls", data={"lot": site.a, "reason": "Complaint"}).headers["Location"].rsplit("/", 1)[1]
    answer = client.post(f"/recalls/{number}/scan", data={"code": site.q, "source": "wedge"},
                         headers={"HX-Request": "true"})
    assert answer.headers["HX-Redirect"] == f"/recalls/{number}?lot={site.q}"
    html = client.get(f"/recalls/{number}?lot={site.q}").get_data(as_text=True)
    assert html.count('data-command="confirm"') == 1 and html.count("autofocus") == 1
    assert f'recall-lot--focus" id="retrieve" data-lot="{site.q}"' in html
    other = client.post(f"/recalls/{number}/scan", data={"code": site.b, "source": "wedge"},
                        headers={"HX-Request": "true"})
    assert other.status_code == 422 and f"Lot {site.b} is not part of recall {number}." in other.get_data(as_text=True)
    plain = client.get(f"/recalls/{number}").get_data(as_text=True)
    assert 'data-command="confirm"' not in plain  # nothing for CMD:CONFIRM to press until a lot is chosen


def test_a_scan_on_an_unknown_recalls_page_is_refused_and_changes_nothing(client, signed_in, bound_station):
    from station.models import Scan, StationWorkflow, WorkflowState

    site = _start(client, signed_in)
    bound_station(client, "Office")

    def rows():
        with _db(client).read() as s:
            return [s.scalar(select(func.count()).select_from(m)) for m in (Scan, StationWorkflow, WorkflowState)]

    before = rows()
    answer = client.post("/recalls/R-1999-0001/scan", data={"code": site.p, "source": "wedge"},
                         headers={"HX-Request": "true"})
    assert answer.status_code == 404 and "There is no recall R-1999-0001." in answer.get_data(as_text=True)
    assert rows() == before


def test_a_scan_of_the_stations_own_scanner_is_answered_like_a_wedge_scan(client, signed_in, bound_station):
    """A recall page open at a station: a sim:// scan there is applied on the server to the recall the
    page shows, and /floor/answer/<scan id> answers as the page's scan POST does."""
    from station.workflows.intake import ScanIn, take

    site = _start(client, signed_in)
    station_id = bound_station(client, "Office")
    number = client.post("/recalls", data={"lot": site.a, "reason": "Complaint"}).headers["Location"].rsplit("/", 1)[1]
    assert client.get(f"/recalls/{number}").status_code == 200
    hx = {"HX-Request": "true"}
    for code, status in ((site.q, 200), (site.b, 422)):
        taken = take(_db(client), ScanIn(code=code, source="sim://office-scanner", station_id=station_id))
        assert taken.workflow == "recall"
        device = client.get(f"/floor/answer/{taken.scan_id}", headers=hx)
        wedge = client.post(f"/recalls/{number}/scan", data={"code": code, "source": "wedge"}, headers=hx)
        assert device.status_code == wedge.status_code == status
        assert device.headers.get("HX-Redirect") == wedge.headers.get("HX-Redirect")
        assert device.get_data(as_text=True) == wedge.get_data(as_text=True)
    assert device.headers.get("HX-Redirect") is None
    assert client.get("/recalls").status_code == 200  # the list: a lot scanned there opens its preview
    taken = take(_db(client), ScanIn(code=site.p, source="sim://office-scanner", station_id=station_id))
    assert client.get(f"/floor/answer/{taken.scan_id}", headers=hx).headers["HX-Redirect"] == f"/recalls/new?lot={site.p}"


def test_retrieving_on_the_page_chooses_where_from_and_books_into_quarantine(client, signed_in):
    from station.models import Lot, Movement, MovementKind
    from factories import assert_books_balance

    site = _start(client, signed_in)
    number = client.post("/recalls", data={"lot": site.a, "reason": "Complaint"}).headers["Location"].rsplit("/", 1)[1]
    base = f"/recalls/{number}"
    html = client.get(base).get_data(as_text=True)
    assert '<option value="site:A-01">On site: A-01 (52 ea)</option>' in html
    assert '<option value="customer:BIG">Customer: Big Co (10 ea)</option>' in html
    with _db(client).read() as s:
        before = snapshot(s)
    for data, status, words in [({"from": "customer:OTHER"}, 422, "Other Ltd received nothing of lot"),
                                ({"from": "truck:7"}, 422, "Choose where the goods come from"),
                                ({"from": "site:A-01", "qty": "53"}, 409, "Only 52")]:
        page = client.post(f"{base}/retrieved", data={"lot": site.a, "qty": "3", **data})
        assert page.status_code == status, data
        assert words in page.get_data(as_text=True) and "Nothing was changed." in page.get_data(as_text=True)
    with _db(client).read() as s:
        assert snapshot(s) == before
    assert client.post(f"{base}/retrieved", data={"lot": site.a, "qty": "4", "from": "customer:BIG"}).status_code == 303
    assert client.post(f"{base}/retrieved", data={"lot": site.a, "qty": "6", "from": "site:A-01"}).status_code == 303
    html = client.get(base).get_data(as_text=True)
    assert f"Lot {site.a}: 6 more retrieved" in html and 'data-retrieved="10"' in html
    assert "<strong class=\"mono\">Q-DOCK</strong> 10" in html
    with _db(client).read() as s:
        lot_id = s.scalar(select(Lot.id).where(Lot.lot_number == site.a))
        kinds = s.execute(select(Movement.kind, Movement.qty).where(Movement.lot_id == lot_id,
                                                                   Movement.reference == f"recall {number}")
                          .order_by(Movement.id)).all()
        assert [tuple(k) for k in kinds] == [(MovementKind.RETURN, 4), (MovementKind.MOVE, 6)]
        assert_books_balance(s)
