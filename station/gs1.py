"""GS1 identifiers checked with biip: GTINs (stored as GTIN-14), SSCCs and GLNs."""
from __future__ import annotations

from biip import ParseError
from biip.gln import Gln
from biip.gtin import Gtin
from biip.sscc import Sscc

from .services.errors import Invalid


def _checked(parse, value: str, what: str) -> object:
    text = str(value).strip()
    try:
        return parse(text)
    except ParseError as exc:
        raise Invalid(f"{what} {text!r} is not valid: {exc}", code=f"invalid_{what.lower()}") from None


def normalise_gtin(value: str) -> str:
    """A GTIN-8/12/13/14 with a valid check digit, as 14 digits; Invalid otherwise."""
    return _checked(Gtin.parse, value, "GTIN").as_gtin_14()


def normalise_sscc(value: str) -> str:
    """An 18-digit SSCC with a valid check digit; Invalid otherwise."""
    return _checked(Sscc.parse, value, "SSCC").value


def normalise_gln(value: str) -> str:
    """A 13-digit GLN with a valid check digit; Invalid otherwise."""
    return _checked(Gln.parse, value, "GLN").value
