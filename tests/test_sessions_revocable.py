"""Floor sessions end on the server (issue 13, point 2), on SQLite and PostgreSQL: the session cookie
carries only a random secret whose SHA-256 names a floor_sessions row, so a copy of the cookie (another
browser, a stolen one) stops working when the row ends — sign-out, the idle timeout, the operator
disabled, "sign out everywhere" (the operator's own button, the admins' page, the CLI). Each request
costs one indexed SELECT; last_seen_at is written at most every REFRESH_SECONDS. And with real
processes: `station run` with two workers, two HTTP clients holding the same cookie."""
from __future__ import annotations

import hashlib
import http.cookiejar
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import event, select, update

from station.models import FloorSession, Operator, Role
from station.rawsql import RawReader
from station.services.pins import hash_pin
from station import auth as floor
from test_server import STATION, free_port, wait_for


@pytest.fixture
def people(app) -> dict[str, int]:
    with app.extensions["station.db"].write() as s:
        rows = [Operator(badge="B-PICK", name="Pete Picker", role=Role.PICKER),
                Operator(badge="B-SUP", name="Sam Super", role=Role.SUPERVISOR, pin_hash=hash_pin("2580")),
                Operator(badge="B-ADM", name="Ada Admin", role=Role.ADMIN, pin_hash=hash_pin("2580"))]
        s.add_all(rows)
        s.flush()
        return {op.badge: op.id for op in rows}


def sign_in(app, badge: str, pin: str | None = None):
    """A fresh browser signed in through the sign-in page (and the PIN step)."""
    client = app.test_client()
    answer = client.post("/signin", data={"badge": badge})
    assert answer.status_code == 303, answer.text
    if pin is not None:
        assert answer.headers["Location"].startswith("/signin/pin")
        answer = client.post("/signin/pin", data={"pin": pin})
        assert answer.status_code == 303, answer.text
    assert client.get("/lots").status_code == 200  # signed in: a page every role may open
    return client


def copy_of(app, client):
    """Another browser holding a copy of `client`'s cookies (a stolen or copied session)."""
    other = app.test_client()
    for name in ("session", floor.STATION_COOKIE):
        cookie = client.get_cookie(name)
        if cookie is not None:
            other.set_cookie(name, cookie.value)
    return other


def signed_out(client) -> bool:
    answer = client.get("/lots")
    return answer.status_code == 302 and answer.headers["Location"].startswith("/signin")


def rows_of(app, op_id: int) -> list[FloorSession]:
    with app.extensions["station.db"].read() as s:
        rows = list(s.scalars(select(FloorSession).where(FloorSession.operator_id == op_id).order_by(FloorSession.id)))
        s.expunge_all()
        return rows


# --- a copied cookie stops working --------------------------------------------------------------------


@pytest.mark.parametrize("badge, pin", [("B-PICK", None), ("B-SUP", "2580")], ids=["picker", "supervisor"])
def test_a_copied_cookie_stops_working_after_sign_out(app, people, badge, pin):
    first = sign_in(app, badge, pin)
    stolen = copy_of(app, first)
    assert stolen.get("/lots").status_code == 200  # the copy works while the session is open
    assert first.post("/signout").status_code == 303
    assert signed_out(first) and signed_out(stolen)
    [row] = rows_of(app, people[badge])
    assert row.ended_at is not None and row.end_reason == "signed_out"
    if badge == "B-SUP":  # the supervisor's copy gets no supervisor page either, PIN or not
        assert stolen.get("/supervisor").status_code == 302


def test_the_cookie_holds_a_secret_not_the_operator(app, people):
    client = sign_in(app, "B-PICK")
    with client.session_transaction() as session:
        state = dict(session[floor.SESSION_KEY])
    assert set(state) == {"s"} and len(state["s"]) >= 40
    [row] = rows_of(app, people["B-PICK"])
    assert row.secret_hash == hashlib.sha256(state["s"].encode()).hexdigest() and row.ended_at is None


def test_an_old_style_session_cookie_is_not_a_session(app, people):
    """The cookie of the code before floor_sessions ({"op": id, "at": time}) names nobody now."""
    import time

    client = app.test_client()
    with client.session_transaction() as session:
        session[floor.SESSION_KEY] = {"op": people["B-ADM"], "at": int(time.time())}
    assert signed_out(client)


