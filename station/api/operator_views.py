"""The site's operators over the API, for an HR system or a script that keeps the badges up to date.

    GET   /operators?active=&after=&limit=   by badge, keyset pages (next_after)
    GET   /operators/<badge>                 one operator
    POST  /operators                         {badge, name, role, pin?}                  -> 201
    PATCH /operators/<badge>                 {name?, role?, active?, pin? | pin: null}: only the fields given

Admin tokens only (workflow "operators"), reading too: who works here and who may approve what is
the admin's. A PIN is written, never read: answers say has_pin, never the PIN or its hash.
active=false disables the operator (their floor sessions end at once); pin=null clears the PIN (a
supervisor or admin sets a new one at their next sign-in). Operators are never deleted: their name
stays on everything they did. A refusal changes nothing (each request is one transaction).
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Response

from .. import clock, get_db
from ..models import Operator
from ..services import operators
from ..services.errors import Invalid
from .core import api_actor, route
from .operator_schemas import OperatorChangeIn, OperatorIn, OperatorOut, OperatorPage, OperatorQuery


def _out(operator: Operator) -> OperatorOut:
    until = operator.pin_locked_until
    if until is not None and until.tzinfo is None:  # SQLite gives back naive UTC
        until = until.replace(tzinfo=clock.now().tzinfo)
    return OperatorOut.of(operator, locked=until is not None and until > clock.now())


@route("GET", "/operators", query=OperatorQuery, response=OperatorPage,
       workflow="operators", action="Reading the operators")
def list_operators(query: OperatorQuery) -> OperatorPage:
    """Operators, by badge, a page at a time (pass next_after as after)."""
    with get_db().read() as session:
        page = operators.operators_page(session, after=query.after, active=query.active, limit=query.limit)
        return OperatorPage(data=[_out(o) for o in page.rows], next_after=page.next_after)


@route("GET", "/operators/<path:badge>", response=OperatorOut, errors=(404,),
       workflow="operators", action="Reading an operator")
def get_operator(badge: str) -> OperatorOut:
    """One operator."""
    with get_db().read() as session:
        return _out(operators.operator_by_badge(session, badge))


@route("POST", "/operators", body=OperatorIn, response=OperatorOut, status=201, errors=(409,),
       workflow="operators", action="Adding an operator")
def create_operator(body: OperatorIn) -> Response:
    """Add an operator (409 when the badge is taken, by a disabled operator too)."""
    with get_db().write() as session:
        out = _out(operators.add_operator(session, badge=body.badge, name=body.name, role=body.role,
                                          pin=body.pin, by=api_actor()))
    return Response(out.model_dump_json(), status=201, mimetype="application/json",
                    headers={"Location": f"/api/v1/operators/{quote(out.badge, safe='')}"})


@route("PATCH", "/operators/<path:badge>", body=OperatorChangeIn, response=OperatorOut, errors=(404, 409),
       workflow="operators", action="Changing an operator")
def change_operator(badge: str, body: OperatorChangeIn) -> OperatorOut:
    """Rename, change the role, disable or enable, set or clear the PIN; only the fields given change."""
    given, by = body.model_fields_set, api_actor()
    for field in ("name", "role", "active"):
        if field in given and getattr(body, field) is None:
            raise Invalid(f"{field} cannot be null; leave it out to keep it.", code="invalid_" + field,
                                    field=field)
    with get_db().write() as session:
        operator = operators.operator_by_badge(session, badge, for_update=True)
        if "name" in given:
            operators.rename(session, operator, body.name, by=by)
        if "role" in given:
            operators.set_role(session, operator, body.role, by=by)
        if "pin" in given:
            operators.reset_pin(session, operator, body.pin, by=by)
        if body.active is False:
            operators.disable(session, operator, by=by)
        elif body.active is True:
            operators.enable(session, operator, by=by)
        session.flush()
        return _out(operator)
