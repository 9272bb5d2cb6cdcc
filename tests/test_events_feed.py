"""GET /api/v1/events, the feed an ERP polls, on SQLite and PostgreSQL: commit order, a cursor that
neither skips nor repeats, the types filter (the cursor still moves past other types), limit, who may
read it (supervisor and admin tokens), refusals in words, the OpenAPI document. Then the proof the issue
asks for: 8 writer processes commit on PostgreSQL — some transactions held open after their events are
inserted, some rolled back — while a reader follows the cursor; it sees every committed event exactly
once, positions 1..N without a gap, and no rolled-back one."""
from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import select

from conftest import _empty_postgres
from station import create_app
from station.api import event_views, openapi  # noqa: F401 - fill the route registry
from station.api.event_schemas import EventPage
from station.auth import ROLE_NAMES
from station.db import Database
from station.models import ApiToken, Event, Operator, Role, StationDevice
from station.services import events
from station.services.actor import NOBODY, Actor
from station.services.tokens import create_token

FEED = "/api/v1/events"


@pytest.fixture
def headers(database) -> dict[Role, dict[str, str]]:
    with database.write() as s:
        return {role: {"Authorization": "Bearer " + create_token(s, f"feed {role.value}", role)} for role in Role}


@pytest.fixture
def feed(client, headers):
    """GET the feed as the ERP's (supervisor) token; the answer's JSON, checked against the documented shape."""
    def call(query: str = "", status: int = 200) -> dict:
        response = client.get(FEED + query, headers=headers[Role.SUPERVISOR])
        assert response.status_code == status, response.get_json()
        body = response.get_json()
        if status == 200:
            EventPage.model_validate(body)
        return body
    return call


def _record(db: Database, *kinds: str, by: Actor = NOBODY, key: str = "lot:L-1") -> list[str]:
    """Commit one transaction with an event of each kind; their ids."""
    with db.write() as s:
        return [events.record(s, kind, {"lot": {"number": key[4:]}, "n": i}, key=key, by=by).uid
                for i, kind in enumerate(kinds)]


def test_the_feed_answers_committed_events_in_commit_order_with_their_envelope(database, feed):
    with database.write() as s:
        station = StationDevice(name="Dock PC")
        operator = Operator(badge="R-7", name="Rita Receiver", role=Role.RECEIVER)
        s.add_all([station, operator])
        create_token(s, "erp", Role.ADMIN)
        s.flush()
        on_floor = Actor(operator_id=operator.id, station_id=station.id)
        token_id = s.scalar(select(ApiToken.id).where(ApiToken.name == "erp"))
    first = _record(database, "receipt.booked", "lot.moved", by=on_floor, key="lot:L-1")
    second = _record(database, "lot.held", by=Actor(token_id=token_id), key="lot:L-2")
    third = _record(database, "order.shipped", key="order:SO-1")

    body = feed()
    assert [e["id"] for e in body["events"]] == first + second + third
    assert [e["position"] for e in body["events"]] == [1, 2, 3, 4]
    assert body["next"] == "4"
    received = body["events"][0]
    assert received["type"] == "receipt.booked" and received["schema"] == 1 and received["key"] == "lot:L-1"
    assert received["station"] == "Dock PC" and received["operator"] == {"badge": "R-7", "name": "Rita Receiver"}
    assert received["via_api"] is False and received["data"] == {"lot": {"number": "L-1"}, "n": 0}
    assert received["occurred_at"].endswith("Z")
    held = body["events"][2]
    assert (held["station"], held["operator"], held["via_api"]) == (None, None, True)


def test_the_cursor_pages_without_skipping_or_repeating_and_waits_at_the_end(database, feed):
    for n in range(5):
        _record(database, "lot.held", key=f"lot:L-{n}")
    seen, after, pages = [], "", 0
    while True:
        body = feed(f"?limit=2&after={after}")
        if not body["events"]:
            break
        seen += [e["position"] for e in body["events"]]
        after, pages = body["next"], pages + 1
        if pages == 1:  # committed while the reader is between pages: it comes after what was read
            _record(database, "lot.released", key="lot:L-0")
    assert seen == [1, 2, 3, 4, 5, 6] and pages == 3
    assert feed(f"?after={after}") == {"events": [], "next": "6"}  # nothing new: the same cursor again
    _record(database, "lot.recalled", key="lot:L-3")
    assert [e["type"] for e in feed(f"?after={after}")["events"]] == ["lot.recalled"]
    assert feed("?limit=1000")["next"] == "7" and len(feed("?limit=1")["events"]) == 1


