"""Lot numbering: patterns such as ``{yy}{mm}{dd}-{seq:03}`` with sequences that reset per period.

Tokens: {yyyy} {yy} {mm} {dd} {jjj} (day of the year), {seq} or {seq:N} (zero-padded to N),
{item} (SKU), {supplier} (supplier code), {line} (production line code).

The sequence is drawn with one atomic upsert on (scheme, period), so concurrent workers on
SQLite or PostgreSQL never get the same number.
"""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import LotCounter, LotScheme, SequenceReset
from .errors import Invalid

TOKEN = re.compile(r"\{([a-z]+)(?::(\d{1,2}))?\}")
DATE_TOKENS = {"yyyy", "yy", "mm", "dd", "jjj"}
CONTEXT_TOKENS = {"item", "supplier", "line"}
MAX_LOT_NUMBER = 40
# The date tokens a pattern needs so that a sequence reset never repeats a number.
NEEDS = {
    SequenceReset.DAILY: ("a year ({yy} or {yyyy}) and a day ({dd} with {mm}, or {jjj})",
                          lambda t: _has_year(t) and ("jjj" in t or {"mm", "dd"} <= t)),
    SequenceReset.MONTHLY: ("a year ({yy} or {yyyy}) and a month ({mm})",
                            lambda t: _has_year(t) and "mm" in t),
    SequenceReset.YEARLY: ("a year ({yy} or {yyyy})", lambda t: _has_year(t)),
    SequenceReset.NEVER: ("nothing more", lambda t: True),
}


def _has_year(tokens: set[str]) -> bool:
    return bool(tokens & {"yy", "yyyy"})


def validate_pattern(pattern: str, reset: SequenceReset) -> None:
    """Refuse a pattern that has unknown tokens, no sequence, or could repeat after a reset."""
    names = [m.group(1) for m in TOKEN.finditer(pattern)]
    unknown = set(names) - DATE_TOKENS - CONTEXT_TOKENS - {"seq"}
    if unknown:
        raise Invalid(f"Unknown token {{{sorted(unknown)[0]}}} in lot pattern {pattern!r}.",
                      code="invalid_pattern")
    if "{" in TOKEN.sub("", pattern) or "}" in TOKEN.sub("", pattern):
        raise Invalid(f"Lot pattern {pattern!r} has an unmatched brace or a malformed token.",
                      code="invalid_pattern")
    if names.count("seq") != 1:
        raise Invalid(f"Lot pattern {pattern!r} needs exactly one {{seq}} token to keep numbers unique.",
                      code="invalid_pattern")
    what, ok = NEEDS[reset]
    if not ok(set(names)):
        raise Invalid(f"A sequence that resets {reset.value} needs {what} in the pattern, "
                      f"or the same lot number would come round again.", code="invalid_pattern")


def period_key(reset: SequenceReset, on: dt.date) -> str:
    """The counter bucket a date falls in for this reset policy."""
    return {
        SequenceReset.DAILY: on.isoformat(),
        SequenceReset.MONTHLY: on.strftime("%Y-%m"),
        SequenceReset.YEARLY: on.strftime("%Y"),
        SequenceReset.NEVER: "",
    }[reset]


def draw(session: Session, scheme: LotScheme, on: dt.date) -> int:
    """The next sequence number of `scheme` for the period containing `on` (1, 2, 3, ...)."""
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[session.get_bind().dialect.name]
    period = period_key(scheme.reset, on)
    stmt = dialect.insert(LotCounter).values(scheme_id=scheme.id, period=period, value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[LotCounter.scheme_id, LotCounter.period],
        set_={"value": LotCounter.value + 1},
    ).returning(LotCounter.value)
    return session.execute(stmt).scalar_one()


def render(pattern: str, seq: int, on: dt.date, *, item: str | None = None,
           supplier: str | None = None, line: str | None = None) -> str:
    """Fill the pattern's tokens; Invalid when a context token has no value."""
    context = {"item": item, "supplier": supplier, "line": line}

    def value(match: re.Match) -> str:
        name, width = match.group(1), match.group(2)
        if name == "seq":
            return str(seq).zfill(int(width or 0))
        if name in DATE_TOKENS:
            return {"yyyy": f"{on.year:04d}", "yy": f"{on.year % 100:02d}", "mm": f"{on.month:02d}",
                    "dd": f"{on.day:02d}", "jjj": f"{on.timetuple().tm_yday:03d}"}[name]
        if not context[name]:
            raise Invalid(f"The lot pattern {pattern!r} needs a {name} code, and none was given.",
                          code="lot_pattern_context")
        return re.sub(r"\s+", "", context[name])

    number = TOKEN.sub(value, pattern)
    if len(number) > MAX_LOT_NUMBER:
        raise Invalid(f"Lot number {number!r} is longer than {MAX_LOT_NUMBER} characters.",
                      code="lot_number_too_long")
    return number


def default_scheme(session: Session) -> LotScheme:
    scheme = session.scalar(select(LotScheme).where(LotScheme.name == "default"))
    if scheme is None:
        raise Invalid("No default lot numbering scheme: run `station init`.", code="no_lot_scheme")
    return scheme


def next_lot_number(session: Session, scheme: LotScheme | None, on: dt.date, *,
                    item: str | None = None, supplier: str | None = None,
                    line: str | None = None) -> str:
    """Draw the next number of `scheme` (the default scheme when None) and render it."""
    scheme = scheme or default_scheme(session)
    return render(scheme.pattern, draw(session, scheme, on), on, item=item, supplier=supplier, line=line)


def create_scheme(session: Session, name: str, pattern: str, reset: SequenceReset) -> LotScheme:
    validate_pattern(pattern, reset)
    scheme = LotScheme(name=name, pattern=pattern, reset=reset)
    session.add(scheme)
    session.flush()
    return scheme


def set_scheme(session: Session, pattern: str, reset: SequenceReset, item=None) -> LotScheme:
    """Set the site's default pattern, or an item's own pattern when `item` is given."""
    validate_pattern(pattern, reset)
    if item is None:
        scheme = default_scheme(session)
    else:
        scheme = item.lot_scheme or session.scalar(
            select(LotScheme).where(LotScheme.name == f"item:{item.sku}"))
        if scheme is None:
            scheme = LotScheme(name=f"item:{item.sku}", pattern=pattern, reset=reset)
            session.add(scheme)
        item.lot_scheme = scheme
    scheme.pattern, scheme.reset = pattern, reset
    session.flush()
    return scheme
