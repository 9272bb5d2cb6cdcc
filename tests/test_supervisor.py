"""The supervisor hub: tiles by role (only pages that exist), counts at a glance exact."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from factories import TODAY, basic_site, received_lot
from station.models import LotStatus, Recall, RecallStatus
from station.services import holds
from station.views.supervisor import TILES

D = dt.timedelta


def _tiles(html: str) -> list[str]:
    return [part.split("<")[0] for part in html.split('<span class="tile__title">')[1:]]


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisors_and_admins_see_the_tiles_of_pages_that_exist(app, client, signed_in, role):
    signed_in(client, role)
    answer = client.get("/supervisor")
    assert answer.status_code == 200
    expected = [t.title for t in TILES if t.endpoint in app.view_functions]
    assert _tiles(answer.get_data(as_text=True)) == expected
    # The pages this hub was built with are always there.
    assert {"Expiry", "Audit trail", "Pick overrides", "Scan log", "Printers"} <= set(expected)


@pytest.mark.parametrize("role", ["receiver", "picker", "line_operator"])
def test_floor_roles_are_refused_in_words(client, signed_in, role):
    signed_in(client, role)
    answer = client.get("/supervisor")
    assert answer.status_code == 403 and "is for supervisors" in answer.get_data(as_text=True)


def test_signed_out_goes_to_sign_in(client):
    answer = client.get("/supervisor")
    assert answer.status_code == 302 and "/signin" in answer.headers["Location"]


def test_the_home_tile_leads_here(client, signed_in):
    signed_in(client, "supervisor")
    assert 'href="/supervisor"' in client.get("/").get_data(as_text=True)


def test_counts_at_a_glance_are_exact(app, client, signed_in, monkeypatch):
    db = app.extensions["station.db"]
    monkeypatch.setattr("station.clock.today", lambda: TODAY)
    basic_site(db)
    with db.write() as s:
        def lot(expiry):
            return received_lot(s, "MILK", 5, expiry=expiry, on=TODAY - D(days=30))

        holds.hold(s, lot(TODAY + D(days=40)), "QA check")
        holds.hold(s, lot(TODAY + D(days=40)), "lab sample", status=LotStatus.QUARANTINE)
        lot(TODAY - D(days=1))  # expired (not marked yet), still in stock
        lot(TODAY)  # expiring within 7 days
        lot(TODAY + D(days=7))  # the 7th day counts
        lot(TODAY + D(days=8))  # not yet
        opened = lot(TODAY + D(days=90))
        s.add_all([Recall(number="R-1", reason="supplier warning", lot_id=opened.id),
                   Recall(number="R-2", reason="done", lot_id=opened.id, status=RecallStatus.CLOSED,
                          closed_at=dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))])
    signed_in(client, "supervisor")
    html = client.get("/supervisor").get_data(as_text=True)

    def count(key):
        cell = html.split(f'data-count="{key}"')[1].split('class="fact__big">')[1].split("</dd>")[0]
        return int(re.sub(r"<[^>]*>", "", cell).strip())

    assert {k: count(k) for k in ("on_hold", "expired_in_stock", "expiring_soon", "open_recalls")} == \
        {"on_hold": 2, "expired_in_stock": 1, "expiring_soon": 2, "open_recalls": 1}