def test_a_copied_cookie_stops_working_after_the_idle_timeout(app, people, monkeypatch):
    now = [1_900_000_000.0]
    monkeypatch.setattr(floor.sessions, "now_seconds", lambda: now[0])
    app.config["FLOOR_IDLE_MINUTES"] = 10
    first = sign_in(app, "B-PICK")
    stolen = copy_of(app, first)
    now[0] += 9 * 60
    assert stolen.get("/lots").status_code == 200  # activity (of either copy) keeps the session open
    now[0] += 9 * 60
    assert first.get("/lots").status_code == 200
    now[0] += 10 * 60 + 1
    answer = stolen.get("/lots")
    assert answer.status_code == 302 and "timeout=1" in answer.headers["Location"]
    now[0] -= 10 * 60  # even back within the time, an ended session stays ended
    assert signed_out(first)
    [row] = rows_of(app, people["B-PICK"])
    assert row.end_reason == "timed_out"


def test_a_copied_cookie_stops_working_when_the_operator_is_disabled(app, people):
    first = sign_in(app, "B-PICK")
    elsewhere = sign_in(app, "B-PICK")  # a second device
    stolen = copy_of(app, first)
    with app.extensions["station.db"].write() as s:
        s.execute(update(Operator).where(Operator.id == people["B-PICK"]).values(active=False))
    assert signed_out(stolen)
    assert all(r.end_reason == "disabled" for r in rows_of(app, people["B-PICK"]))  # every device's
    with app.extensions["station.db"].write() as s:  # enabled again: the old sessions stay ended
        s.execute(update(Operator).where(Operator.id == people["B-PICK"]).values(active=True))
    assert signed_out(first) and signed_out(elsewhere)


def test_sign_out_everywhere_ends_every_device_of_the_operator_only(app, people):
    tablet, handheld = sign_in(app, "B-PICK"), sign_in(app, "B-PICK")
    stolen = copy_of(app, tablet)
    supervisor = sign_in(app, "B-SUP", "2580")
    home = handheld.get("/").text
    assert "Sign out everywhere" in home and 'action="/signout/everywhere"' in home
    answer = handheld.post("/signout/everywhere")
    assert answer.status_code == 303 and answer.headers["Location"] == "/signin"
    assert "Signed out everywhere: Pete Picker, on 2 devices." in handheld.get("/signin").text
    assert signed_out(tablet) and signed_out(stolen) and signed_out(handheld)
    assert supervisor.get("/lots").status_code == 200  # another operator's session is not touched
    assert [r.end_reason for r in rows_of(app, people["B-PICK"])] == ["everywhere", "everywhere"]


def test_an_admin_signs_an_operator_out_everywhere_on_the_operators_page(app, people):
    tablet = sign_in(app, "B-PICK")
    stolen = copy_of(app, tablet)
    admin = sign_in(app, "B-ADM", "2580")
    page = admin.get("/operators")
    assert page.status_code == 200 and 'data-signout-everywhere="B-PICK"' in page.text
    answer = admin.post("/operators/sign-out-everywhere", data={"badge": "B-PICK"})
    assert answer.status_code == 303
    assert "Pete Picker (B-PICK) is signed out everywhere: 1 session ended." in admin.get("/operators").text
    assert signed_out(tablet) and signed_out(stolen)
    assert admin.get("/operators").status_code == 200
    refused = admin.post("/operators/sign-out-everywhere", data={"badge": "B-NOBODY"})
    assert refused.status_code == 404 and "nothing was changed" in refused.text
    assert sign_in(app, "B-SUP", "2580").get("/operators").status_code == 403  # admins only


def test_the_cli_signs_an_operator_out_everywhere(app, people):
    tablet = sign_in(app, "B-SUP", "2580")
    stolen = copy_of(app, tablet)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["operator", "sign-out-everywhere", "B-SUP"])
    assert result.exit_code == 0 and "Sam Super (B-SUP) signed out everywhere: 1 session ended." in result.output
    assert signed_out(tablet) and signed_out(stolen)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["operator", "sign-out-everywhere", "B-NOBODY"])
    assert result.exit_code != 0 and "No operator has badge 'B-NOBODY'" in result.output


def test_a_hand_over_ends_the_session_before(app, people):
    client = sign_in(app, "B-PICK")
    stolen = copy_of(app, client)
    assert client.post("/signin", data={"badge": "B-SUP"}).status_code == 303  # another badge, PIN step
    assert client.post("/signin/pin", data={"pin": "2580"}).status_code == 303
    assert signed_out(stolen)  # the picker's session ended with the hand-over
    assert client.get("/supervisor").status_code == 200


