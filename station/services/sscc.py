"""SSCCs for the pallets Station labels: extension digit + GS1 company prefix + serial + check digit.

The serial is drawn from ``sscc_counters`` with one atomic upsert ... RETURNING per draw, so
concurrent workers (threads or processes, SQLite or PostgreSQL) never get the same SSCC. Serials
start at 1; serial 0 is never drawn and is kept for previews (`preview_sscc`), so a preview can
never collide with a pallet that exists.

The draw happens in the caller's transaction: if that transaction rolls back, the serial is drawn
again by the next caller, and nothing ever carried the rolled-back one.
"""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from labels import gs1

from ..config import sscc_settings
from ..models import SsccCounter
from .errors import Conflict

SSCC_LENGTH = 18


class SsccExhausted(Conflict):
    """Every serial of a company prefix and extension digit has been drawn."""

    code = "sscc_exhausted"


def _scheme(company_prefix: str | None, extension: int | None) -> tuple[str, int]:
    """The given prefix and extension, the configured ones for those not given."""
    if company_prefix is None or extension is None:
        configured_prefix, configured_extension = sscc_settings()
        company_prefix = configured_prefix if company_prefix is None else company_prefix
        extension = configured_extension if extension is None else extension
    return company_prefix, extension


def max_serial(company_prefix: str) -> int:
    """The largest serial reference that fits after `company_prefix` (7 digits: 999,999,999)."""
    return 10 ** (SSCC_LENGTH - 2 - len(company_prefix)) - 1


def next_sscc(session: Session, *, company_prefix: str | None = None, extension: int | None = None) -> str:
    """Draw the next SSCC: one atomic statement on the counter of (company prefix, extension).

    The prefix and extension default to STATION_GS1_COMPANY_PREFIX and STATION_SSCC_EXTENSION.
    SsccExhausted (409) when the counter has used every serial that fits.
    """
    prefix, ext = _scheme(company_prefix, extension)
    gs1.sscc(ext, prefix, 0)  # ValueError on a bad prefix or extension, before touching the counter
    top = max_serial(prefix)
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[session.get_bind().dialect.name]
    stmt = dialect.insert(SsccCounter).values(company_prefix=prefix, extension=ext, last_serial=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SsccCounter.company_prefix, SsccCounter.extension],
        set_={"last_serial": SsccCounter.last_serial + 1},
        where=SsccCounter.last_serial < top,  # a full counter updates no row and returns nothing
    ).returning(SsccCounter.last_serial)
    serial = session.execute(stmt).scalar_one_or_none()
    if serial is None:
        raise SsccExhausted(
            f"Every SSCC serial of company prefix {prefix} with extension digit {ext} has been used "
            f"({top:,} of them). Set STATION_SSCC_EXTENSION to an unused digit, or use another "
            f"company prefix, before printing more pallet labels.",
            company_prefix=prefix, extension=ext)
    return gs1.sscc(ext, prefix, serial)


def preview_sscc(*, company_prefix: str | None = None, extension: int | None = None) -> str:
    """The SSCC with serial 0, which `next_sscc` never draws: for previews that must not use one up."""
    prefix, ext = _scheme(company_prefix, extension)
    return gs1.sscc(ext, prefix, 0)
