"""Who may do what, on SQLite and PostgreSQL: every API route x every token role and every page POST route
x every signed-in role answers 403 exactly when the role is not among the route's workflow roles
(floor.WORKFLOWS); the refusal comes before the body is read. Then spot checks with real payloads: a
picker cannot release a hold (page and API), cannot set a printer's or a scanner's address, and cannot
make an API token. The agent role (a station PC's scanner agent, bound to one station) may call
POST /api/v1/scans for its own agent:// station and nothing else; no other token may post scans."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from factories import basic_site, printer, received_lot
from station.agent import AGENT_SCANNER_URL
from station.api.core import AGENT_WORKFLOW, PREFIX, ROUTES, route
from station.api.openapi import document
from station.models import Lot, LotStatus, Printer, Role, Scan, StationDevice, TokenRole
from station.services import holds
from station.services.tokens import create_token
from station.auth import OPEN_ENDPOINTS, ROLE_NAMES, WORKFLOWS
from actions import text_of

ROLES = list(Role)
TOKEN_ROLES = list(TokenRole)  # the operator roles and "agent"
AGENT_STATION = "Matrix PC"
HX = {"HX-Request": "true"}

# Page POST routes anyone may use signed out, and why (they are floor.OPEN_ENDPOINTS too).
OPEN_POSTS = {
    "signin.submit": "signing in: the badge typed on the sign-in page",
    "signin.scan": "signing in: a badge scanned on a page without its own scan URL",
    "signin.pin_submit": "signing in: the PIN step after a badge",
    "signin.cancel": "signing in: forget the badge waiting for its PIN",
    "signin.signout": "signing out",
    "signin.badge": "a badge scanned on any page signs in or out",
}
# Page POST routes without a workflow role: any signed-in operator may use them (floor.require_signed_in
# turns the signed-out away; tests/test_signin_required.py checks it).
ANY_OPERATOR_POSTS = {
    "scan.submit": "the /scan page logs a scan and says what it is; it changes no stock",
    "lots.scan": "lot lookup: says what a scanned code is (logged like /scan); it changes no stock",
    "signin.signout_everywhere": "an operator ends their own sessions on every device (nobody else's)",
}


def _fill(rule: str) -> str:
    """A concrete path for a Flask rule: ints are 1, anything else a code that names nothing."""
    def value(match: re.Match) -> str:
        converter, args = match.group(1) or "", match.group(2) or ""
        if converter == "int":
            return "1"
        if converter == "any":
            return args.split(",")[0].strip().strip("'\"")
        return "NOPE-1"
    return re.sub(r"<(?:(\w+)(?:\(([^)]*)\))?:)?\w+>", value, rule)


@pytest.fixture
def tokens(app) -> dict[TokenRole, dict[str, str]]:
    """A token of every role; the agent's is bound to AGENT_STATION, whose scanner is agent://. Operator
    roles are keyed by their Role as well (TokenRole values equal Role values)."""
    with app.extensions["station.db"].write() as s:
        s.add(StationDevice(name=AGENT_STATION, scanner_url=AGENT_SCANNER_URL))
        s.flush()
        made = {role: {"Authorization": "Bearer " + create_token(
            s, f"matrix {role.value}", role, station=AGENT_STATION if role is TokenRole.AGENT else None)}
            for role in TOKEN_ROLES}
    made.update({Role(role.value): headers for role, headers in made.items() if role is not TokenRole.AGENT})
    return made


def _may(role: TokenRole, r) -> bool:
    """Whether a token of `role` may call route `r`: the agent only the agent's route, the operator
    roles their workflows' routes (never the agent's)."""
    if r.workflow == AGENT_WORKFLOW:
        return role is TokenRole.AGENT
    return role is not TokenRole.AGENT and Role(role.value) in r.roles


# --- the API ----------------------------------------------------------------------------------------


def test_every_route_names_a_known_workflow_and_writes_name_one_explicitly(app):  # app: routes imported
    assert ROUTES
    for r in ROUTES:
        if r.workflow == AGENT_WORKFLOW:
            assert (r.method, r.rule) == ("POST", "/scans"), r
            continue
        names = (r.workflow,) if isinstance(r.workflow, str) else r.workflow
        assert names and all(name in WORKFLOWS for name in names), r
    with pytest.raises(TypeError, match="must name the workflow"):
        route("POST", "/never-registered", response=None)
    with pytest.raises(KeyError, match="unknown workflow"):
        route("GET", "/never-registered", response=None, workflow="nonsense")
    assert not any(r.rule == "/never-registered" for r in ROUTES)


def test_the_required_workflows(app):
    by = {(r.method, r.rule): r.workflow for r in ROUTES}
    assert by[("POST", "/receipts")] == "receiving"
    assert by[("POST", "/moves")] == "putaway"
    for key in [("POST", "/picks"), ("POST", "/picks/<int:movement_id>/undo"), ("POST", "/shipments")]:
        assert by[key] == "picking", key
    for (method, rule), workflow in by.items():
        if rule.startswith("/production-runs") and method != "GET":
            assert workflow == "line", rule
        if rule.startswith("/recalls") or rule in ("/movements", "/movements.csv", "/expiry",
                                                   "/lots/<path:lot_number>/trace"):
            assert workflow == "supervisor", rule
        if rule.startswith(("/items", "/locations", "/suppliers")) and method != "GET":
            assert workflow == "supervisor", rule
        if rule.startswith("/print-jobs") and method == "POST":  # cancel, reprint: any job by its id
            assert workflow == "printing", rule
        elif rule.startswith("/print-jobs") or rule.endswith(("/labels", "label.zpl", "label.png")):
            assert workflow == "lookup", rule
    assert by[("POST", "/lots/<path:lot_number>/hold")] == "supervisor"
    assert by[("POST", "/lots/<path:lot_number>/release")] == "supervisor"
    assert by[("POST", "/resolve")] == "lookup"
    assert by[("POST", "/scans")] == AGENT_WORKFLOW  # a station's scans: its agent token only
    assert [key for key, workflow in by.items() if workflow == AGENT_WORKFLOW] == [("POST", "/scans")]


@pytest.mark.parametrize("role", TOKEN_ROLES, ids=[r.value for r in TOKEN_ROLES])
def test_api_route_by_role(client, tokens, role):
    checked = 0
    for r in ROUTES:
        if r.public:
            continue
        path = PREFIX + _fill(r.rule)
        # An empty body: authorization must come before it is read (an allowed role gets 400 for it).
        answer = client.open(path, method=r.method, headers=tokens[role], data=b"",
                             content_type="application/json")
        where = f"{r.method} {r.rule} as {role.value}"
        if _may(role, r):
            assert answer.status_code != 403, where
            assert answer.status_code < 500, where
            if r.body is not None:
                assert answer.status_code == 400, where
        else:
            assert answer.status_code == 403, where
            error = answer.get_json()["error"]
            assert error["code"] == "forbidden", where
            assert error["role"] == role.value, where
            message = error["message"]
            if role is TokenRole.AGENT:
                assert message.endswith(f"; this token is the scanner agent token of station '{AGENT_STATION}', "
                                        f"which may only post that station's scans (POST /api/v1/scans)."), where
            else:
                assert message.endswith(f"; this token is {'an' if role is TokenRole.ADMIN else 'a'} "
                                        f"{ROLE_NAMES[Role(role.value)]}'s."), where
            if r.workflow == AGENT_WORKFLOW:
                assert error["allowed"] == ["agent"], where
                assert message.startswith("Posting a station's scans needs the agent token of that station"), where
            else:
                assert " token; this token is " in message, where
                if Role.SUPERVISOR in r.roles:
                    assert "supervisor" in message, where  # supervisors may do everything here …
                else:  # … but people and bulk imports, which are for admins only
                    assert r.roles == {Role.ADMIN} and "needs an admin token" in message, where
        checked += 1
    assert checked == sum(1 for r in ROUTES if not r.public)


def test_openapi_lists_403_exactly_where_not_every_role_may(client):
    """...or where the route itself refuses some callers (it lists 403 in its errors: driving a station's
    workflow is open to every role, each for the workflows of its role)."""
    doc = document()
    for r in ROUTES:
        path = PREFIX + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule)
        responses = doc["paths"][path][r.method.lower()]["responses"]
        restricted = not r.public and (r.roles != frozenset(Role) or 403 in r.errors)
        assert ("403" in responses) == restricted, (r.method, r.rule)
    words = doc["paths"][PREFIX + "/scans"]["post"]["responses"]["403"]["description"]
    assert "agent token of the named station" in words and "even admin" in words


# --- the pages --------------------------------------------------------------------------------------


WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _page_posts(app) -> list[tuple[str, str]]:
    """(endpoint, rule) of every page route that changes state (all of them are POST today)."""
    posts = []
    for rule in app.url_map.iter_rules():
        if rule.methods & WRITES and not rule.endpoint.startswith(("api.", "static")):
            assert rule.methods & WRITES == {"POST"}, f"{rule.rule}: pages change state by POST only"
            posts.append((rule.endpoint, rule.rule))
    return sorted(posts)


def test_every_page_post_is_guarded_or_deliberately_open(app):
    posts = _page_posts(app)
    assert len(posts) > 40
    unguarded = []
    for endpoint, rule in posts:
        workflow = getattr(app.view_functions[endpoint], "station_workflow", None)
        if endpoint in OPEN_POSTS or endpoint in ANY_OPERATOR_POSTS:
            assert workflow is None, f"{endpoint} is guarded now: take it off OPEN_POSTS / ANY_OPERATOR_POSTS"
        elif workflow is None:
            unguarded.append(f"{endpoint} ({rule})")
        else:
            assert workflow in WORKFLOWS
    assert unguarded == [], "page POST routes without @requires: " + ", ".join(unguarded)
    assert set(OPEN_POSTS) | set(ANY_OPERATOR_POSTS) <= {e for e, _ in posts}
    # Only the sign-in flow takes a POST from a signed-out browser.
    assert {e for e, _ in posts if e in OPEN_ENDPOINTS} == set(OPEN_POSTS)


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_page_post_by_role(app, signed_in, role):
    client = app.test_client()
    signed_in(client, role)
    checked = 0
    for endpoint, rule in _page_posts(app):
        workflow = getattr(app.view_functions[endpoint], "station_workflow", None)
        if workflow is None:
            continue
        path = _fill(rule)
        for headers in ({}, HX):
            answer = client.post(path, data={}, headers=headers)
            where = f"POST {rule} as {role.value}{' (htmx)' if headers else ''}"
            assert answer.status_code < 500, where
            if role in WORKFLOWS[workflow]:
                assert answer.status_code != 403, where
            else:
                assert answer.status_code == 403, where
        checked += 1
    assert checked > 40


# --- spot checks with real payloads -----------------------------------------------------------------


@pytest.fixture
def held_lot(app) -> str:
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        lot = received_lot(s, "BOLT", 10)
        holds.hold(s, lot, "Damaged packaging")
        return lot.lot_number


def _status(app, lot_number: str) -> LotStatus:
    with app.extensions["station.db"].read() as s:
        return s.scalar(select(Lot.status).where(Lot.lot_number == lot_number))


def test_a_picker_cannot_release_a_hold_through_the_api(app, client, tokens, held_lot):
    url = f"{PREFIX}/lots/{held_lot}/release"
    body = {"reason": "Checked: fine"}
    answer = client.post(url, json=body, headers=tokens[Role.PICKER])
    assert answer.status_code == 403
    assert answer.get_json()["error"] == {
        "code": "forbidden", "role": "picker", "allowed": ["admin", "supervisor"],
        "message": "Releasing a hold needs a supervisor or an admin token; this token is a picker's."}
    assert _status(app, held_lot) is LotStatus.HOLD
    answer = client.post(url, json=body, headers=tokens[Role.SUPERVISOR])
    assert answer.status_code == 200 and _status(app, held_lot) is LotStatus.AVAILABLE


def test_a_picker_cannot_release_a_hold_on_the_page(app, signed_in, held_lot):
    picker = app.test_client()
    signed_in(picker, "picker", name="Pete Picker")
    form = {"lot": held_lot, "reason": "Checked: fine"}
    answer = picker.post("/lots/actions/release", data=form, headers=HX)
    assert answer.status_code == 403
    assert "The supervisor screen is for supervisors" in text_of(answer.text)
    assert _status(app, held_lot) is LotStatus.HOLD
    supervisor = app.test_client()
    signed_in(supervisor, "supervisor")
    assert supervisor.post("/lots/actions/release", data=form, headers=HX).status_code == 200
    assert _status(app, held_lot) is LotStatus.AVAILABLE


def test_a_picker_cannot_set_a_printer_address(app, signed_in):
    db = app.extensions["station.db"]
    with db.write() as s:
        printer_id = printer(s, "dock").id
    picker = app.test_client()
    signed_in(picker, "picker")
    form = {"url": "tcp://203.0.113.9:9100", "dpi": "203", "label_size": "4x6", "active": "1"}
    assert picker.post(f"/printers/settings/{printer_id}", data=form).status_code == 403
    assert picker.post("/printers/settings/new", data={**form, "name": "Mine"}).status_code == 403
    assert picker.get("/printers/settings").status_code == 403
    assert "Printer settings" not in picker.get("/printers").text
    with db.read() as s:
        assert s.get(Printer, printer_id).url == "sim://dock"
        assert s.scalar(select(Printer.id).where(Printer.name == "Mine")) is None


def test_a_picker_cannot_set_a_scanner_address(app, signed_in, bound_station):
    picker = app.test_client()
    signed_in(picker, "picker")
    station_id = bound_station(picker, "Dock tablet")
    answer = picker.post("/setup/edit", data={"station_id": station_id, "scanner_url": "sim://dock"})
    assert answer.status_code == 403
    answer = picker.post("/setup/new", data={"name": "Sneaky", "scanner_url": "serial+socket://203.0.113.9:4000"})
    assert answer.status_code == 403
    with app.extensions["station.db"].read() as s:
        assert s.get(StationDevice, station_id).scanner_url is None
        assert s.scalar(select(StationDevice.id).where(StationDevice.name == "Sneaky")) is None


def test_a_picker_cannot_make_a_token(app, client, tokens):
    """Tokens are made only by `station token create` on the server: no page and no API route makes
    one, so no role can, and a picker's attempt at the obvious URL finds nothing."""
    assert not [r for r in ROUTES if "token" in r.rule]
    assert not [rule.rule for rule in app.url_map.iter_rules() if "token" in rule.rule]
    answer = client.post(f"{PREFIX}/tokens", json={"name": "mine", "role": "admin"}, headers=tokens[Role.PICKER])
    assert answer.status_code == 404
    with app.extensions["station.db"].read() as s:
        from station.models import ApiToken
        assert s.scalar(select(ApiToken.id).where(ApiToken.name == "mine")) is None


