"""What a person on the floor does, as plain functions over a Flask test client (in the spirit of
flaskr's AuthActions): sign in, bind the device to a station, scan, print a lot's labels.

    from actions import scan, scanner, print_label

    floor.sign_in("picker")                       # the `floor` fixture (tests/conftest.py) holds a client
    floor.bind("Dock 1")
    floor.scan("LOT:260615-001", url="/move/scan")
    floor.print_label(lot, printer="dock-zebra")

    scan = scanner("/line/scan", text=True)       # at a page test file's top: its scan(client, code)
    banner(answer) -> ("ok", "Moved: ...")        # a scan answer's banner; text_of(page) its visible text
    Api(client, token).post("/receipts", {...})   # the JSON API as an integrator calls it

A scan is posted the way static/station.js posts it (a form with code, client_id, station and source,
and the HX-Request header), so a test goes through the same intake as a scanner does.
"""
from __future__ import annotations

import functools
import html
import itertools
import re
import uuid

_ids = itertools.count(1)


# --- who is on the floor, and at which station -------------------------------------------------


def new_operator(app, role, badge: str | None = None, name: str | None = None):
    """An active operator of `role` (a Role or its value, e.g. "picker"; no PIN) in the app's database,
    as the FloorOperator a signed-in session holds."""
    from station.auth import FloorOperator
    from station.models import Operator, Role

    role = Role(role)
    badge = badge or f"T-{role.value}-{uuid.uuid4().hex[:6]}"
    with app.extensions["station.db"].write() as s:
        op = Operator(badge=badge, name=name or f"Test {role.value.replace('_', ' ')}", role=role)
        s.add(op)
        s.flush()
        return FloorOperator(op.id, op.badge, op.name, role)


def sign_in(client, role, badge: str | None = None, name: str | None = None):
    """Sign the test client in as a new operator of `role`, as if their badge had been scanned
    (a real floor_sessions row; the cookie carries its secret). Returns the FloorOperator."""
    from station.auth import SESSION_KEY, start_session

    op = new_operator(client.application, role, badge, name)
    secret = start_session(client.application.extensions["station.db"], op.id)
    with client.session_transaction() as session:
        session[SESSION_KEY] = {"s": secret}
    return op


def bind_station(client, name: str = "Test station", location_id: int | None = None,
                 printer_id: int | None = None) -> int:
    """Bind the test client's device to station `name` (created when missing), as /setup does;
    returns the station's id."""
    from sqlalchemy import select

    from station.auth import STATION_COOKIE, station_cookie_value
    from station.models import StationDevice

    with client.application.extensions["station.db"].write() as s:
        row = s.scalar(select(StationDevice).where(StationDevice.name == name))
        if row is None:
            row = StationDevice(name=name, location_id=location_id, printer_id=printer_id)
            s.add(row)
            s.flush()
        station_id = row.id
    with client.application.test_request_context():  # signed with the app's key, as set-up does
        client.set_cookie(STATION_COOKIE, station_cookie_value(name))
    return station_id


# --- scanning and printing -----------------------------------------------------------------------


def new_client_id() -> str:
    """A client id like station.js makes one: unique per scan, so the intake never takes two scans
    for one (a test that means a resend passes the same id twice)."""
    return f"test-{next(_ids):08d}-{uuid.uuid4().hex[:16]}"


def scan(client, code: str, url: str = "/scan", *, source: str = "wedge", client_id: str | None = None,
         station: str = "", status: int | None = None, text: bool = False):
    """POST one scan to a page's scan URL as station.js does; returns the response.

    status: assert the answer's status first (the answer's HTML is the assertion message).
    text: return the answer's HTML instead of the response (asserting status 200 unless told)."""
    data = {"code": code, "client_id": client_id or new_client_id(), "station": station,
            "source": source}
    response = client.post(url, data=data, headers={"HX-Request": "true"})
    if status is not None or text:
        expected = 200 if status is None else status
        assert response.status_code == expected, response.text
    return response.text if text else response


def scanner(url: str, **defaults):
    """scan() bound to one page's scan URL and defaults: `scan = scanner("/move/scan", text=True)`
    gives a test file its `scan(client, code, ...)`."""
    return functools.partial(scan, url=url, **defaults)


def print_label(client, lot: str, printer: str | None = None, copies: int | str = 1,
                request_id: str | None = None):
    """Tap the lot card's print button (POST /printers/lot-print, as htmx does); returns the response,
    whose HTML is the new job's state line (or the form again, with the refusal in words)."""
    data = {"lot": lot, "copies": str(copies), "request_id": request_id or uuid.uuid4().hex}
    if printer is not None:
        data["printer"] = printer
    return client.post("/printers/lot-print", data=data, headers={"HX-Request": "true"})


# --- reading an answer ---------------------------------------------------------------------------


def banner(answer: str) -> tuple[str, str]:
    """(kind, message) of a scan answer's banner: kind is ok, info, warn or error; the message is its
    HTML with whitespace collapsed (entities kept, so a test names the text as the page sends it)."""
    kind = re.search(r'class="banner banner--(\w+)', answer).group(1)
    message = re.search(r'<p class="banner__message">(.*?)</p>', answer, re.S).group(1)
    return kind, " ".join(message.split())


def text_of(body: str) -> str:
    """A page's visible text: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


class Api:
    """The JSON API as an integrator calls it: paths under /api/v1 with the token's bearer header.
    A POST's body defaults to {} (a JSON object, what every write route takes)."""

    def __init__(self, client, token: str) -> None:
        self.client, self.token = client, token
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **options):
        return self.client.get("/api/v1" + path, headers=self.headers, **options)

    def post(self, path: str, json=None, **options):
        return self.client.post("/api/v1" + path, json={} if json is None else json, headers=self.headers,
                                **options)

    def delete(self, path: str, **options):
        return self.client.delete("/api/v1" + path, headers=self.headers, **options)


class Floor:
    """A test client used as an operator uses a station: the `floor` fixture.

    floor.sign_in("receiver"); floor.bind("Dock 1"); floor.scan(code, url="/receive/scan")"""

    def __init__(self, client, url: str = "/scan") -> None:
        self.client = client
        self.url = url  # where scan() posts unless told

    def sign_in(self, role="picker", badge: str | None = None, name: str | None = None):
        return sign_in(self.client, role, badge, name)

    def bind(self, station: str = "Test station", location_id: int | None = None,
             printer_id: int | None = None) -> int:
        return bind_station(self.client, station, location_id, printer_id)

    def scan(self, code: str, url: str | None = None, **options):
        return scan(self.client, code, url or self.url, **options)

    def print_label(self, lot: str, printer: str | None = None, copies: int | str = 1,
                    request_id: str | None = None):
        return print_label(self.client, lot, printer, copies, request_id)

    def get(self, path: str, **options):
        return self.client.get(path, **options)
