"""Domain errors: each carries a stable code and a message a warehouse worker understands.

The API maps them to HTTP statuses; pages show the message in the red banner.
"""
from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain makes; nothing has been changed when it is raised."""

    code = "invalid"
    status = 422

    def __init__(self, message: str, *, code: str | None = None, **details) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class Invalid(DomainError):
    """The request itself is wrong: a bad value, a missing field, an unknown reference."""


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    """The request is well-formed but the site's state forbids it (duplicate SSCC, held lot, ...)."""

    code = "conflict"
    status = 409


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class LotNotPickable(Conflict):
    code = "lot_not_pickable"