# --- the agent's route: a station's scans, from that station's agent token only ----------------------


def _scans(app) -> list[bytes]:
    with app.extensions["station.db"].read() as s:
        return list(s.scalars(select(Scan.raw).order_by(Scan.id)))


def _scan(client, headers, station: str = AGENT_STATION, client_id: str = "agent-matrix-0001", code="LOT:NOPE-1"):
    return client.post(f"{PREFIX}/scans", json={"station": station, "client_id": client_id, "code": code},
                       headers=headers)


@pytest.mark.parametrize("role", [r for r in TOKEN_ROLES if r is not TokenRole.AGENT], ids=lambda r: r.value)
def test_no_operator_token_posts_a_scan_not_even_an_admins(app, client, tokens, role):
    answer = _scan(client, tokens[role])
    assert answer.status_code == 403
    error = answer.get_json()["error"]
    assert error["code"] == "forbidden" and error["allowed"] == ["agent"]
    assert error["message"].startswith("Posting a station's scans needs the agent token of that station "
                                       "(station token create NAME --role agent --station STATION)")
    assert _scans(app) == []


def test_the_agent_token_posts_its_own_stations_scans_only(app, client, tokens):
    with app.extensions["station.db"].write() as s:
        s.add(StationDevice(name="Other PC", scanner_url=AGENT_SCANNER_URL))
    answer = _scan(client, tokens[TokenRole.AGENT], station="Other PC")
    assert answer.status_code == 403
    error = answer.get_json()["error"]
    assert error["code"] == "wrong_station"
    assert error["message"].startswith("This token is not the agent token of station 'Other PC': it is the "
                                       f"agent token of station '{AGENT_STATION}'")
    answer = _scan(client, tokens[TokenRole.AGENT], station="No such PC")  # names no station: the same 403
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "wrong_station"
    assert _scans(app) == []
    answer = _scan(client, tokens[TokenRole.AGENT])
    assert answer.status_code == 201, answer.get_json()
    assert _scans(app) == [b"LOT:NOPE-1"]


