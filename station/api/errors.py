"""One JSON error shape for every refusal of the API, ``{"error": {"code", "message", ...}}``: the
error handlers (api/core.py registers them on the blueprint), and the parse of a request's body or
query into its model, whose validation errors it words for people ("qty: must be greater than 0")."""
from __future__ import annotations

import json
import re
from decimal import Decimal

from flask import Response, current_app, request
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from .. import quantities
from ..services.errors import DomainError
from ..unavailable import RETRY_AFTER_S
from ..unavailable import describe as describe_unavailable
from .schemas import PATTERN_WORDS


class ApiError(Exception):
    """A refusal by the HTTP layer itself: no token, a body that is not JSON, a bad field."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict | None = None,
                 **details) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.details = headers or {}, details


# Refusal details that are quantities (what is left, each place's stock) go out as decimal strings, like
# every quantity the API answers.
_QTY_DETAILS = frozenset({"available", "qty"})


def _detail(key: str, value):
    if key in _QTY_DETAILS and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return quantities.text(value)
    if isinstance(value, list):
        return [{k: _detail(k, v) for k, v in x.items()} if isinstance(x, dict) else x for x in value]
    return value


def error_response(status: int, code: str, message: str, headers=None, **details) -> Response:
    error = {"code": code, "message": message}
    error.update((k, _detail(k, v)) for k, v in details.items() if k not in error)
    return Response(json.dumps({"error": error}, default=str), status=status,
                    mimetype="application/json", headers=headers)


def api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.headers, **exc.details)


def domain_error(exc: DomainError):
    return error_response(exc.status, exc.code, exc.message, **exc.details)


def integrity_error(exc: IntegrityError):
    # The services check for duplicates first; this is the loser of a race between two requests.
    current_app.logger.warning("API %s %s: %s", request.method, request.path, exc.orig)
    return error_response(409, "conflict", "The change collides with one saved at the same moment "
                                           "(for example the same code created twice); nothing was "
                                           "saved. Check and try again.")


def http_error(exc: HTTPException):
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


def unexpected(exc: Exception):
    if isinstance(exc, HTTPException):  # the blueprint's Exception handler outranks the app's
        return http_error(exc)
    unavailable = describe_unavailable(exc)
    if unavailable is not None:  # the database could not serve: nothing was saved, try again
        current_app.logger.warning("API %s %s: %s", request.method, request.path, unavailable.code)
        return error_response(503, unavailable.code, unavailable.message,
                              headers={"Retry-After": str(RETRY_AFTER_S)})
    current_app.logger.exception("API %s %s failed", request.method, request.path)
    return error_response(500, "internal_error",
                          "The server failed to handle this request; the error has been logged.")



class _Inexact(ValueError):
    pass


def _exact_float(text: str):
    # pydantic reads a JSON number through a binary float, which keeps 15 significant digits: a longer one
    # (1.0000000000000001) would come out rounded. No quantity needs more (10^8 to the millionth is 15).
    digits = text.lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    if len(digits) > 15:
        raise _Inexact(text)
    return 0


# A JSON number of 16 digits at least. A number only ever follows ":", "," or "[", so the digits of a
# code in a string (a GS1 scan on every resolve) rarely match; when they do, the parse below decides.
_LONG_NUMBER = re.compile(rb"[:,\[]\s*-?[0-9.]{16,}")


def _refuse_inexact_numbers(data: bytes) -> None:
    if not _LONG_NUMBER.search(data):
        return
    try:
        json.loads(data, parse_float=_exact_float)
    except _Inexact as exc:
        raise ApiError(422, "inexact_number", f"The number {str(exc)[:40]} has more digits than a JSON number "
                                              f"carries exactly; send it as a decimal string (\"12.345\"). "
                                              f"Nothing was done.") from None
    except (ValueError, RecursionError):
        return  # not JSON (or nested past Python's parser): the model's parse says so in its words


def parse_body(model: type[BaseModel]) -> BaseModel:
    data = request.get_data(cache=True)
    if not data.strip():
        raise ApiError(400, "malformed_json", "The request body is empty; send a JSON object.")
    _refuse_inexact_numbers(data)
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if err["type"] == "json_invalid":
                reason = (err.get("ctx") or {}).get("error", err["msg"])
                raise ApiError(400, "malformed_json",
                               f"The request body is not valid JSON: {reason}.") from None
        raise invalid(exc) from None


def parse_query(model: type[BaseModel], status: int = 422) -> BaseModel:
    try:
        return model.model_validate({key: request.args.get(key) for key in request.args})
    except ValidationError as exc:
        raise invalid(exc, status) from None


def invalid(exc: ValidationError, status: int = 422) -> ApiError:
    """422 (or `status`) naming each bad field in plain words: "qty: must be greater than 0"."""
    errors = exc.errors(include_url=False)
    if errors[0]["type"] == "model_type" and not errors[0]["loc"]:
        return ApiError(status, "invalid", "The request body must be a JSON object.")
    fields = []
    for err in errors:
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        fields.append({"field": field or None, "message": words(err)})
    message = "; ".join(f"{f['field']}: {f['message']}" if f["field"] else f["message"] for f in fields)
    return ApiError(status, "invalid", message, fields=fields)


_PHRASES = (("Input should be", "must be"), ("String should", "must"), ("List should", "must"),
            ("Value error, ", ""))


def words(err: dict) -> str:
    kind = err["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind == "string_pattern_mismatch":
        return PATTERN_WORDS.get(err["ctx"]["pattern"], "has the wrong format")
    if kind in ("decimal_parsing", "decimal_type", "finite_number"):
        return "must be a number like 12 or 12.35 (a JSON number or a decimal string)"
    if kind in ("decimal_max_places", "decimal_max_digits", "decimal_whole_digits"):
        return f"has more decimals than any item is counted in (at most {quantities.MAX_DECIMALS})"
    text = err["msg"]
    for phrase, plain in _PHRASES:
        if text.startswith(phrase):
            text = plain + text[len(phrase):]
            break
    return text


# The handlers by the exception they answer (Flask picks the closest class, whatever the order).
HANDLERS = ((ApiError, api_error), (DomainError, domain_error), (IntegrityError, integrity_error),
            (HTTPException, http_error), (Exception, unexpected))
