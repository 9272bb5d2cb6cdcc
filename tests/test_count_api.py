"""POST /api/v1/counts, GET /api/v1/counts(/<id>), approve and reject on SQLite and PostgreSQL: the count
page's rules and words as JSON; refusals change nothing; retries by request_id book nothing twice; the
routes are in the OpenAPI document."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from factories import assert_books_balance
from station.api import count_views, openapi  # noqa: F401 - fill the route registry
from station.models import Count, Movement, MovementKind, Role, Stock
from station.services.tokens import create_token

SSCC = "376130321109103420"


@pytest.fixture
def db(app):
    return app.extensions["station.db"]


@pytest.fixture
def site(site):
    """At A-01: MILK 40 ("milk") and a pallet of 120 BOLT ("pallet"); CAKE 12 at A-02 ("cake")."""
    site.lot("milk", "MILK", 40, location="A-01")
    site.lot("pallet", "BOLT", 120, location="A-01", sscc=SSCC)
    site.lot("cake", "CAKE", 12, location="A-02")
    return site


def caller(client, db, role: Role, name: str):
    with db.write() as s:
        secret = create_token(s, name, role)
    headers = {"Authorization": f"Bearer {secret}"}

    class Call:
        def post(self, path, body):
            return client.post("/api/v1" + path, json=body, headers=headers)

        def get(self, path):
            return client.get("/api/v1" + path, headers=headers)

    return Call()


@pytest.fixture
def picker(client, db, site):
    return caller(client, db, Role.PICKER, "scanner-app")


@pytest.fixture
def boss(client, db, site):
    return caller(client, db, Role.SUPERVISOR, "erp")


def books(db) -> tuple:
    with db.read() as s:
        return (sorted(s.execute(select(Stock.lot_id, Stock.location_id, Stock.qty)).all()),
                s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == MovementKind.COUNT)),
                s.scalar(select(func.count()).select_from(Count)))


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()["error"]
    assert body["code"] == code, body
    return body


def test_a_count_in_one_request_books_its_differences_and_a_retry_books_nothing_twice(picker, site, db):
    body = {"location": "A-01", "request_id": "count-a01-0001", "lines": [
        {"lot": site["milk"], "qty": 37, "reason": "Damaged"},
        {"sscc": SSCC, "qty": 120},
        {"lot": site["cake"], "qty": 2, "reason": "In the wrong place"}]}
    first = picker.post("/counts", body)
    assert first.status_code == 201, first.get_json()
    out = first.get_json()
    assert (out["status"], out["location"], out["counted_by"]) == ("booked", "A-01", "API: scanner-app")
    assert [(line["lot_number"], line["sscc"], line["expected"], line["counted"], line["difference"])
            for line in out["lines"]] == [(site["milk"], None, "40", "37", "-3"),
                                          (site["pallet"], SSCC, "120", "120", "0"), (site["cake"], None, "0", "2", "2")]
    before = books(db)
    again = picker.post("/counts", body)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == out and books(db) == before
    with db.read() as s:
        reasons = s.scalars(select(Movement.reason).where(Movement.kind == MovementKind.COUNT).order_by(Movement.id))
        assert list(reasons) == [f"count {out['id']}: 40 → 37, Damaged", f"count {out['id']}: 0 → 2, In the wrong place"]
        assert_books_balance(s)
    assert picker.get(f"/counts/{out['id']}").get_json() == out


@pytest.mark.parametrize("lines, status, code, field", [
    ([{"lot": "NOPE", "qty": 1}], 422, "unknown_lot", "lines[0].lot"),
    ([{"sscc": "376130321109103437", "qty": 1}], 422, "unknown_sscc", "lines[0].sscc"),
    ([{"lot": "X", "sscc": SSCC, "qty": 1}], 422, "invalid", None),
    ([{"lot": "X", "qty": -1}], 422, "invalid", None),
    ("first", 422, "not_counted", None),  # the pallet is on the books and not listed
    ("no reason", 422, "reason_required", None),
    ("twice", 422, "duplicate_line", "lines[1]"),
])
def test_bad_counts_are_refused_in_words_and_change_nothing(picker, site, db, lines, status, code, field):
    if lines == "first":
        lines = [{"lot": site["milk"], "qty": 40}]
    elif lines == "no reason":
        lines = [{"lot": site["milk"], "qty": 39}, {"sscc": SSCC, "qty": 120}]
    elif lines == "twice":
        lines = [{"lot": site["milk"], "qty": 40}, {"lot": site["milk"], "qty": 40}]
    before = books(db)
    refused = error(picker.post("/counts", {"location": "A-01", "lines": lines}), status, code)
    if field:
        assert refused.get("field") == field, refused
    assert refused["message"] and books(db) == before


def test_above_the_threshold_it_waits_and_only_another_supervisor_decides(picker, boss, site, db, client):
    out = picker.post("/counts", {"location": "A-02", "lines": [{"lot": site["cake"], "qty": 0,
                                                                 "reason": "Taken without a scan"}]}).get_json()
    assert out["status"] == "pending"
    assert [c["id"] for c in picker.get("/counts?status=pending").get_json()["data"]] == [out["id"]]
    refused = error(picker.post(f"/counts/{out['id']}/approve", {}), 403, "forbidden")
    assert "Approving a count needs a supervisor or an admin token" in refused["message"]

    own = caller(client, db, Role.SUPERVISOR, "lead")
    counted = own.post("/counts", {"location": "A-01", "lines": [{"lot": site["milk"], "qty": 1, "reason": "Damaged"},
                                                                 {"sscc": SSCC, "qty": 120}]}).get_json()
    error(own.post(f"/counts/{counted['id']}/approve", {}), 409, "own_count")

    error(boss.post(f"/counts/{out['id']}/reject", {}), 422, "note_required")
    approved = boss.post(f"/counts/{out['id']}/approve", {"note": "Seen it", "request_id": "approve-0001"})
    assert approved.status_code == 200, approved.get_json()
    assert (approved.get_json()["status"], approved.get_json()["decided_by"]) == ("booked", "API")
    assert boss.post(f"/counts/{out['id']}/approve", {"note": "Seen it", "request_id": "approve-0001"}).get_json() \
        == approved.get_json()
    error(boss.post(f"/counts/{out['id']}/approve", {}), 409, "count_not_pending")
    rejected = boss.post(f"/counts/{counted['id']}/reject", {"note": "Count it again"}).get_json()
    assert (rejected["status"], rejected["decision_note"]) == ("rejected", "Count it again")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == MovementKind.COUNT)) == 1
        assert_books_balance(s)
    error(boss.get("/counts/999999"), 404, "unknown_count")


def test_an_open_count_goes_on_with_the_next_request_and_pages_walk_back(picker, site, db):
    opened = picker.post("/counts", {"location": "A-01", "finish": False,
                                     "lines": [{"lot": site["milk"], "qty": 40}]}).get_json()
    assert opened["status"] == "open" and [line["counted"] for line in opened["lines"]] == ["40", None]
    done = picker.post("/counts", {"location": "A-01", "lines": [{"sscc": SSCC, "qty": 120}]}).get_json()
    assert (done["id"], done["status"]) == (opened["id"], "booked")
    picker.post("/counts", {"location": "A-02", "lines": [{"lot": site["cake"], "qty": 12}]})
    first = picker.get("/counts?limit=1").get_json()
    assert len(first["data"]) == 1 and first["next_cursor"]
    second = picker.get(f"/counts?limit=1&cursor={first['next_cursor']}").get_json()
    assert second["data"][0]["id"] == opened["id"] and second["next_cursor"] is None
    error(picker.get("/counts?status=lost"), 422, "invalid")


def test_the_count_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/counts"])
    assert "post" in paths["/api/v1/counts/{count_id}/approve"] and "post" in paths["/api/v1/counts/{count_id}/reject"]
