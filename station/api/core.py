"""The API's plumbing: the blueprint, a registry of routes with their pydantic models, request ids,
bearer tokens; and, from api/errors.py, one JSON error shape for every refusal:
``{"error": {"code", "message", ...}}``."""
from __future__ import annotations

import functools
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Callable, Iterator

from flask import Blueprint, Response, current_app, g, request
from pydantic import BaseModel, Field, create_model
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from .. import get_db
from ..auth import ROLE_NAMES, WORKFLOWS
from ..models import ApiRequest, Role, StationDevice, TokenRole
from ..services.actor import Actor
from ..services.errors import DomainError
from ..services.tokens import find_token
from .errors import HANDLERS, ApiError, error_response, http_error, parse_body, parse_query  # noqa: F401
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
    # a key of auth.WORKFLOWS (or a tuple of keys: any of their roles): the token roles that may call it
    workflow: str | tuple[str, ...] = "lookup"
    action: str | None = None  # what it does, for the refusal: "Releasing a hold"
    idempotent: bool = False  # takes a request_id: a retry gets the first answer (see _once)
    location: Callable[[dict], str] | None = None  # a replayed answer's Location header, from its body
    also: tuple[int, ...] = ()  # other success statuses with the same body (200: the same entry again)

    @property
    def roles(self) -> frozenset[Role]:
        """The operator roles whose tokens may call it (none for the agent's route)."""
        if self.workflow == AGENT_WORKFLOW:
            return frozenset()
        names = (self.workflow,) if isinstance(self.workflow, str) else self.workflow
        return frozenset().union(*(WORKFLOWS[name] for name in names))

    @property
    def restricted(self) -> bool:
        """True when some token role may not call it (the OpenAPI document lists 403 for it)."""
        return not self.public and self.roles != frozenset(Role)


ROUTES: list[Route] = []


def route(method: str, rule: str, *, response: type[BaseModel] | None, status: int = 200,
          body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
          errors: tuple[int, ...] = (), public: bool = False, media: str | None = None,
          query_status: int = 422, workflow: str | tuple[str, ...] | None = None, action: str | None = None,
          idempotent: bool = False, location: Callable[[dict], str] | None = None,
          also: tuple[int, ...] = ()) -> Callable:
    """Register a view: its JSON body and query arrive parsed as `body` and `query`, and the
    model it returns is sent with `status`. `errors` lists the statuses it can refuse with
    besides 400/401/422, which the route's shape already implies. A view that answers another
    media type (a label image, say) names it as `media` and returns a Flask Response.
    `query_status` is the status of a query that does not fit `query` (422, or 400).

    `workflow` (a key of auth.WORKFLOWS) names the token roles that may call it; a token of
    another role gets 403 before its body is read. GET routes default to "lookup" (every role);
    every other method must name one, so a new write route cannot forget. `action` says what
    the route does in the refusal ("Releasing a hold needs a supervisor or an admin token").
    A tuple of workflows lets the roles of any of them call it.

    `idempotent` (a write with a JSON body) adds an optional `request_id` to the body: the view's
    writes and the answer, stored in api_requests under (token, request_id), commit in one
    transaction, and a retry with the same id gets that first answer again instead of doing it twice
    (see _once). The view must then open its write session with `write()` from this module.
    `location` rebuilds the Location header of a replayed answer from its body. `also` lists other
    success statuses the view answers with the same model (200 when an entry sent again already exists)."""
    if workflow is None:
        if method != "GET" and not public:
            raise TypeError(f"API route {method} {rule} must name the workflow whose roles may call "
                            f"it: route(..., workflow=...), one of {', '.join(WORKFLOWS)}")
        workflow = "lookup"
    for name in (workflow,) if isinstance(workflow, str) else workflow:
        if name not in WORKFLOWS and name != AGENT_WORKFLOW:
            raise KeyError(f"API route {method} {rule}: unknown workflow {name!r}; one of {', '.join(WORKFLOWS)}")
    if idempotent:
        if body is None:
            raise TypeError(f"API route {method} {rule}: an idempotent route needs a JSON body for request_id")
        body = _with_request_id(body)

    def decorator(view: Callable) -> Callable:
        summary = (view.__doc__ or view.__name__).strip().splitlines()[0]
        entry = Route(method, rule, view.__name__, summary, status, response, body, query, tuple(errors),
                      public, media, query_status, workflow, action, idempotent, location, tuple(also))
        ROUTES.append(entry)

        @functools.wraps(view)
        def endpoint(**path):
            if not public:
                _authorize(entry)  # before the body is read: a refused caller learns nothing from it
            if body is not None:
                path["body"] = parse_body(body)
            if query is not None:
                path["query"] = parse_query(query, query_status)
            if idempotent and path["body"].request_id is not None:
                return _once(entry, path["body"].request_id, lambda: view(**path))
            return _answer(view(**path), status)

        bp.add_url_rule(rule, view.__name__, endpoint, methods=[method])
        return view

    return decorator


