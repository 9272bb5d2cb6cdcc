"""Hold, quarantine and release from the lot card (views/lots.py: action_panel, act), through the Flask
test client on both backends: only supervisors and admins, always with a reason, recorded with who."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from station import clock
from station.models import LocationKind, LotEvent, LotStatus
from station.services import catalog, holds, receiving
from actions import text_of

HX = {"HX-Request": "true"}


@pytest.fixture
def lot_number(db) -> str:
    """An available lot with stock at the dock."""
    with db.write() as s:
        item = catalog.create_item(s, sku="YOG-500", name="Greek yoghurt 500 g", unit="cup", shelf_life_days=20)
        dock = catalog.create_location(s, code="DOCK-1", kind=LocationKind.DOCK)
        lot = receiving.receive(s, item=item, qty=120, location=dock, produced=clock.today())
        return lot.lot_number


def state(db, number: str) -> tuple[LotStatus, int]:
    with db.read() as s:
        lot = catalog.lot_by_number(s, number)
        return lot.status, s.scalar(select(func.count()).select_from(LotEvent).where(LotEvent.lot_id == lot.id))


def events(db, number: str) -> list[tuple[str, str, str, int | None, int | None]]:
    with db.read() as s:
        lot = catalog.lot_by_number(s, number)
        rows = s.scalars(select(LotEvent).where(LotEvent.lot_id == lot.id).order_by(LotEvent.id)).all()
        return [(e.action, e.to_status.value, e.reason, e.operator_id, e.station_id) for e in rows]


def post(client, action: str, lot: str, reason: str = "", note: str = ""):
    return client.post(f"/lots/actions/{action}", data={"lot": lot, "reason": reason, "note": note}, headers=HX)


def test_supervisor_sees_the_actions_on_the_card_and_others_do_not(client, signed_in, lot_number):
    assert "lot-action" not in client.get(f"/lots/{lot_number}", headers=HX).text  # signed out
    signed_in(client, "picker")
    assert "data-lot-action" not in client.get(f"/lots/{lot_number}", headers=HX).text
    signed_in(client, "supervisor")
    body = client.get(f"/lots/{lot_number}", headers=HX).text
    assert re.findall(r'data-lot-action="(\w+)"', body) == ["hold", "quarantine"]  # available: no release


def test_the_reason_form_offers_presets_a_note_confirm_and_cancel(client, signed_in, lot_number):
    signed_in(client, "admin")
    body = client.get(f"/lots/actions/hold?lot={lot_number}&reason=Damaged", headers=HX).text
    page = text_of(body)
    assert f"Hold lot {lot_number} — why?" in page
    for preset in ("QA check", "Customer complaint", "Damaged", "Supplier notice"):
        assert preset in page
    assert re.search(r'aria-pressed="true"[^>]*>Damaged<', body)
    assert 'name="note"' in body and 'data-command="confirm"' in body and 'data-command="cancel"' in body
    assert 'name="reason" value="Damaged"' in body
    closed = client.get(f"/lots/actions/none?lot={lot_number}", headers=HX).text
    assert re.findall(r'data-lot-action="(\w+)"', closed) == ["hold", "quarantine"]


def test_supervisor_holds_with_a_reason_recorded_with_who_and_where(client, db, signed_in, bound_station,
                                                                    lot_number):
    op = signed_in(client, "supervisor", name="Priya Natarajan")
    station_id = bound_station(client, "Dock tablet 1")
    response = post(client, "hold", lot_number, "QA check", "lid seals")
    assert response.status_code == 200
    page = text_of(response.text)
    assert f"Lot {lot_number} is on hold — QA check — lid seals" in page
    assert "banner--ok" in response.text and 'data-status="hold"' in response.text
    assert "Hold available → hold Priya Natarajan QA check — lid seals" in page  # the history row
    assert state(db, lot_number)[0] is LotStatus.HOLD
    assert events(db, lot_number) == [("hold", "hold", "QA check — lid seals", op.id, station_id)]


def test_quarantine_then_release(client, db, signed_in, lot_number):
    op = signed_in(client, "admin")
    assert post(client, "quarantine", lot_number, "Lab test pending").status_code == 200
    assert state(db, lot_number)[0] is LotStatus.QUARANTINE
    body = client.get(f"/lots/{lot_number}", headers=HX).text
    assert re.findall(r'data-lot-action="(\w+)"', body) == ["hold", "release"]
    response = post(client, "release", lot_number, "QA passed")
    assert response.status_code == 200
    assert f"Lot {lot_number} is released and available again — QA passed" in text_of(response.text)
    assert state(db, lot_number)[0] is LotStatus.AVAILABLE
    assert [e[:4] for e in events(db, lot_number)] == [
        ("quarantine", "quarantine", "Lab test pending", op.id), ("release", "available", "QA passed", op.id)]


def test_a_note_alone_is_a_reason(client, db, signed_in, lot_number):
    signed_in(client, "supervisor")
    assert post(client, "hold", lot_number, note="Pallet wrap torn").status_code == 200
    assert events(db, lot_number)[0][2] == "Pallet wrap torn"


def test_picker_gets_403_and_nothing_changes(client, db, signed_in, lot_number):
    signed_in(client, "picker")
    response = post(client, "hold", lot_number, "QA check")
    assert response.status_code == 403
    assert "banner--error" in response.text and "is for supervisors" in text_of(response.text)
    assert client.get(f"/lots/actions/hold?lot={lot_number}", headers=HX).status_code == 403
    assert state(db, lot_number) == (LotStatus.AVAILABLE, 0)


def test_signed_out_is_sent_to_sign_in_and_nothing_changes(client, db, lot_number):
    response = post(client, "hold", lot_number, "QA check")
    assert response.status_code == 401 and "/signin" in response.headers["HX-Redirect"]
    assert state(db, lot_number) == (LotStatus.AVAILABLE, 0)


@pytest.mark.parametrize("reason, note", [("", ""), ("  ", " \t ")])
def test_empty_reason_is_refused_and_the_form_stays_open(client, db, signed_in, lot_number, reason, note):
    signed_in(client, "supervisor")
    response = post(client, "hold", lot_number, reason, note)
    assert response.status_code == 422
    assert "banner--error" in response.text
    assert f"Pick a reason for the hold of lot {lot_number}, or write one — nothing changed." in text_of(response.text)
    assert 'data-command="confirm"' in response.text  # still asking
    assert state(db, lot_number) == (LotStatus.AVAILABLE, 0)


def test_release_of_an_available_lot_is_refused(client, db, signed_in, lot_number):
    signed_in(client, "supervisor")
    response = post(client, "release", lot_number, "QA passed")
    assert response.status_code == 409
    assert (f"Lot {lot_number} is available, not on hold; nothing to release. Nothing changed."
            in text_of(response.text))
    assert "banner--error" in response.text and 'data-status="available"' in response.text
    assert state(db, lot_number) == (LotStatus.AVAILABLE, 0)


def test_hold_of_a_recalled_lot_is_refused(client, db, signed_in, lot_number):
    with db.write() as s:
        catalog.lot_by_number(s, lot_number).status = LotStatus.RECALLED
    signed_in(client, "supervisor")
    assert "data-lot-action" not in client.get(f"/lots/{lot_number}", headers=HX).text
    response = post(client, "hold", lot_number, "QA check")
    assert response.status_code == 409
    assert "is recalled; the recall keeps it stopped. Nothing changed." in text_of(response.text)
    assert state(db, lot_number) == (LotStatus.RECALLED, 0)


def test_holding_a_held_lot_again_is_refused(client, db, signed_in, lot_number):
    with db.write() as s:
        holds.hold(s, catalog.lot_by_number(s, lot_number), "Earlier hold")
    signed_in(client, "supervisor")
    response = post(client, "hold", lot_number, "QA check")
    assert response.status_code == 409 and f"Lot {lot_number} is already on hold." in text_of(response.text)
    assert state(db, lot_number) == (LotStatus.HOLD, 1)


def test_unknown_lot_is_refused_in_words(client, signed_in):
    signed_in(client, "supervisor")
    response = post(client, "hold", "NOPE-1", "QA check")
    assert response.status_code == 404 and "No lot 'NOPE-1'" in text_of(response.text)


def test_command_barcodes_in_the_note_confirm_or_cancel(client, db, signed_in, lot_number):
    signed_in(client, "supervisor")
    response = post(client, "hold", lot_number, "Damaged", "cmd:cancel")
    assert response.status_code == 200 and "banner" not in response.text.split('id="lot-card"')[0]
    assert state(db, lot_number) == (LotStatus.AVAILABLE, 0)
    assert post(client, "hold", lot_number, "Damaged", "]C0CMD:CONFIRM").status_code == 200
    assert events(db, lot_number)[0][2] == "Damaged"


def test_a_command_scanned_into_the_lookup_goes_to_the_open_form(client, signed_in, lot_number):
    signed_in(client, "supervisor")
    response = client.get("/lots/card?lot=CMD:CONFIRM", headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Reswap"] == "none" and response.headers["HX-Trigger"] == "lot-action-confirm"


def test_without_htmx_the_answer_is_the_whole_page(client, db, signed_in, lot_number):
    signed_in(client, "supervisor")
    response = client.post("/lots/actions/hold", data={"lot": lot_number, "reason": "Supplier notice"})
    assert response.status_code == 200 and "<html" in response.text
    assert f"Lot {lot_number} is on hold — Supplier notice" in text_of(response.text)


def test_the_reason_and_lot_number_are_escaped_in_the_banner(client, db, signed_in, lot_number):
    signed_in(client, "supervisor")
    response = post(client, "hold", lot_number, note="<b>x</b>")
    assert "&lt;b&gt;x&lt;/b&gt;" in response.text and "<b>x</b>" not in response.text