# --- the cost per request ------------------------------------------------------------------------------


def test_one_indexed_select_per_request_and_a_write_at_most_every_refresh(app, people, monkeypatch):
    now = [1_900_000_000.0]
    monkeypatch.setattr(floor.sessions, "now_seconds", lambda: now[0])
    client = sign_in(app, "B-PICK")
    statements: list[str] = []
    real_execute = RawReader.execute

    def counting(self, statement, params=None):
        result = real_execute(self, statement, params)
        statements.append(str(statement.compile(dialect=self.dialect)))
        return result

    monkeypatch.setattr(RawReader, "execute", counting)
    engine = app.extensions["station.db"].engine

    def orm(conn, cursor, sql, params, context, executemany):
        statements.append(sql)

    event.listen(engine, "before_cursor_execute", orm)
    try:
        def session_statements():
            statements.clear()
            assert client.get("/lots").status_code == 200
            return [s.split()[0].upper() for s in statements if "floor_sessions" in s]

        assert session_statements() == ["SELECT"]
        now[0] += floor.REFRESH_SECONDS - 1
        assert session_statements() == ["SELECT"]  # activity within REFRESH_SECONDS: no write
        now[0] += 2
        assert session_statements() == ["SELECT", "UPDATE"]  # then last_seen_at moves on, once
        assert session_statements() == ["SELECT"]
    finally:
        event.remove(engine, "before_cursor_execute", orm)


def test_the_session_lookup_uses_the_unique_index(app, db_url):
    """secret_hash is unique: the database answers the look-up from its index, not by a scan."""
    from sqlalchemy import text

    db = app.extensions["station.db"]
    with db.read() as s:
        if db.is_sqlite:
            plan = " ".join(str(r[-1]) for r in s.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM floor_sessions WHERE secret_hash = 'x' AND ended_at IS NULL")))
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
        else:
            indexes = {r[0] for r in s.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'floor_sessions'"))}
            assert any("UNIQUE" in i and "secret_hash" in i for i in indexes), indexes


# --- real processes: two clients with one cookie, against `station run --workers 2` ------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _client(jar: http.cookiejar.CookieJar):
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def _get(opener, url: str) -> tuple[int, str]:
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, response.headers.get("Location") or ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location") or ""


def _post(opener, url: str, data: dict, origin: str) -> int:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode(), method="POST",
                                     headers={"Origin": origin})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_two_clients_with_one_cookie_on_a_real_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "STATION_SECRET_KEY"}
    env.update(STATION_INSTANCE=str(tmp_path / "instance"),
               STATION_DATABASE_URL=f"sqlite:///{tmp_path / 'station.db'}")
    subprocess.run([STATION, "init"], env=env, check=True, capture_output=True)
    from station.db import Database

    db = Database(env["STATION_DATABASE_URL"])
    with db.write() as s:
        s.add(Operator(badge="P-1", name="Pat Picker", role=Role.PICKER))
    db.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "server.log", "w+b")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([STATION, "run", "--workers", "2", "--threads", "2", "--port", str(port),
                             "--no-scanners", "--no-print-worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def up():
            try:
                return _get(_client(http.cookiejar.CookieJar()), base + "/")[0] == 200
            except OSError:
                return proc.poll() is not None
        wait_for(up, timeout=30, what="station run")
        assert proc.poll() is None, (tmp_path / "server.log").read_text()

        mine = http.cookiejar.CookieJar()
        first = _client(mine)
        assert _post(first, base + "/signin", {"badge": "P-1"}, base) == 303
        [session] = [c for c in mine if c.name == "session"]
        copied = http.cookiejar.CookieJar()
        copied.set_cookie(session)
        second = _client(copied)
        # Keep-alive is off for urllib: each request is a new connection, answered by either worker.
        for _ in range(6):
            assert _get(first, base + "/lots")[0] == 200
            assert _get(second, base + "/lots")[0] == 200
        assert _post(first, base + "/signout", {}, base) == 303
        for _ in range(6):  # whichever process answers, the copy is signed out
            status, location = _get(second, base + "/lots")
            assert status == 302 and location.startswith("/signin"), (status, location)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