def _answer(result, status: int) -> Response:
    if isinstance(result, Response):
        return result
    text = result.model_dump_json() if isinstance(result, BaseModel) else json.dumps(result)
    return Response(text, status=status, mimetype="application/json")


# --- writes: the actor, and request_id (a retry gets the first answer) ------------------------


def api_actor(raw_scan: str | None = None) -> Actor:
    """Who an API write is by: the calling token (its station only when the token is bound to one,
    as agent tokens are; a station named in a body is where, not who)."""
    caller: ApiCaller = g.api_token
    return Actor(station_id=caller.station_id, raw_scan=raw_scan, token_id=caller.id)


@contextmanager
def write() -> Iterator[Session]:
    """The write session of an API view. For a request with a request_id it is the one the route
    opened (_once): the view's writes and the stored answer commit together. Otherwise a new one."""
    session = g.get("api_write_session")
    if session is not None:
        yield session
    else:
        with get_db().write() as session:
            yield session


REQUEST_ID_PATTERN = r"^[A-Za-z0-9_.:-]{8,64}$"
PATTERN_WORDS.setdefault(REQUEST_ID_PATTERN, "must be 8 to 64 letters, digits or _ . : -")
RequestId = Annotated[str, Field(pattern=REQUEST_ID_PATTERN)]
REQUEST_ID_WORDS = ("Your id for this request (8-64 letters, digits or _ . : -), to make a retry safe: "
                    "sent again with the same token, it is answered with the first answer (same status and "
                    "body, header Idempotent-Replayed: true) and nothing is done twice. The same id on "
                    "another route or path is refused (409 request_id_reused).")


def _with_request_id(model: type[BaseModel]) -> type[BaseModel]:
    """`model` with an optional request_id (one the model has already, e.g. a label request's, keeps
    its own meaning too, and now takes 8-64 characters)."""
    own = model.model_fields.get("request_id")
    words = REQUEST_ID_WORDS + (f" It is also {own.description[0].lower()}{own.description[1:]}"
                                if own is not None and own.description else "")
    return create_model(model.__name__, __base__=model, __module__=model.__module__, __doc__=model.__doc__,
                        request_id=(RequestId | None, Field(None, description=words)))


def _once(entry: Route, request_id: str, call: Callable[[], object]) -> Response:
    """Run a write whose body has a request_id: its answer is stored in api_requests in the same
    transaction, so a retry (same token, same id) gets that answer and books nothing. The unique
    (token_id, request_id) decides a race: the loser's transaction rolls back whole, and it answers
    the winner's stored answer. A refusal stores nothing (nothing was done; a retry does it afresh),
    but a retry refused because the first one did it (the pallet is received, the line picked) gets
    the first answer too. Costs one INSERT; only retries read."""
    caller: ApiCaller = g.api_token
    where = f"{request.method} {request.path.removeprefix(PREFIX)}"[:80]
    db = get_db()
    try:
        with db.write() as session:
            g.api_write_session = session
            try:
                response = _answer(call(), entry.status)
            finally:
                g.pop("api_write_session", None)
            if 200 <= response.status_code < 300:
                session.execute(insert(ApiRequest).values(  # Core: the ORM's unit of work costs more here
                    token_id=caller.id, request_id=request_id, endpoint=where, status=response.status_code,
                    body=json.loads(response.get_data())))
    except (DomainError, ApiError, IntegrityError):
        first = _first_answer(db, caller.id, request_id)
        if first is None:
            raise
        return _replay(entry, first, where, request_id)
    return response


@dataclass(frozen=True)
class _Stored:
    endpoint: str
    status: int
    body: dict


def _first_answer(db, token_id: int, request_id: str) -> _Stored | None:
    with db.read() as session:
        row = session.execute(select(ApiRequest.endpoint, ApiRequest.status, ApiRequest.body).where(
            ApiRequest.token_id == token_id, ApiRequest.request_id == request_id)).first()
    return _Stored(*row) if row is not None else None


def _replay(entry: Route, first: _Stored, where: str, request_id: str) -> Response:
    if first.endpoint != where:
        raise ApiError(409, "request_id_reused",
                       f"request_id {request_id!r} was already used by this token for {first.endpoint}; "
                       f"a different request needs its own request_id. Nothing was done.",
                       first_endpoint=first.endpoint)
    headers = {"Idempotent-Replayed": "true"}
    if entry.location is not None:
        headers["Location"] = entry.location(first.body)
    return Response(json.dumps(first.body, separators=(",", ":"), ensure_ascii=False), status=first.status,
                    mimetype="application/json", headers=headers)


# --- errors (the handlers and their JSON shape: api/errors.py) ------------------------------------


for _kind, _handler in HANDLERS:
    bp.register_error_handler(_kind, _handler)


def routing_error(exc: HTTPException):
    """App-wide handler: routing errors (unknown URL, wrong method) under /api/v1 answer JSON;
    everywhere else Flask's own response is kept."""
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        return http_error(exc)
    return exc


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
        """The floor Role whose workflows the token may use (auth.WORKFLOWS); None for an agent."""
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
