"""Scans posted to the API act only through the station's own agent token, and never with more rights
than the operator signed in at the station (issue 13, point 3).

Real processes: `station run` serves a SQLite database; the tokens are made with `station token create`;
a headless Chromium is signed in as a picker at "Dock PC" (scanner agent://) with an order open. Then:

- a line operator's token and an admin's token post the lot of line 2 and CMD:CONFIRM to the station:
  both are refused with 403 in words, nothing is logged, and the page picks and ships nothing;
- the station's agent token posts the lots: the page picks them as the picker (the ledger rows carry
  the picker, no token), and its CMD:CONFIRM presses the page's own Ship button, as the picker;
- another station's agent token is refused (403 "not the agent token of station 'Dock PC'");
- a supervisor's badge from the agent signs no one in without the PIN: the page goes to the PIN step.

Before agent tokens, the line operator's token picked the order through the picker's page.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from factories import basic_site, order, received_lot
from station.agent import AGENT_SCANNER_URL
from station.db import Database
from station.models import Movement, Operator, Order, Scan, StationDevice
from station.schema import upgrade
from station.services import catalog
from station.services.pins import hash_pin
from test_server import free_port, wait_for


STATION_EXE = str(Path(sys.executable).with_name("station"))
STATION = "Dock PC"
PICKER_BADGE, SUPERVISOR_BADGE, PIN = "OP-2002", "OP-5005", "4711"


def _station_cli(env: dict, *args: str) -> str:
    done = subprocess.run([STATION_EXE, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def _post_scan(base: str, token: str, code: str, client_id: str, station: str = STATION) -> tuple[int, dict]:
    body = json.dumps({"station": station, "client_id": client_id, "code": code,
                       "source": "serial:///dev/ttyACM0"}).encode()
    request = urllib.request.Request(f"{base}/api/v1/scans", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


@pytest.fixture
def site(tmp_path):
    """A migrated SQLite site with the order, the operators and the agent:// station; the tokens made by
    the `station` command; `station run` serving it."""
    url = f"sqlite:///{tmp_path / 'station.sqlite'}"
    env = {**os.environ, "STATION_DATABASE_URL": url, "STATION_INSTANCE": str(tmp_path / "instance"),
           "STATION_SECRET_KEY": secrets.token_hex(32)}
    db = Database(url)
    upgrade(db)
    basic_site(db)
    with db.write() as s:
        today = dt.date.today()  # the server runs on the real clock: the milk must not have expired
        milk = received_lot(s, "MILK", 10, location="A-01", on=today, expiry=today + dt.timedelta(days=30)).lot_number
        bolt = received_lot(s, "BOLT", 10, location="A-01", on=today).lot_number
        order(s, "SO-7", [("MILK", 2), ("BOLT", 3)])
        dock = catalog.location_by_code(s, "DOCK")
        s.add(StationDevice(name=STATION, location_id=dock.id, scanner_url=AGENT_SCANNER_URL))
        s.add(StationDevice(name="Line PC", scanner_url=AGENT_SCANNER_URL))
        s.add(Operator(badge=PICKER_BADGE, name="Pia Picker", role="picker"))
        s.add(Operator(badge=SUPERVISOR_BADGE, name="Sam Supervisor", role="supervisor", pin_hash=hash_pin(PIN)))
    tokens = {
        "agent": _station_cli(env, "token", "create", "Dock PC agent", "--role", "agent", "--station", STATION),
        "other agent": _station_cli(env, "token", "create", "Line PC agent", "--role", "agent", "--station", "Line PC"),
        "line operator": _station_cli(env, "token", "create", "line-1", "--role", "line_operator"),
        "admin": _station_cli(env, "token", "create", "erp", "--role", "admin"),
    }
    listed = _station_cli(env, "token", "list")
    assert "Dock PC" in listed and "Line PC" in listed and "agent" in listed

    port = free_port()
    log_path = tmp_path / "server.log"
    log = open(log_path, "w+b")  # noqa: SIM115 - closed below
    server = subprocess.Popen([STATION_EXE, "run", "--port", str(port), "--threads", "4", "--no-print-worker",
                               "--no-scanners"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if server.poll() is not None:
            raise AssertionError(f"station run died: {log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(up, timeout=60, what="station run to answer")
        yield {"db": db, "base": base, "tokens": tokens, "milk": milk, "bolt": bolt, "log": log_path}
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=15)
        log.close()
        db.dispose()


def _picks(db) -> list[tuple[str, int, int | None, int | None]]:
    """(item, qty, operator_id, token_id) of every pick, in order."""
    from station.models import Item, Lot

    with db.read() as s:
        return [tuple(row) for row in s.execute(
            select(Item.sku, Movement.qty, Movement.operator_id, Movement.token_id)
            .join(Lot, Lot.id == Movement.lot_id).join(Item, Item.id == Lot.item_id)
            .where(Movement.kind == "pick").order_by(Movement.id))]


def _logged(db) -> list[str]:
    with db.read() as s:
        return [raw.decode() for raw in s.scalars(select(Scan.raw).order_by(Scan.id))]


def _order_status(db) -> str:
    with db.read() as s:
        return s.scalar(select(Order.status).where(Order.number == "SO-7")).value


def test_only_the_stations_agent_token_drives_the_pickers_page_and_only_as_the_picker(site, browser):
    from playwright.sync_api import expect

    from browser_support import HANDHELD, screenshot

    db, base, tokens = site["db"], site["base"], site["tokens"]
    with db.read() as s:
        picker_id = s.scalar(select(Operator.id).where(Operator.badge == PICKER_BADGE))
    context = browser.new_context(viewport=HANDHELD)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # The picker signs in with the badge and binds this device to the station (the scan page remembers it).
    page.goto(f"{base}/signin")
    page.fill("#badge", PICKER_BADGE)
    page.click("form.signin__form button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/scan?station=Dock%20PC")
    page.goto(f"{base}/pick/SO-7")
    page.wait_for_function("() => !!document.body.dataset.stationFeed")

    # Another role's token: refused in words, before anything is logged — even an admin's.
    for who in ("line operator", "admin"):
        for n, code in enumerate([f"LOT:{site['bolt']}", "CMD:CONFIRM"]):
            status, answer = _post_scan(base, tokens[who], code, f"{who.replace(' ', '-')}-scan-{n}")
            assert status == 403, answer
            assert answer["error"]["code"] == "forbidden"
            assert answer["error"]["message"].startswith("Posting a station's scans needs the agent token of that "
                                                         "station")
    # Another station's agent: refused, naming the station.
    status, answer = _post_scan(base, tokens["other agent"], f"LOT:{site['bolt']}", "other-agent-scan-1")
    assert status == 403 and answer["error"]["code"] == "wrong_station"
    assert answer["error"]["message"].startswith(f"This token is not the agent token of station '{STATION}'")
    assert _logged(db) == []

    # The station's agent: its scan is applied by the page, as the picker. Had a refused scan of the
    # bolt lot been logged, the page would have taken it first (the feed runs in id order).
    status, answer = _post_scan(base, tokens["agent"], f"LOT:{site['milk']}", "agent-dock-pc-00001")
    assert status == 201, answer
    expect(page.locator("#scan-current .banner--ok")).to_contain_text(site["milk"])
    wait_for(lambda: _picks(db), timeout=20, what="the milk pick")
    assert _picks(db) == [("MILK", 2, picker_id, None)]  # the bolt line is still open
    assert _order_status(db) != "shipped"

    status, answer = _post_scan(base, tokens["agent"], f"LOT:{site['bolt']}", "agent-dock-pc-00002")
    assert status == 201, answer
    wait_for(lambda: len(_picks(db)) == 2, timeout=20, what="the bolt pick")
    assert _picks(db) == [("MILK", 2, picker_id, None), ("BOLT", 3, picker_id, None)]
    expect(page.locator("button.pick-ship__button")).to_be_enabled()

    # Ready to ship: the line operator's CMD:CONFIRM is refused and presses nothing ...
    status, _ = _post_scan(base, tokens["line operator"], "CMD:CONFIRM", "line-operator-confirm")
    assert status == 403
    assert "CMD:CONFIRM" not in _logged(db)
    assert _order_status(db) != "shipped"
    # ... the agent's presses the page's own Ship button, which ships as the picker.
    status, answer = _post_scan(base, tokens["agent"], "CMD:CONFIRM", "agent-dock-pc-00003")
    assert status == 201, answer
    wait_for(lambda: _order_status(db) == "shipped", timeout=20, what="the order shipped")
    expect(page.get_by_text("Order SO-7 shipped to Corner Shop").first).to_be_visible()
    with db.read() as s:
        shipped_by = set(s.execute(select(Movement.operator_id, Movement.token_id)
                                   .where(Movement.kind == "ship")).all())
    assert shipped_by == {(picker_id, None)}
    screenshot(page, "agent-scans-pick-360")

    # A supervisor's badge from the agent: a badge scan, so the PIN step — nobody is a supervisor yet.
    status, answer = _post_scan(base, tokens["agent"], f"OPR:{SUPERVISOR_BADGE}", "agent-dock-pc-00004")
    assert status == 201, answer
    page.wait_for_url("**/signin/pin**")
    expect(page.locator("input[type=password]").first).to_be_visible()
    refused = page.request.get(f"{base}/supervisor", max_redirects=0)
    assert refused.status in (302, 303), refused.status  # signed out and not yet the supervisor
    assert "/signin" in refused.headers["location"]
    assert _logged(db) == [f"LOT:{site['milk']}", f"LOT:{site['bolt']}", "CMD:CONFIRM", f"OPR:{SUPERVISOR_BADGE}"]

    context.close()
    assert not errors, errors
    assert "Traceback" not in site["log"].read_text(errors="replace")
