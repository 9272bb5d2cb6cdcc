"""The import page (/import, admins): upload → problems or a preview → confirm the same file; templates;
refusals that change nothing. Then the page in real Chromium at 1280 and 360 px (screenshots in test-artifacts/)."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from station import imports
from station.models import Base, Location, Supplier

LOCATIONS = b"code,kind,name\nDOCK-1,dock,Dock door 1\nA-01-01,storage,Rack A bay 01 level 01\n"


def counts(app) -> dict[str, int]:
    with app.extensions["station.db"].read() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables
                if t.name not in ("floor_sessions", "operators")}


def upload(client, kind: str, data: bytes, name: str = "file.csv"):
    return client.post("/import/preview", data={"kind": kind, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def upload_id(body: str) -> str:
    return re.search(r'name="upload" value="([^"]+)"', body).group(1)


def test_preview_then_confirm_imports_the_same_file(client, app, signed_in):
    signed_in(client, "admin")
    page = client.get("/import")
    assert page.status_code == 200 and "data-import-form" in page.text
    before = counts(app)
    preview = upload(client, "locations", LOCATIONS)
    assert preview.status_code == 200 and 'data-ready-count="2"' in preview.text
    assert "Rack A bay 01 level 01" in preview.text and "Import 2 locations" in preview.text
    assert counts(app) == before  # a preview writes nothing
    done = client.post("/import/confirm", data={"upload": upload_id(preview.text)})
    assert done.status_code == 303
    assert "file.csv: 2 locations imported." in client.get(done.headers["Location"]).text
    with app.extensions["station.db"].read() as s:
        assert sorted(s.scalars(select(Location.code))) == ["A-01-01", "DOCK-1"]
    kept = list((Path(app.instance_path) / "imports").iterdir())
    assert kept == []  # the kept upload is gone once imported
    again = client.post("/import/confirm", data={"upload": upload_id(preview.text)})
    assert again.status_code == 409 and "That preview is gone" in again.text


def test_problems_are_listed_by_row_and_column_and_nothing_is_kept(client, app, signed_in):
    signed_in(client, "admin")
    before = counts(app)
    answer = upload(client, "suppliers", b"code,name,gln\nHOF,,4012345000011\nHOF,Again,\n")
    assert answer.status_code == 422
    assert 'data-problem-count="3"' in answer.text
    for words in ("the name is missing", "GLN 4012345000011: check digit should be 6",
                  "HOF is twice in the file (rows 2 and 3)"):
        assert words in answer.text
    assert "data-import-confirm" not in answer.text
    assert counts(app) == before
    assert not (Path(app.instance_path) / "imports").exists() or not any((Path(app.instance_path) / "imports").iterdir())


@pytest.mark.parametrize("kind, file, message", [
    ("planets", None, "Choose what the file holds"),
    ("items", None, "Choose the file to import"),
    ("items", (b"sku,name\n", "../../etc/passwd"), "Only .csv and .xlsx files"),
    ("items", (b"\xff\xfe\x00", "items.csv"), "not a CSV text file"),
])
def test_bad_uploads_are_refused_in_words(client, app, signed_in, kind, file, message):
    signed_in(client, "admin")
    before = counts(app)
    form = {"kind": kind} | ({"file": (io.BytesIO(file[0]), file[1])} if file else {})
    answer = client.post("/import/preview", data=form, content_type="multipart/form-data")
    assert answer.status_code == 400 and message in answer.text
    assert counts(app) == before


def test_a_confirm_is_only_the_uploader_s_and_only_a_real_id(client, app, signed_in):
    signed_in(client, "admin")
    preview = upload(client, "locations", LOCATIONS)
    kept = upload_id(preview.text)
    before = counts(app)
    for junk in ("../../secret_key", "", "x" * 32, kept + "x"):
        answer = client.post("/import/confirm", data={"upload": junk})
        assert answer.status_code == 409, junk
    other = app.test_client()
    signed_in(other, "admin")
    assert other.post("/import/confirm", data={"upload": kept}).status_code == 409
    assert counts(app) == before
    assert client.post("/import/confirm", data={"upload": kept}).status_code == 303


def test_the_site_changed_since_the_preview(client, app, signed_in):
    """The confirm checks the file again: a location made meanwhile is the row's problem, nothing written."""
    signed_in(client, "admin")
    preview = upload(client, "locations", LOCATIONS)
    assert imports.import_table(app.extensions["station.db"], "locations",
                                imports.read(b"code,kind\nDOCK-1,dock\n", "x.csv")).ok
    before = counts(app)
    answer = client.post("/import/confirm", data={"upload": upload_id(preview.text)})
    assert answer.status_code == 422 and "location DOCK-1 already exists" in answer.text
    assert counts(app) == before


