"""The bodies of the site's operators (api/operator_views.py). No body ever holds a PIN's hash, and a
PIN is only ever written, never read back."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ..models import Operator, Role
from ..services.operators import BADGE_MAX, NAME_MAX
from .schemas import NO_CONTROL, PATTERN_WORDS, Request

PIN = r"^[0-9]{4,12}$"
PATTERN_WORDS.setdefault(PIN, "must be 4 to 12 digits")
Badge = Annotated[str, Field(min_length=1, max_length=BADGE_MAX, pattern=NO_CONTROL)]
OperatorName = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=NO_CONTROL)]
Pin = Annotated[str, Field(pattern=PIN)]
RoleName = Literal["receiver", "picker", "line_operator", "supervisor", "admin"]
ROLE_WORDS = "What the operator may do: receiver, picker, line_operator, supervisor or admin."


class OperatorIn(Request):
    badge: Badge = Field(description="The number or code on the operator's badge, unique on the site (letters, "
                                     "digits and signs; not starting with OPR: or CMD:).")
    name: OperatorName = Field(description="The operator's name, as every record they make shows it.")
    role: RoleName = Field(description=ROLE_WORDS)
    pin: Pin | None = Field(None, description="A sign-in PIN of 4 to 12 digits (a JSON string). Without one, "
                                              "an operator whose role needs a PIN sets it at first sign-in.")


class OperatorChangeIn(Request):
    """Only the fields given change."""

    name: OperatorName | None = Field(None, description="The operator's name (cannot be null).")
    role: RoleName | None = Field(None, description=ROLE_WORDS + " Their floor sessions end: they sign in again under it.")
    active: bool | None = Field(None, description="false: disable — the badge no longer signs in and every "
                                                  "floor session of theirs ends now; true: enable again.")
    pin: Pin | None = Field(None, description="A new PIN (a JSON string of 4 to 12 digits); null clears it: "
                                              "the operator sets a new one at their next sign-in.")


class OperatorOut(BaseModel):
    badge: str
    name: str
    role: RoleName
    active: bool
    has_pin: bool = Field(description="Whether a PIN is set (the PIN itself is never sent).")
    pin_locked: bool = Field(description="Whether too many wrong PINs have locked the badge for a while.")

    @classmethod
    def of(cls, operator: Operator, *, locked: bool = False) -> OperatorOut:
        return cls(badge=operator.badge, name=operator.name, role=Role(operator.role).value,
                   active=bool(operator.active), has_pin=operator.pin_hash is not None, pin_locked=locked)


class OperatorQuery(BaseModel):
    after: Annotated[str, Field(max_length=BADGE_MAX)] | None = Field(
        None, description="next_after of the previous page: operators whose badge sorts after it.")
    active: bool | None = Field(None, description="true: only active operators; false: only disabled ones.")
    limit: int = Field(100, ge=1, le=1000, description="At most this many operators.")


class OperatorPage(BaseModel):
    data: list[OperatorOut] = Field(description="By badge.")
    next_after: str | None = Field(description="Pass as after for the next page; null on the last page.")
