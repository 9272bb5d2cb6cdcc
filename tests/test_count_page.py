"""The count page and the supervisor's approvals through the test client (SQLite and PostgreSQL): the
count's taps and refusals, a count that is one's own (no buttons, and a POST refused with nothing
booked), a rejection without a note, an abandoned open count cancelled by a supervisor, who may use what."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from actions import banner, scanner, text_of
from station.models import Count, CountStatus, Movement, MovementKind, Stock

scan = scanner("/count/scan", text=True)


@pytest.fixture
def site(site):
    site.lot("cake", "CAKE", 12, location="A-02")
    return site


def books(database) -> tuple:
    with database.read() as s:
        return (sorted(s.execute(select(Stock.lot_id, Stock.location_id, Stock.qty)).all()),
                s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == MovementKind.COUNT)))


def statuses(database) -> list[CountStatus]:
    with database.read() as s:
        return list(s.scalars(select(Count.status).order_by(Count.id)))


def count_cake(client, site, qty: str) -> None:
    assert banner(scan(client, "LOC:A-02"))[0] == "ok"
    assert banner(scan(client, f"LOT:{site['cake']}"))[0] == "ok"
    client.post("/count/qty", data={"qty": qty})
    client.post("/count/done")
    lines = client.get("/count").text
    line = lines.split('name="line" value="')[1].split('"')[0]
    client.post("/count/reason", data={"line": line, "reason": "Damaged"})
    client.post("/count/finish")


def test_the_page_refuses_bad_input_in_words_and_changes_nothing(client, site, database, signed_in, bound_station):
    signed_in(client, "picker", name="Pat Picker")
    bound_station(client, "Aisle tablet")
    page = client.get("/count")
    assert page.status_code == 200 and 'data-scan-url="/count/scan"' in page.text
    assert "Scan the location to count" in page.text
    assert banner(scan(client, "LOC:NOWHERE"))[0] == "error"
    assert banner(scan(client, "LOC:A-02")) == ("ok", "Counting A-02: 1 lot or pallet on the books there.")
    scan(client, f"LOT:{site['cake']}")
    before = books(database)
    for bad, words in (("-3", "The count must be a number like 12"), ("12abc", "The count must be a number like 12"),
                       ("", "Key how many first"), ("9" * 12, "The count must be a number 0 or more, at most")):
        client.post("/count/qty", data={"qty": bad})
        assert words in text_of(client.get("/count").text)
    client.post("/count/not-here", data={"line": "not-a-line"})
    client.post("/count/reason", data={"line": "99999999999", "reason": "Damaged"})
    assert books(database) == before and statuses(database) == [CountStatus.OPEN]
    assert "How many do you count?" in client.get("/count").text  # still keying the cake


def test_a_supervisor_decides_others_counts_never_their_own(app, site, database, signed_in, bound_station):
    own = app.test_client()
    signed_in(own, "supervisor", name="Sam Super")
    bound_station(own, "Aisle tablet")
    count_cake(own, site, "0")  # 12 missing > 10: waits
    assert statuses(database) == [CountStatus.PENDING]
    page = own.get("/count/pending").text
    assert "Your own count — another supervisor approves or rejects it." in page and "Approve —" not in page
    before = books(database)
    refused = own.post("/count/1/approve")
    assert refused.status_code == 409 and "your own count" in text_of(refused.text)
    assert books(database) == before and statuses(database) == [CountStatus.PENDING]

    other = app.test_client()
    signed_in(other, "supervisor", name="Sue Boss")
    no_note = other.post("/count/1/reject", data={"note": "  "})
    assert no_note.status_code == 422 and "Say why the count is rejected" in text_of(no_note.text)
    assert statuses(database) == [CountStatus.PENDING]
    done = other.post("/count/1/approve")
    assert done.status_code == 200 and "Count 1 of A-02 approved — its differences are booked." in text_of(done.text)
    assert books(database)[1] == 1 and statuses(database) == [CountStatus.BOOKED]
    again = other.post("/count/1/approve")
    assert again.status_code == 409 and books(database)[1] == 1


def test_an_abandoned_count_keeps_others_out_until_a_supervisor_cancels_it(app, site, database, signed_in,
                                                                           bound_station):
    first = app.test_client()
    signed_in(first, "picker", name="Pat Picker")
    bound_station(first, "Tablet 1")
    scan(first, "LOC:A-02")
    second = app.test_client()
    signed_in(second, "receiver", name="Rae Receiver")
    bound_station(second, "Tablet 2")
    kind, message = banner(scan(second, "LOC:A-02"))
    assert kind == "error" and message.startswith("A-02 is being counted by Pat Picker since")
    assert second.get("/count/pending").status_code == 403  # a supervisor's page
    assert second.post("/count/1/cancel").status_code == 403
    boss = app.test_client()
    signed_in(boss, "supervisor", name="Sue Boss")
    assert "Counts still open" in boss.get("/count/pending").text
    cancelled = boss.post("/count/1/cancel")
    assert "Count 1 of A-02 cancelled — nothing was booked." in text_of(cancelled.text)
    assert banner(scan(second, "A-02"))[0] == "ok"  # (not LOC:A-02 again: a bounce)
    assert statuses(database) == [CountStatus.CANCELLED, CountStatus.OPEN]