def test_the_agent_token_posts_only_while_its_stations_scanner_is_agent(app, client, tokens):
    db = app.extensions["station.db"]
    for url in (None, "sim://matrix-pc"):
        with db.write() as s:
            s.scalar(select(StationDevice).where(StationDevice.name == AGENT_STATION)).scanner_url = url
        answer = _scan(client, tokens[TokenRole.AGENT])
        assert answer.status_code == 403, url
        error = answer.get_json()["error"]
        assert error["code"] == "not_an_agent_station"
        assert f"Station '{AGENT_STATION}' does not take scans from a scanner agent" in error["message"]
        assert "agent:// in Station set-up" in error["message"]
    assert _scans(app) == []


def test_a_revoked_agent_token_or_a_renamed_station_posts_nothing(app, client, tokens):
    app.config["API_TOKEN_CACHE_SECONDS"] = 0
    db = app.extensions["station.db"]
    with db.write() as s:
        s.scalar(select(StationDevice).where(StationDevice.name == AGENT_STATION)).name = "Renamed PC"
    answer = _scan(client, tokens[TokenRole.AGENT])
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "wrong_station"
    assert _scan(client, tokens[TokenRole.AGENT], station="Renamed PC").status_code == 201  # bound by id
    assert _scans(app) == [b"LOT:NOPE-1"]


