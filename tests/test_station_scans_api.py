"""POST /api/v1/stations/<name>/scans: an integrator or a headless station drives a workflow step by step.

The scan goes through the one intake (station/workflows/intake.py) with the state the station holds,
so the API, the station's page and its own scanner work on the same move; on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from station.models import Movement, Role, Scan
from station.services.tokens import create_token

SSCC = "376130321109103420"
PATH = "/api/v1/stations/Dock 1/scans"


@pytest.fixture
def site(site):
    site.lot("pallet", "BOLT", 120, location="DOCK", sscc=SSCC)
    site.station("Dock 1", location="DOCK")
    with site.write() as s:
        site["tokens"] = {role: {"Authorization": "Bearer " + create_token(s, f"api {role.value}", role)}
                          for role in (Role.PICKER, Role.LINE_OPERATOR, Role.SUPERVISOR)}
    return site


def drive(client, site, code: str, role=Role.PICKER, path: str = PATH, **body):
    return client.post(path, json={"code": code, **body}, headers=site["tokens"][role])


def moved(site) -> list[tuple[int, int | None]]:
    with site.read() as s:
        return list(s.execute(select(Movement.qty, Movement.token_id).where(Movement.kind == "move")))


def test_a_pallet_is_put_away_by_two_scans_and_the_answers_say_what_happened(client, site):
    first = drive(client, site, SSCC, workflow="putaway", client_id="api-move-0001")
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["workflow"] == "putaway" and body["answer"]["kind"] == "ok" and not body["retried"]
    assert body["state"] == {"sscc": SSCC} and body["resolution"]["kind"] == "sscc"
    second = drive(client, site, "LOC:A-01", client_id="api-move-0002")  # the workflow now open there
    assert second.status_code == 200
    answer = second.get_json()["answer"]
    assert answer["kind"] == "ok" and "Moved" in answer["message"], answer
    assert second.get_json()["state"] == {}
    [(qty, token_id)] = moved(site)
    assert qty == 120 and token_id is not None  # the token wrote it

    again = drive(client, site, "LOC:A-01", client_id="api-move-0002")  # the answer was lost: sent again
    assert again.get_json()["retried"] is True and again.get_json()["answer"] == answer
    assert len(moved(site)) == 1


def test_a_role_may_drive_only_its_own_workflows(client, site):
    refused = drive(client, site, SSCC, role=Role.LINE_OPERATOR, workflow="picking")
    assert refused.status_code == 403 and "line_operator token may not use the picking workflow" in refused.text
    assert drive(client, site, SSCC, role=Role.PICKER, workflow="receiving").status_code == 403
    with site.read() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 0  # refused before anything was logged


def test_bad_requests_are_refused_in_words_and_log_nothing(client, site):
    none_open = drive(client, site, SSCC)
    assert none_open.status_code == 409 and "No workflow is open at station 'Dock 1'" in none_open.text
    nowhere = drive(client, site, SSCC, path="/api/v1/stations/Nowhere/scans", workflow="putaway")
    assert nowhere.status_code == 404 and "no station called 'Nowhere'" in nowhere.text
    assert drive(client, site, "x" * 20_000, workflow="putaway").status_code == 422  # not a barcode
    assert drive(client, site, SSCC, workflow="shipping").status_code == 422
    assert drive(client, site, SSCC, workflow="putaway", client_id="short").status_code == 422
    assert client.post(PATH, json={"code": SSCC, "workflow": "putaway"}).status_code == 401
    with site.read() as s:
        assert s.scalar(select(func.count()).select_from(Scan)) == 0


def test_the_openapi_document_describes_it(client, site):
    doc = client.get("/api/v1/openapi.json").get_json()
    post = doc["paths"]["/api/v1/stations/{name}/scans"]["post"]
    assert {"200", "403", "404", "409", "422"} <= set(post["responses"])
    schema = doc["components"]["schemas"]["StationScanOut"]["properties"]
    assert {"answer", "state", "workflow", "resolution"} <= set(schema)


def test_the_page_open_at_the_station_shows_what_the_api_did(client, site, signed_in, bound_station):
    """An API scan applied to the station's workflow is in the station feed like one of its scanner's: the
    page there fetches its answer (a wedge scan the page made itself is not listed)."""
    with site.write() as s:
        from station.models import StationDevice

        s.scalar(select(StationDevice).where(StationDevice.name == "Dock 1")).scanner_url = "sim://dock-api-test"
    page = client.application.test_client()
    signed_in(page, "picker")
    bound_station(page, "Dock 1")
    assert page.get("/move").status_code == 200
    page.post("/move/scan", data={"code": "LOC:A-01", "client_id": "page-wedge-0001"}, headers={"HX-Request": "true"})
    sent = drive(client, site, SSCC, client_id="api-move-0101").get_json()  # the page's workflow: put-away
    assert sent["workflow"] == "putaway", sent
    feed = page.get("/scan/station-feed", query_string={"station": "Dock 1", "after": 0}).get_json()
    assert [a["id"] for a in feed["applied"]] == [sent["scan_id"]] and feed["scans"] == []
    shown = page.get(feed["applied"][0]["answer_url"], headers={"HX-Request": "true"})
    assert shown.status_code == 200 and SSCC in shown.text