def test_the_types_filter_moves_the_cursor_past_other_types(database, feed):
    _record(database, "lot.held", "receipt.booked")         # 1, 2
    _record(database, "lot.released", "pick.confirmed")     # 3, 4
    _record(database, "receipt.booked")                     # 5
    body = feed("?types=lot.held,lot.released")
    assert [(e["position"], e["type"]) for e in body["events"]] == [(1, "lot.held"), (3, "lot.released")]
    assert body["next"] == "5"  # every event up to 5 was looked at: the next poll starts after it
    assert feed("?types=lot.recalled") == {"events": [], "next": "5"}
    # A full page stops at its last event: the rest of that type is on the next page.
    one = feed("?types=lot.held,lot.released&limit=1")
    assert [e["position"] for e in one["events"]] == [1] and one["next"] == "1"
    rest = feed(f"?types=lot.held,lot.released&limit=1&after={one['next']}")
    assert [e["position"] for e in rest["events"]] == [3]
    assert feed("?types= receipt.booked , receipt.booked")["events"][-1]["position"] == 5


def test_the_event_types_are_listed_with_their_meaning(client, headers):
    body = client.get(FEED + "/types", headers=headers[Role.ADMIN]).get_json()
    assert body["data"] == [{"type": name, "description": words, "schema": 1} for name, words in events.TYPES.items()]
    assert {"receipt.booked", "order.short_shipped", "lot.recalled", "label.failed"} <= set(events.TYPES)


@pytest.mark.parametrize("role", [Role.RECEIVER, Role.PICKER, Role.LINE_OPERATOR], ids=lambda r: r.value)
def test_a_floor_token_is_refused_in_words_and_no_token_is_401(client, headers, database, role):
    _record(database, "lot.held")
    for path in (FEED, FEED + "/types"):
        refused = client.get(path, headers=headers[role])
        assert refused.status_code == 403
        error = refused.get_json()["error"]
        assert error["code"] == "forbidden" and error["allowed"] == ["admin", "supervisor"]
        assert error["message"] == ("Reading the event feed needs a supervisor or an admin token; "
                                    f"this token is a {ROLE_NAMES[role]}'s."), error
        assert "events" not in refused.get_json()
        assert client.get(path).status_code == 401
    assert client.get(FEED, headers=headers[Role.ADMIN]).status_code == 200


@pytest.mark.parametrize("query, field, words", [
    ("?after=abc", "after", "'next' value of an earlier page"),
    ("?after=-1", "after", "'next' value of an earlier page"),
    ("?after=1e5", "after", "'next' value of an earlier page"),
    ("?after=%EF%BC%91%EF%BC%92", "after", "'next' value of an earlier page"),  # full-width digits
    ("?after=" + "9" * 19, "after", "'next' value of an earlier page"),
    ("?after=1%20OR%201=1", "after", "'next' value of an earlier page"),
    ("?after=" + "1" * 41, "after", "at most 40 characters"),
    ("?after=2", "after", "past the newest event (1)"),  # not from this feed: a database restored, say
    ("?types=lot.eaten", "types", "Unknown event type 'lot.eaten'; the types are: receipt.booked"),
    ("?types=lot.held,nope", "types", "Unknown event type 'nope'"),
    ("?limit=0", "limit", "greater than or equal to 1"),
    ("?limit=1001", "limit", "less than or equal to 1000"),
    ("?limit=ten", "limit", "valid integer"),
    ("?cursor=5", "cursor", "is not a field of this request"),
])
def test_a_bad_query_is_refused_in_words(database, feed, query, field, words):
    _record(database, "lot.held")
    error = feed(query, status=422)["error"]
    assert field == error.get("field") or field in [f["field"] for f in error.get("fields", [])], error
    assert words in error["message"], error
    assert set(error) <= {"code", "message", "field", "fields"}  # an error, and nothing else


