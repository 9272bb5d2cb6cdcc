"""The API's plumbing: the blueprint, a registry of routes with their pydantic models, bearer
tokens, and one JSON error shape for every refusal: ``{"error": {"code", "message", ...}}``."""
from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import dataclass
from typing import Callable

from flask import Blueprint, Response, current_app, g, request
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from .. import get_db
from ..models import Role, StationDevice, TokenRole
from ..services.errors import DomainError
from ..services.tokens import find_token
from ..views.floor import ROLE_NAMES, WORKFLOWS
from ..unavailable import RETRY_AFTER_S
from ..unavailable import describe as describe_unavailable
from .schemas import PATTERN_WORDS

PREFIX = "/api/v1"
bp = Blueprint("api", __name__, url_prefix=PREFIX)
# route(workflow=AGENT_WORKFLOW): only a station's agent token (TokenRole.AGENT) may call it, no
# operator role; every other route refuses agent tokens (_authorize).
AGENT_WORKFLOW = "agent"


@dataclass(frozen=True)
class Route:
    """One operation: what Flask dispatches and what the OpenAPI document describes."""

    method: str
    rule: str
    endpoint: str
    summary: str
    status: int
    response: type[BaseModel] | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    errors: tuple[int, ...]
    public: bool
    media: str | None = None  # a view that answers a Response of this type instead of JSON
    query_status: int = 422  # the status of a query string that does not fit `query`
    workflow: str = "lookup"  # a key of floor.WORKFLOWS: the token roles that may call it
    action: str | None = None  # what it does, for the refusal: "Releasing a hold"

    @property
    def roles(self) -> frozenset[Role]:
        """The operator roles whose tokens may call it (none for the agent's route)."""
        return frozenset() if self.workflow == AGENT_WORKFLOW else WORKFLOWS[self.workflow]

    @property
    def restricted(self) -> bool:
        """True when some token role may not call it (the OpenAPI document lists 403 for it)."""
        return not self.public and self.roles != frozenset(Role)


ROUTES: list[Route] = []


def route(method: str, rule: str, *, response: type[BaseModel] | None, status: int = 200,
          body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
          errors: tuple[int, ...] = (), public: bool = False, media: str | None = None,
          query_status: int = 422, workflow: str | None = None, action: str | None = None) -> Callable:
    """Register a view: its JSON body and query arrive parsed as `body` and `query`, and the
    model it returns is sent with `status`. `errors` lists the statuses it can refuse with
    besides 400/401/422, which the route's shape already implies. A view that answers another
    media type (a label image, say) names it as `media` and returns a Flask Response.
    `query_status` is the status of a query that does not fit `query` (422, or 400).

    `workflow` (a key of floor.WORKFLOWS) names the token roles that may call it; a token of
    another role gets 403 before its body is read. GET routes default to "lookup" (every role);
    every other method must name one, so a new write route cannot forget. `action` says what
    the route does in the refusal ("Releasing a hold needs a supervisor or an admin token")."""
    if workflow is None:
        if method != "GET" and not public:
            raise TypeError(f"API route {method} {rule} must name the workflow whose roles may call "
                            f"it: route(..., workflow=...), one of {', '.join(WORKFLOWS)}")
        workflow = "lookup"
    if workflow not in WORKFLOWS and workflow != AGENT_WORKFLOW:
        raise KeyError(f"API route {method} {rule}: unknown workflow {workflow!r}; one of {', '.join(WORKFLOWS)}")

    def decorator(view: Callable) -> Callable:
        summary = (view.__doc__ or view.__name__).strip().splitlines()[0]
        entry = Route(method, rule, view.__name__, summary, status, response, body, query, tuple(errors),
                      public, media, query_status, workflow, action)
        ROUTES.append(entry)

        @functools.wraps(view)
        def endpoint(**path):
            if not public:
                _authorize(entry)  # before the body is read: a refused caller learns nothing from it
            if body is not None:
                path["body"] = _parse_body(body)
            if query is not None:
                path["query"] = _parse_query(query, query_status)
            result = view(**path)
            if isinstance(result, Response):
                return result
            text = result.model_dump_json() if isinstance(result, BaseModel) else json.dumps(result)
            return Response(text, status=status, mimetype="application/json")

        bp.add_url_rule(rule, view.__name__, endpoint, methods=[method])
        return view

    return decorator


# --- errors ----------------------------------------------------------------------------------