def test_templates(client, signed_in):
    signed_in(client, "admin")
    for name in imports.ORDER:
        answer = client.get(f"/import/template/{name}.csv")
        assert answer.status_code == 200 and answer.mimetype == "text/csv"
        assert answer.text == imports.template_csv(imports.KINDS[name])
    assert client.get("/import/template/planets.csv").status_code == 404


@pytest.mark.parametrize("role", ["receiver", "picker", "line_operator", "supervisor"])
def test_only_admins_import(client, app, signed_in, role):
    signed_in(client, role)
    before = counts(app)
    assert client.get("/import").status_code == 403
    assert upload(client, "locations", LOCATIONS).status_code == 403
    assert client.get("/import/template/items.csv").status_code == 403
    assert counts(app) == before


def test_signed_out_gets_no_import(client, app):
    answer = client.post("/import/preview", data={"kind": "locations", "file": (io.BytesIO(LOCATIONS), "l.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code in (302, 303, 401)
    with app.extensions["station.db"].read() as s:
        assert s.scalar(select(func.count()).select_from(Supplier)) == 0


@pytest.mark.parametrize("size", [{"width": 1280, "height": 800}, {"width": 360, "height": 740}],
                         ids=["1280x800", "360x740"])
def test_import_page_in_the_browser(live_server, browser, sqlite_app, signed_in_page, tmp_path, size):
    from browser_support import screenshot

    sqlite_app.config["FLOOR_PIN_ROLES"] = ()  # the admin signs in by badge alone here
    tag = f"{size['width']}x{size['height']}"
    bad = tmp_path / "suppliers.csv"
    bad.write_bytes(b"code,name,gln\nHOF,Hofm\xc3\xbchle Getreide GmbH,4012345000011\nNOR,,\n")
    good = tmp_path / "locations.csv"
    good.write_bytes(LOCATIONS)
    context = browser.new_context(viewport=size, accept_downloads=True)
    page = context.new_page()
    base = live_server.url
    try:
        signed_in_page(page, base, sqlite_app, "admin", name="Ada Admin")
        page.goto(f"{base}/import")
        page.select_option("[data-import-kind]", "suppliers")
        page.set_input_files("[data-import-file]", str(bad))
        page.locator("[data-import-form] button[type=submit]").click()
        expect(page.locator("[data-problems]")).to_contain_text("check digit should be 6")
        expect(page.locator("[data-problems]")).to_contain_text("the name is missing")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        screenshot(page, f"import-problems-{tag}")
        page.select_option("[data-import-kind]", "locations")
        page.set_input_files("[data-import-file]", str(good))
        page.locator("[data-import-form] button[type=submit]").click()
        expect(page.locator("[data-preview]")).to_contain_text("Rack A bay 01 level 01")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        screenshot(page, f"import-preview-{tag}")
        page.locator("[data-import-confirm]").click()
        expect(page.locator(".banner--ok")).to_contain_text("locations.csv: 2 locations imported.")
        page.locator("[data-template='opening'] > summary").click()
        with page.expect_download() as download:
            page.locator("[data-template-link='opening']").click()
        assert Path(download.value.path()).read_text().startswith("sku,lot,supplier,supplier_lot,qty,location")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        screenshot(page, f"import-done-{tag}")
    finally:
        context.close()
    with sqlite_app.extensions["station.db"].read() as s:
        assert s.scalar(select(func.count()).select_from(Supplier)) == 0
        assert s.scalar(select(func.count()).select_from(Location)) == 2


def test_a_file_above_the_page_body_limit_is_taken_up_to_the_import_limit(client, app, signed_in):
    """Other pages refuse a body above STATION_MAX_BODY_BYTES (1 MB); the import takes files up to 32 MB."""
    signed_in(client, "admin")
    big = b"code,kind,name\n" + b"".join(b"BIN-%06d,storage,Bulk bin %06d in the far hall\n" % (n, n)
                                        for n in range(40_000))
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    # Encoded here, in memory: the test client would spool a body this big to a file it never closes.
    boundary, body = encode_multipart({"kind": "locations", "file": FileStorage(io.BytesIO(big), "bins.csv")})
    answer = client.post("/import/preview", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert answer.status_code == 200 and 'data-ready-count="40000"' in answer.text
    assert "… and 39,500 more." in answer.text
