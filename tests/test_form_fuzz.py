"""Property-based fuzzing of every form: every POST route of the pages gets generated form data, as a
signed-in admin at a bound station (who may use every workflow), as a plain post and as htmx.

Whatever arrives — unknown or missing fields, huge, empty, control-character, markup, SQL-looking
or non-UTF-8-shaped values, path parameters that name nothing — the answer is never a 5xx, never
shows a traceback, echoes no markup unescaped, and an answer that refuses (4xx) changed nothing in
the database.

The field names are every `name="…"` the templates use, so a form added later is fuzzed with its
own fields without touching this test.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from factories import basic_site, order, received_lot
from station import create_app
from station.config import ROOT
from station.models import Base, Lot, Stock, StationDevice

EXAMPLES = 30
MARKUP = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
FIELDS = sorted(set(re.findall(r'name="([a-z_]+)"', "\n".join(
    p.read_text() for p in Path(ROOT / "templates").rglob("*.html")))) - {"viewport"})


def _post_routes() -> list[str]:
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    return sorted({r.rule for r in app.url_map.iter_rules()
                   if "POST" in (r.methods or ()) and not r.rule.startswith("/api/")})


values = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=5000),
    st.sampled_from(["", " ", "0", "-1", "1e9", "99999999999999999999", "NaN", "null", "true",
                     "LOT:", "CMD:CONFIRM", "OPR:", "]C1" + "0" * 40, "\x1d\x00\x7f", MARKUP,
                     "'; DROP TABLE lots; --", "../../etc/passwd", "%s%n", "1234"]),
    st.integers(min_value=-10**12, max_value=10**12).map(str),
)
forms = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)
path_values = st.one_of(st.sampled_from(["1", "0", "SO-1", "LOT-NOPE", "R-2026-0001", "A-01"]),
                        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF,
                                                       blacklist_characters="/?#%"), min_size=1, max_size=20))


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory, sqlite_template):
    folder = tmp_path_factory.mktemp("formfuzz")
    shutil.copy(sqlite_template, folder / "station.db")
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder / 'station.db'}"})
    db = app.extensions["station.db"]
    basic_site(db)
    with db.write() as s:
        for _ in range(2):
            received_lot(s, "BOLT", 20)
            received_lot(s, "MILK", 20)
        order(s, "SO-1", [("BOLT", 5), ("MILK", 2)])
        s.add(StationDevice(name="Fuzz station"))
    yield app
    db.dispose()


def _state(db) -> dict:
    """Row counts and stock totals. The scan log is left out: every scan is logged, a refused one too
    (that is its purpose), so a page's scan URL adds a row even when it refuses the scan — and the
    answer the intake keeps with it (scan_applications), so that a retry gets the same answer."""
    with db.read() as s:
        counts = {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables
                  if t.name not in ("scans", "scan_applications")}
        counts["stock total"] = s.scalar(select(func.coalesce(func.sum(Stock.qty), 0)))
        counts["lots on hand"] = s.scalar(select(func.coalesce(func.sum(Lot.on_hand), 0)))
    return counts


@pytest.mark.parametrize("rule", _post_routes())
def test_every_form_takes_any_input_without_failing(rule, fuzz_client, signed_in, bound_station):
    from station.auth import SESSION_KEY, start_session

    app = fuzz_client
    db = app.extensions["station.db"]
    params = re.findall(r"<(?:[^:>]+:)?(\w+)>", rule)
    first = app.test_client()
    admin = signed_in(first, "admin", badge=f"FUZZ-{abs(hash(rule)) % 10**8}")

    @given(form=forms, path=st.fixed_dictionaries({p: path_values for p in params}), htmx=st.booleans())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(form, path, htmx):
        client = app.test_client()  # signed in afresh each time: a form may sign out
        with client.session_transaction() as session:
            session[SESSION_KEY] = {"s": start_session(db, admin.id)}
        bound_station(client, "Fuzz station")
        url = re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda m: path[m.group(1)], rule)
        before = _state(db)
        response = client.post(url, data=form, headers={"HX-Request": "true"} if htmx else {})
        body = response.get_data(as_text=True)
        assert response.status_code < 500, f"POST {url} {form!r} -> {response.status_code}: {body[:300]}"
        assert "Traceback" not in body
        assert MARKUP not in body, f"POST {url} echoed markup unescaped"
        if response.status_code >= 400:
            assert _state(db) == before, f"POST {url} {form!r} refused ({response.status_code}) but changed data"

    check()