def test_openapi_describes_the_feed_its_parameters_its_page_and_every_type(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"][FEED]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {"after", "types", "limit"}
    assert params["limit"]["schema"]["minimum"] == 1 and params["limit"]["schema"]["maximum"] == 1000
    assert "next" in params["after"]["description"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/EventPage")
    assert {"401", "403", "422"} <= set(op["responses"])
    assert "admin, supervisor" in op["responses"]["403"]["description"]
    schemas = doc["components"]["schemas"]
    assert set(schemas["EventPage"]["properties"]) == {"events", "next"}
    assert schemas["EventPage"]["properties"]["next"]["type"] == "string"
    out = schemas["EventOut"]["properties"]
    assert set(out) == {"id", "type", "schema", "position", "occurred_at", "station", "operator", "via_api",
                        "key", "data"}
    assert out["type"]["enum"] == list(events.TYPES)
    for name, words in events.TYPES.items():  # each type with what it means, in the page and the filter
        assert f"`{name}`: {words}" in out["type"]["description"]
        assert f"`{name}`: {words}" in params["types"]["description"]
    kinds = doc["paths"][FEED + "/types"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert kinds["$ref"].endswith("/EventTypeList")


# --- PostgreSQL: late commits and 8 concurrent writer processes ------------------------------------------


@pytest.fixture
def pg(pg_url, tmp_path, monkeypatch):
    """The app on the emptied PostgreSQL test database, a supervisor token, and a Database of its own."""
    db = Database(pg_url)
    _empty_postgres(db)
    monkeypatch.setenv("STATION_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "DATABASE_URL": pg_url})
    with db.write() as s:
        token = create_token(s, "erp", Role.SUPERVISOR)
    client = app.test_client()

    def get(after: str, **params) -> dict:
        query = {"after": after, **params}
        response = client.get(FEED, query_string=query, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    yield db, get
    app.extensions["station.db"].dispose()
    db.dispose()


def test_an_event_inserted_first_but_committed_last_is_not_skipped(pg):
    """The hazard itself, step by step: A records its event first and holds its transaction open; B records,
    commits; the reader moves its cursor past B; then A commits — and comes next, not lost."""
    db, get = pg
    with db.write() as a:
        late = events.record(a, "lot.held", {}, key="lot:A")
        a.flush()
        early = _record(db, "lot.released", key="lot:B")
        page = get("")
        assert [e["id"] for e in page["events"]] == early and page["next"] == "1"
        assert get(page["next"]) == {"events": [], "next": "1"}
    page = get(page["next"])
    assert [(e["id"], e["position"]) for e in page["events"]] == [(late.uid, 2)]
    with db.read() as s:
        assert s.scalars(select(Event.uid).order_by(Event.position)).all() == [*early, late.uid]


WRITERS, TRANSACTIONS = 8, 60
# Each writer commits TRANSACTIONS transactions of 1-3 events, printing "C <ids>" after each commit and
# "R <ids>" after each rollback. A quarter are held open a moment after their events are recorded (events
# recorded earlier commit after later ones), about one in seven is rolled back after recording.
WRITER = """
import random, sys
from sqlalchemy import text
from station.db import Database
from station.services import events

url, k, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng, kinds, db = random.Random(k), list(events.TYPES), Database(url)
with db.read() as s:
    s.execute(text("SELECT 1"))
print("ready", flush=True)
sys.stdin.readline()


class Undo(Exception):
    pass


for t in range(n):
    ids, fate = [], rng.random()
    try:
        with db.write() as s:
            for i in range(rng.randint(1, 3)):
                ids.append(events.record(s, rng.choice(kinds), {"writer": k, "txn": t, "i": i},
                                         key=f"lot:W{k}-{t % 4}").uid)
            s.flush()
            if fate < 0.25:
                s.execute(text("SELECT pg_sleep(:s)"), {"s": rng.uniform(0.02, 0.15)})
            if fate > 0.86:
                raise Undo()
    except Undo:
        print("R", *ids, flush=True)
        continue
    print("C", *ids, flush=True)
db.dispose()
"""


class Writers:
    """The writer processes and what they said: committed ids in each writer's commit order, rolled-back ids."""

    def __init__(self, url: str, tmp_path) -> None:
        self.selector = selectors.DefaultSelector()
        self.procs, self.logs, self.buffers = [], [], {}
        self.committed: dict[int, list[list[str]]] = {k: [] for k in range(WRITERS)}
        self.rolled_back: set[str] = set()
        env = {**os.environ, "STATION_INSTANCE": str(tmp_path / "instance")}
        for k in range(WRITERS):
            log = (tmp_path / f"writer-{k}.log").open("wb")
            proc = subprocess.Popen([sys.executable, "-c", WRITER, url, str(k), str(TRANSACTIONS)], env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
            self.procs.append(proc)
            self.logs.append(log)
            os.set_blocking(proc.stdout.fileno(), False)
            self.selector.register(proc.stdout, selectors.EVENT_READ, k)
            self.buffers[k] = b""
        self.ready: set[int] = set()
        self.open = set(range(WRITERS))

    def listen(self, timeout: float) -> None:
        """Take in whatever the writers said, waiting up to `timeout` for the first word of any."""
        for key, _ in self.selector.select(timeout):
            k = key.data
            chunk = key.fileobj.read()
            if chunk == b"":  # the writer closed its output: it has exited, its last commit done
                self.selector.unregister(key.fileobj)
                self.open.discard(k)
                continue
            *lines, self.buffers[k] = (self.buffers[k] + (chunk or b"")).split(b"\n")
            for line in lines:
                word, *ids = line.decode().split()
                if word == "ready":
                    self.ready.add(k)
                elif word == "C":
                    self.committed[k].append(ids)
                else:
                    self.rolled_back.update(ids)

    def start(self) -> None:
        for proc in self.procs:
            proc.stdin.write(b"go\n")
            proc.stdin.close()

    @property
    def done(self) -> bool:
        return not self.open

    def stop(self) -> set[int]:
        """End them all; the writers that had to be killed (a test that failed before they were done)."""
        killed = set()
        for k, proc in enumerate(self.procs):
            if proc.poll() is None:
                proc.kill()
                killed.add(k)
            proc.wait(timeout=60)
            proc.stdout.close()
        for log in self.logs:
            log.close()
        self.selector.close()
        return killed


@pytest.fixture
def writers(pg_url, tmp_path):
    started = Writers(pg_url, tmp_path)
    yield started
    killed = started.stop()
    for k, proc in enumerate(started.procs):
        assert k in killed or proc.returncode == 0, (tmp_path / f"writer-{k}.log").read_text()[-3000:]


def test_a_reader_following_the_cursor_sees_every_committed_event_once_under_8_writer_processes(pg, writers):
    db, get = pg
    deadline = time.monotonic() + 120
    while len(writers.ready) < WRITERS:  # every writer connected: they start together
        assert time.monotonic() < deadline and writers.open == set(range(WRITERS)), "a writer did not start"
        writers.listen(timeout=1)
    writers.start()

    # Two readers poll while the writers commit: all events in small pages, and a types filter.
    some = ["lot.held", "lot.released", "receipt.booked"]
    everything, filtered = [], []
    cursor, filtered_cursor, during = "", "", 0
    deadline = time.monotonic() + 300
    while True:
        finished = writers.done  # asked before reading: then this read sees every commit
        page = get(cursor, limit="7")
        everything += page["events"]
        during += 0 if finished else len(page["events"])
        cursor = page["next"]
        other = get(filtered_cursor, types=",".join(some), limit="5")
        filtered += other["events"]
        filtered_cursor = other["next"]
        if finished and not page["events"] and not other["events"]:
            break
        assert time.monotonic() < deadline, f"the readers did not catch up: {len(everything)} events read"
        # Caught up: wait for a writer to say something (a commit, a rollback, its end) before polling again.
        writers.listen(timeout=0 if page["events"] else 2)
    writers.listen(timeout=0)

    committed = [uid for k in range(WRITERS) for txn in writers.committed[k] for uid in txn]
    assert during > 0  # the reader followed the feed while the writers committed, not only afterwards
    assert len(committed) > WRITERS * TRANSACTIONS  # 1-3 events each, minus the rolled back
    assert sum(len(txns) for txns in writers.committed.values()) < WRITERS * TRANSACTIONS  # some rolled back
    read = [e["id"] for e in everything]
    assert len(read) == len(set(read)), [uid for uid, n in Counter(read).items() if n > 1][:5]
    assert set(read) == set(committed)
    assert not set(read) & writers.rolled_back and writers.rolled_back
    assert [e["position"] for e in everything] == list(range(1, len(committed) + 1))
    assert cursor == str(len(committed))
    # Each writer's transactions committed one after another: the feed has them in that order.
    position = {e["id"]: e["position"] for e in everything}
    for k in range(WRITERS):
        order = [position[uid] for txn in writers.committed[k] for uid in txn]
        assert order == sorted(order), k
    # The filtered reader saw exactly the committed events of its types, once each, in commit order.
    assert [e["id"] for e in filtered] == [e["id"] for e in everything if e["type"] in some]
    assert filtered_cursor == cursor
    # The hazard happened: some event recorded earlier (its occurred_at) was committed, and numbered, later.
    with db.read() as s:
        recorded = s.scalars(select(Event.occurred_at).order_by(Event.position)).all()
    assert recorded != sorted(recorded)
