"""Bulk import, for admins: upload a CSV or XLSX file, see its problems or what it would write, confirm.

    GET  /import                          choose the kind and the file; a template per kind
    POST /import/preview                  kind, file: every problem by row and column, or the rows that
                                          would be written with their count (nothing is written)
    POST /import/confirm                  upload: the previewed file, imported in one transaction
    GET  /import/template/<kind>.csv      the kind's template: header and one example row

Admins only (workflow "imports"). The upload is read from memory, never saved under a name the browser
gave: a previewed file is kept in the instance folder under a random id (imports/<id>.upload, with who
uploaded it, when and as which kind), so the confirmed import is exactly the file previewed; it is
checked again when confirmed (the site may have changed meanwhile) and removed once imported. Kept
files expire after an hour. The same from a shell: `station import KIND FILE [--dry-run]`.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

from flask import (Blueprint, Response, current_app, flash, get_flashed_messages, make_response, redirect,
                   render_template, request, url_for)

from .. import auth, get_db, imports, limits

bp = Blueprint("imports_admin", __name__)
UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
KEEP_SECONDS = 3600
SHOWN = 500  # problems or rows shown on the page; the count says how many more
UPLOAD_SLACK = 64 * 1024  # the form's other fields and multipart headers around the file


@bp.record_once
def _allow_uploads(state) -> None:
    # waitress refuses a body above the largest limit any route accepts (station/server.py)
    state.app.config.setdefault("MAX_UPLOAD_BYTES", imports.MAX_BYTES + UPLOAD_SLACK)


def _folder() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _sweep(folder: Path) -> None:
    """Remove kept uploads older than KEEP_SECONDS (previews never confirmed)."""
    cutoff = time.time() - KEEP_SECONDS
    for path in folder.glob("*.upload"):
        if path.stat().st_mtime < cutoff:
            for suffix in (".upload", ".json", ".claimed"):
                path.with_suffix(suffix).unlink(missing_ok=True)


def _page(message: str | None = None, status: int = 200, **context) -> Response:
    messages = get_flashed_messages(with_categories=True)
    if message:
        messages.append(("error", message))
    context.setdefault("chosen", request.form.get("kind") or request.args.get("kind") or "")
    response = make_response(render_template("imports_admin.html", kinds=[imports.KINDS[k] for k in imports.ORDER],
                                             messages=messages, shown=SHOWN, **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _kind():
    name = (request.form.get("kind") or "").strip().lower()
    return imports.KINDS.get(name)


@bp.get("/import")
@auth.requires("imports")
def index():
    return _page()


@bp.post("/import/preview")
@limits.large_body
@auth.requires("imports")
def preview():
    kind = _kind()
    if kind is None:
        return _page("Choose what the file holds (items, locations …) — nothing was imported.", 400)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page("Choose the file to import — nothing was imported.", 400)
    try:
        data = upload.read(imports.MAX_BYTES + 1)
    finally:
        upload.close()  # a large upload was spooled to a temporary file: gone now
    filename = Path(upload.filename.replace("\\", "/")).name[-120:]
    try:
        table = imports.read(data, filename)
    except imports.FileRefused as exc:
        return _page(f"{exc.message} Nothing was imported.", 400)
    with get_db().read() as session:
        result = imports.check(session, kind, table)
    if not result.ok:
        return _page(result.summary(), 422, result=result, filename=filename)
    folder = _folder()
    _sweep(folder)
    upload_id = secrets.token_urlsafe(24)
    (folder / f"{upload_id}.upload").write_bytes(data)
    meta = {"kind": kind.name, "filename": filename, "operator_id": auth.current_operator().id,
            "at": time.time()}
    (folder / f"{upload_id}.json").write_text(json.dumps(meta))
    return _page(result=result, filename=filename, upload_id=upload_id)


@bp.post("/import/confirm")
@auth.requires("imports")
def confirm():
    upload_id = request.form.get("upload") or ""
    folder = _folder()
    meta = _claim(folder, upload_id) if UPLOAD_ID.match(upload_id) else None
    if meta is None:
        return _page("That preview is gone (it is kept for an hour, for the admin who made it, and imported "
                     "once): choose the file again — nothing was imported.", 409)
    try:
        data = (folder / f"{upload_id}.upload").read_bytes()
        table = imports.read(data, meta["filename"])
        result = imports.import_table(get_db(), meta["kind"], table, by=auth.actor())
    except imports.FileRefused as exc:  # it was read before; only a changed reader would get here
        return _page(f"{exc.message} Nothing was imported.", 400)
    finally:
        for suffix in (".upload", ".claimed"):
            (folder / f"{upload_id}{suffix}").unlink(missing_ok=True)
    if not result.ok:
        return _page(result.summary(), 422, result=result, filename=meta["filename"], chosen=meta["kind"])
    flash(f"{meta['filename']}: {result.summary()}", "ok")
    return redirect(url_for(".index", kind=meta["kind"]), 303)


def _claim(folder: Path, upload_id: str) -> dict | None:
    """The kept upload's facts, taken by this request alone (a rename: a second tap of Import, or a second
    request racing this one, finds nothing and imports nothing twice); None when gone, expired or another
    admin's (theirs is left for them)."""
    meta_path, claimed = folder / f"{upload_id}.json", folder / f"{upload_id}.claimed"
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("operator_id") != auth.current_operator().id:
            return None
        meta_path.rename(claimed)
    except (OSError, ValueError):
        return None
    if time.time() - meta.get("at", 0) > KEEP_SECONDS:
        claimed.unlink(missing_ok=True)
        return None
    return meta


@bp.get("/import/template/<kind>.csv")
@auth.requires("imports")
def template(kind: str):
    chosen = imports.KINDS.get(kind)
    if chosen is None:
        return _page(f"There is no import of {kind[:40]!r}.", 404)
    response = make_response(imports.template_csv(chosen))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="station-{chosen.name}.csv"'
    return response