class ApiError(Exception):
    """A refusal by the HTTP layer itself: no token, a body that is not JSON, a bad field."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict | None = None,
                 **details) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.details = headers or {}, details


def error_response(status: int, code: str, message: str, headers=None, **details) -> Response:
    error = {"code": code, "message": message}
    error.update((k, v) for k, v in details.items() if k not in error)
    return Response(json.dumps({"error": error}, default=str), status=status,
                    mimetype="application/json", headers=headers)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.details)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    return error_response(exc.status, exc.code, exc.message, **exc.details)


@bp.errorhandler(IntegrityError)
def _integrity_error(exc: IntegrityError):
    # The services check for duplicates first; this is the loser of a race between two requests.
    current_app.logger.warning("API %s %s: %s", request.method, request.path, exc.orig)
    return error_response(409, "conflict", "The change collides with one saved at the same moment "
                                           "(for example the same code created twice); nothing was "
                                           "saved. Check and try again.")


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    if isinstance(exc, NotFound):
        return error_response(404, "not_found", f"There is no API route {request.path}.")
    if isinstance(exc, MethodNotAllowed):
        methods = sorted(exc.valid_methods or ())
        allowed = ", ".join(m for m in methods if m not in ("HEAD", "OPTIONS"))
        return error_response(405, "method_not_allowed",
                              f"{request.method} is not allowed on {request.path}; use {allowed}.",
                              headers={"Allow": ", ".join(methods)})
    code = re.sub(r"\W+", "_", (exc.name or "error").lower()).strip("_")
    return error_response(exc.code, code, exc.description or exc.name)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):  # the blueprint's Exception handler outranks the app's
        return _http_error(exc)
    unavailable = describe_unavailable(exc)
    if unavailable is not None:  # the database could not serve: nothing was saved, try again
        current_app.logger.warning("API %s %s: %s", request.method, request.path, unavailable.code)
        return error_response(503, unavailable.code, unavailable.message,
                              headers={"Retry-After": str(RETRY_AFTER_S)})
    current_app.logger.exception("API %s %s failed", request.method, request.path)
    return error_response(500, "internal_error",
                          "The server failed to handle this request; the error has been logged.")


def routing_error(exc: HTTPException):
    """App-wide handler: routing errors (unknown URL, wrong method) under /api/v1 answer JSON;
    everywhere else Flask's own response is kept."""
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        return _http_error(exc)
    return exc


# --- requests --------------------------------------------------------------------------------


def _parse_body(model: type[BaseModel]) -> BaseModel:
    data = request.get_data(cache=True)
    if not data.strip():
        raise ApiError(400, "malformed_json", "The request body is empty; send a JSON object.")
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if err["type"] == "json_invalid":
                reason = (err.get("ctx") or {}).get("error", err["msg"])
                raise ApiError(400, "malformed_json",
                               f"The request body is not valid JSON: {reason}.") from None
        raise _invalid(exc) from None


def _parse_query(model: type[BaseModel], status: int = 422) -> BaseModel:
    try:
        return model.model_validate({key: request.args.get(key) for key in request.args})
    except ValidationError as exc:
        raise _invalid(exc, status) from None


def _invalid(exc: ValidationError, status: int = 422) -> ApiError:
    """422 (or `status`) naming each bad field in plain words: "qty: must be greater than 0"."""
    errors = exc.errors(include_url=False)
    if errors[0]["type"] == "model_type" and not errors[0]["loc"]:
        return ApiError(status, "invalid", "The request body must be a JSON object.")
    fields = []
    for err in errors:
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        fields.append({"field": field or None, "message": _words(err)})
    message = "; ".join(f"{f['field']}: {f['message']}" if f["field"] else f["message"] for f in fields)
    return ApiError(status, "invalid", message, fields=fields)


_PHRASES = (("Input should be", "must be"), ("String should", "must"), ("List should", "must"),
            ("Value error, ", ""))


