"""GS1 element strings for barcodes: which AIs need an FNC1 separator, and the human-readable line.

AI lengths and check digits come from biip (the GS1 data Station also scans with), not tables of our own.
"""

from __future__ import annotations

from collections.abc import Sequence

from biip import ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier


# GS1 AI encodable character set 82 (digits, letters and these symbols).
CSET82 = frozenset("!\"%&'()*+,-./:;<=>?_" "0123456789" "ABCDEFGHIJKLMNOPQRSTUVWXYZ" "abcdefghijklmnopqrstuvwxyz")


def application_identifier(ai: str) -> GS1ApplicationIdentifier:
    """biip's record of a GS1 application identifier; ValueError for one that GS1 does not define."""
    try:
        known = GS1ApplicationIdentifier.extract(ai)
    except ParseError:
        known = None
    if known is None or known.ai != ai:  # extract() matches a prefix: "011" would give AI 01
        raise ValueError(f"not a GS1 application identifier: {ai!r}")
    return known


def is_fixed_length(ai: str) -> bool:
    """True when the AI's element string has a predefined length (no FNC1 needed after it)."""
    return not application_identifier(ai).separator_required


def element_strings(pairs: Sequence[tuple[str, str]]) -> list[tuple[str, bool]]:
    """Each pair as (AI + value, separator needed after it)."""
    out = []
    for i, (ai, value) in enumerate(pairs):
        fixed = is_fixed_length(ai)  # ValueError for an AI that GS1 does not define
        if not value or not set(value) <= CSET82:
            raise ValueError(f"GS1 value for AI {ai} must use GS1 character set 82: {value!r}")
        last = i == len(pairs) - 1
        out.append((ai + value, not last and not fixed))
    return out


def hri(pairs: Sequence[tuple[str, str]]) -> str:
    """The human-readable interpretation, e.g. (01)09501101530003(10)ABC."""
    return "".join(f"({ai}){value}" for ai, value in pairs)


def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit for a GTIN, SSCC or GLN body (the digits without their check digit)."""
    if not digits.isdigit():
        raise ValueError(f"GS1 check digits are computed over digits only: {digits!r}")
    return str(gs1_standard_check_digit(digits))


def sscc(extension: int, company_prefix: str, serial: int) -> str:
    """An 18-digit SSCC: extension digit + GS1 company prefix + serial reference + check digit."""
    if not 0 <= extension <= 9:
        raise ValueError(f"SSCC extension digit must be 0-9, not {extension}")
    if not (company_prefix.isdigit() and 7 <= len(company_prefix) <= 10):
        raise ValueError(f"GS1 company prefix must be 7 to 10 digits: {company_prefix!r}")
    width = 16 - len(company_prefix)
    if not 0 <= serial < 10**width:
        raise ValueError(f"SSCC serial {serial} does not fit in {width} digits after prefix {company_prefix}")
    body = f"{extension}{company_prefix}{serial:0{width}d}"
    return body + check_digit(body)


FNC1 = None  # marker for FNC1 in a symbol stream (Code 128 and Data Matrix alike)


def fnc1_stream(element_strings: Sequence[tuple[str, bool]]) -> list[str | None]:
    """A GS1 symbol stream: FNC1 first, then each element string, FNC1 after those that need a separator."""
    items: list[str | None] = [FNC1]
    for text, separator in element_strings:
        items.extend(text)
        if separator:
            items.append(FNC1)
    return items
