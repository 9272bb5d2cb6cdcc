"""GS1 identifiers checked with biip: GTINs (stored as GTIN-14) and SSCCs."""
from __future__ import annotations

from biip import ParseError
from biip.gln import Gln
from biip.gtin import Gtin
from biip.sscc import Sscc

from .services.errors import Invalid


def normalise_gtin(value: str) -> str:
    """A GTIN-8/12/13/14 with a valid check digit, as 14 digits; Invalid otherwise."""
    text = str(value).strip()
    try:
        return Gtin.parse(text).as_gtin_14()
    except ParseError as exc:
        raise Invalid(f"GTIN {text!r} is not valid: {exc}", code="invalid_gtin") from None


def normalise_sscc(value: str) -> str:
    """An 18-digit SSCC with a valid check digit; Invalid otherwise."""
    text = str(value).strip()
    try:
        return Sscc.parse(text).value
    except ParseError as exc:
        raise Invalid(f"SSCC {text!r} is not valid: {exc}", code="invalid_sscc") from None


def normalise_gln(value: str) -> str:
    """A 13-digit GLN with a valid check digit; Invalid otherwise."""
    text = str(value).strip()
    try:
        return Gln.parse(text).value
    except ParseError as exc:
        raise Invalid(f"GLN {text!r} is not valid: {exc}", code="invalid_gln") from None