def _words(err: dict) -> str:
    kind = err["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind == "string_pattern_mismatch":
        return PATTERN_WORDS.get(err["ctx"]["pattern"], "has the wrong format")
    text = err["msg"]
    for phrase, plain in _PHRASES:
        if text.startswith(phrase):
            text = plain + text[len(phrase):]
            break
    return text


# --- authentication --------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCaller:
    """The token a request came with (kept on ``g.api_token``); roles are enforced later.

    `role` is the token's own role (TokenRole): an operator role, or AGENT for a station PC's scanner
    agent, which is bound to `station_id` / `station_name` and may only post that station's scans."""

    id: int
    name: str
    role: TokenRole
    station_id: int | None = None
    station_name: str | None = None

    @property
    def operator_role(self) -> Role | None:
        """The floor Role whose workflows the token may use (floor.WORKFLOWS); None for an agent."""
        return None if self.role is TokenRole.AGENT else Role(self.role.value)

    @property
    def is_agent(self) -> bool:
        return self.role is TokenRole.AGENT


def _caller(secret: str) -> ApiCaller | None:
    """The token's caller; tokens seen lately are remembered (per app) for
    API_TOKEN_CACHE_SECONDS, since the check was half the cost of a scan request. A revoked
    token therefore stops working within that time, in every process."""
    ttl = current_app.config["API_TOKEN_CACHE_SECONDS"]
    _seen: dict[str, tuple[float, ApiCaller]] = current_app.extensions.setdefault("station.tokens", {})
    now = time.monotonic()
    hit = _seen.get(secret)
    if hit is not None and hit[0] > now:
        return hit[1]
    with get_db().read() as session:
        token = find_token(session, secret)
        caller = None
        if token is not None:
            station = session.get(StationDevice, token.station_id) if token.station_id is not None else None
            caller = ApiCaller(token.id, token.name, TokenRole(token.role), token.station_id,
                               station.name if station is not None else None)
    if caller is not None:
        if len(_seen) > 1000:  # never grows without bound, whatever is sent
            _seen.clear()
        _seen[secret] = (now + ttl, caller)
    return caller


def public_endpoints() -> set[str]:
    return {f"{bp.name}.{r.endpoint}" for r in ROUTES if r.public}


_PUBLIC_ENDPOINTS: set[str] = set()  # filled once the routes are registered (views import last)


@bp.record_once
def _collect_public(_state) -> None:
    _PUBLIC_ENDPOINTS.update(public_endpoints())


@bp.before_request
def _authenticate():
    if getattr(request.url_rule, "endpoint", None) in _PUBLIC_ENDPOINTS:
        return
    scheme, _, secret = request.headers.get("Authorization", "").strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise ApiError(401, "unauthorized",
                       "This API needs a token: send the header 'Authorization: Bearer <token>'.",
                       headers={"WWW-Authenticate": 'Bearer realm="station"'})
    caller = _caller(secret)
    if caller is None:
        raise ApiError(401, "invalid_token", "The API token is unknown or has been revoked.",
                       headers={"WWW-Authenticate": 'Bearer realm="station", error="invalid_token"'})
    g.api_token = caller


def _with_article(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def forbidden_message(r: Route, role: Role | TokenRole, station: str | None = None) -> str:
    """"Releasing a hold needs a supervisor or an admin token; this token is a picker's." An agent
    token is refused with what it is for ("…; this token is the scanner agent token of station
    'Dock PC', which may only post that station's scans (POST /api/v1/scans).")."""
    if r.workflow == AGENT_WORKFLOW:
        return (f"{r.action or r.summary.rstrip('.')} needs the agent token of that station "
                f"(station token create NAME --role agent --station STATION); "
                f"this token is {_token_words(role, station)}.")
    names = [_with_article(ROLE_NAMES[x]) for x in Role if x in r.roles]
    needed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"{r.action or r.summary.rstrip('.')} needs {needed} token; this token is {_token_words(role, station)}."


def _token_words(role: Role | TokenRole, station: str | None) -> str:
    if role.value == TokenRole.AGENT.value:
        return (f"the scanner agent token of station {station!r}, which may only post that station's scans "
                f"(POST {PREFIX}/scans)")
    return f"{_with_article(ROLE_NAMES[Role(role.value)])}'s"


def _authorize(r: Route) -> None:
    caller: ApiCaller | None = g.get("api_token")
    if caller is None:  # _authenticate always runs first; never let a slip through as allowed
        raise ApiError(401, "unauthorized", "This API needs a token: send the header 'Authorization: Bearer <token>'.")
    if r.workflow == AGENT_WORKFLOW:  # a station's scans: its agent token only (the view checks the station)
        allowed = caller.is_agent
    else:  # an operator role's workflows; an agent token may use none of them
        allowed = caller.operator_role is not None and caller.operator_role in r.roles
    if not allowed:
        raise ApiError(403, "forbidden", forbidden_message(r, caller.role, caller.station_name),
                       role=caller.role.value, allowed=_allowed(r))


def _allowed(r: Route) -> list[str]:
    """The token roles that may call `r` (in a 403's details)."""
    if r.workflow == AGENT_WORKFLOW:
        return [TokenRole.AGENT.value]
    return sorted(x.value for x in r.roles)