WORKFLOW_PAGES = {  # workflow -> its page: opening it (GET) makes it the station's open workflow
    "receiving": "/receive", "putaway": "/move", "picking": "/pick/SO-1", "line": "/line", "lookup": "/lots",
    "trace": "/trace", "recall": "/recalls",
    "count": "/count",
    "returns": "/return",
}


def test_an_agents_scan_is_applied_only_for_an_operator_of_the_open_workflow(app, client, tokens, signed_in):
    """The agent's scan is applied on the server to the workflow open at its station, as the operator who
    opened that page: a role without the workflow cannot open its page (403), so the scan is not applied;
    and an operator whose role changed after opening it applies nothing more. The agent never acts with
    more rights than the operator at the station. (Commands press buttons of the page, which are page
    POSTs guarded the same way, test_page_post_by_role; badges go through the sign-in flow.)"""
    from factories import order
    from station.models import Operator, ScanApplication
    from station.workflows import MODULES, role_key

    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        order(s, "SO-1", [("BOLT", 1)])
    assert set(WORKFLOW_PAGES) == set(MODULES), "a new workflow: add its page to WORKFLOW_PAGES"
    sent = iter(range(10**6))

    def applied_to() -> str | None:
        posted = _scan(client, tokens[TokenRole.AGENT], client_id=f"agent-matrix-{next(sent):06d}",
                       code=f"LOT:NOPE-{next(sent)}")
        assert posted.status_code == 201, posted.get_json()
        with db.read() as s:
            row = s.get(ScanApplication, posted.get_json()["scan_id"])
            return row.workflow if row is not None else None

    for role in ROLES:
        page = app.test_client()
        signed_in(page, role)
        assert page.get("/scan", query_string={"station": AGENT_STATION}).status_code == 200  # binds the device
        assert page.get("/").status_code == 200  # home: no workflow open at the station
        for workflow, path in WORKFLOW_PAGES.items():
            allowed = role in WORKFLOWS[role_key(workflow)]
            assert page.get(path).status_code == (200 if allowed else 403), f"{path} as {role.value}"
            assert applied_to() == (workflow if allowed else None), f"{workflow} as {role.value}"
            page.get("/")
    # Opened by a picker who is then made a receiver (who may move, not pick): the pick page is closed to them.
    picker = app.test_client()
    op = signed_in(picker, Role.PICKER)
    picker.get("/scan", query_string={"station": AGENT_STATION})
    assert picker.get("/pick/SO-1").status_code == 200 and applied_to() == "picking"
    with db.write() as s:
        s.get(Operator, op.id).role = Role.RECEIVER
    assert applied_to() is None


def test_an_agent_cannot_read_another_stations_scan_by_its_client_id(app, client, tokens):
    """A resend is answered with the first answer only at the station that logged the scan: another
    station's agent that sends the same client_id learns nothing and logs nothing."""
    with app.extensions["station.db"].write() as s:
        s.add(StationDevice(name="Other PC", scanner_url=AGENT_SCANNER_URL))
        s.flush()
        other = {"Authorization": "Bearer " + create_token(s, "other agent", TokenRole.AGENT, station="Other PC")}
    first = _scan(client, tokens[TokenRole.AGENT], client_id="agent-shared-0001", code="LOT:SECRET-1")
    assert first.status_code == 201
    answer = _scan(client, other, station="Other PC", client_id="agent-shared-0001", code="LOT:OTHER")
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error["code"] == "client_id_taken" and "SECRET" not in answer.text
    assert "Nothing was logged" in error["message"]
    again = _scan(client, tokens[TokenRole.AGENT], client_id="agent-shared-0001", code="LOT:SECRET-1")
    assert again.status_code == 201 and again.get_json()["retried"] is True  # its own resend: the first answer
    assert _scans(app) == [b"LOT:SECRET-1"]
