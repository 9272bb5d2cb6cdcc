"""The OpenAPI 3.1 document, built from the route registry and the routes' pydantic models."""
from __future__ import annotations

import functools
import re

from pydantic.json_schema import models_json_schema

from .core import AGENT_WORKFLOW, PREFIX, REQUEST_ID_WORDS, ROUTES, Route, route
from .schemas import ErrorOut

PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
ERRORS = {
    400: "The body is not valid JSON.",
    401: "No token, or an unknown or revoked one.",
    403: "The token's role may not do this.",
    404: "Not found.",
    409: "Refused by the current state (a duplicate, a lot already on hold, ...).",
    422: "A field is missing or invalid, or names an unknown record.",
}


def _statuses(r: Route) -> list[int]:
    implied = [400] if r.body else []
    implied += [] if r.public else [401]
    implied += [403] if r.restricted else []
    implied += [422] if r.body else []
    implied += [r.query_status] if r.query else []
    return sorted(set(implied) | set(r.errors))


def _error_words(r: Route, status: int) -> str:
    if status == 400 and r.query and r.query_status == 400:
        return "A query parameter is unknown or invalid" + (", or the body is not valid JSON." if r.body else ".")
    if status == 403 and r.workflow == AGENT_WORKFLOW:
        return ("Only the agent token of the named station may post its scans (`station token create NAME "
                "--role agent --station STATION`), and only when the station's scanner is agent://: a token "
                "of any other role (even admin) or of another station is refused, and nothing is logged.")
    if status == 403:
        return f"The token's role may not do this; it needs a token of: {', '.join(sorted(x.value for x in r.roles))}."
    if status == 409 and r.idempotent:
        return ERRORS[409] + " Also request_id_reused: this token used the request_id for another route or path."
    return ERRORS[status]


def _operation(r: Route, refs: dict) -> dict:
    op: dict = {"operationId": r.endpoint, "summary": r.summary, "tags": [r.rule.split("/")[1]]}
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in PARAM.findall(r.rule)]
    if r.query:
        schema = r.query.model_json_schema()
        for name, prop in schema["properties"].items():
            param = {"name": name, "in": "query", "required": name in schema.get("required", ()),
                     "schema": {k: v for k, v in prop.items() if k not in ("title", "description")}}
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    if params:
        op["parameters"] = params
    if r.body:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": refs[(r.body, "validation")]}}}
    answer: dict = {"description": {200: "OK", 201: "Created", 202: "Accepted"}.get(r.status, "OK")}
    if r.status == 202:
        answer["headers"] = {"Location": {"description": "Where to follow what was accepted.",
                                          "schema": {"type": "string"}}}
    if r.idempotent:
        op["description"] = ("Retries are safe with a request_id in the body. " + REQUEST_ID_WORDS
                             + " A refused request stores nothing: its retry is tried afresh.")
        answer["headers"] = {**answer.get("headers", {}), "Idempotent-Replayed": {
            "description": "true when this is the stored first answer to a request_id sent before.",
            "schema": {"type": "string", "enum": ["true"]}}}
    if r.media:
        answer["content"] = {r.media: {"schema": {"type": "string", "contentMediaType": r.media}}}
    elif r.response:
        answer["content"] = {"application/json": {"schema": refs[(r.response, "serialization")]}}
    else:
        answer["content"] = {"application/json": {"schema": {"type": "object"}}}
    again = {str(status): {**answer, "description": "OK: it exists already, entered with the same body"}
             for status in r.also}
    op["responses"] = {str(r.status): answer} | again | {
        str(status): {"description": _error_words(r, status), "content": {
            "application/json": {"schema": refs[(ErrorOut, "serialization")]}}}
        for status in _statuses(r)}
    if r.public:
        op["security"] = []
    return op


@functools.cache
def document() -> dict:
    """The whole document; the registry is fixed once the views are imported."""
    models = {(r.body, "validation") for r in ROUTES if r.body}
    models |= {(r.response, "serialization") for r in ROUTES if r.response}
    models.add((ErrorOut, "serialization"))
    refs, defs = models_json_schema(sorted(models, key=lambda m: (m[0].__name__, m[1])),
                                    ref_template="#/components/schemas/{model}")
    paths: dict = {}
    for r in ROUTES:
        path = PREFIX + PARAM.sub(r"{\1}", r.rule)
        paths.setdefault(path, {})[r.method.lower()] = _operation(r, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Station API", "version": "1.0.0",
                 "description": "Lot tracking: receiving, lots, holds, catalogue and FIFO/FEFO "
                                "pick suggestions, orders, counts, returns; every change out to the ERP "
                                "as events (the feed GET /events, and webhooks signed with HMAC-SHA256 — "
                                "see /webhooks). Quantities are exact decimals in the item's unit: sent as a "
                                "JSON number or a decimal string (12.35 or \"12.35\"; no more decimals than "
                                "the item's qty_decimals, never rounded), answered as a decimal string "
                                "(\"12.35\", \"40\"). Errors answer {\"error\": {\"code\", \"message\"}}."},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "A token from `station token create`."}},
        },
        "security": [{"bearerAuth": []}],
    }


@route("GET", "/openapi.json", response=None, public=True)
def openapi() -> dict:
    """This API described as OpenAPI 3.1."""
    return document()
