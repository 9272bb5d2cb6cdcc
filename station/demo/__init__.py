"""A realistic demo site, built through the domain services so the ledger, stock and lot numbers are real.

The site is a small contract warehouse with a bakery: bulk ingredients and packaging come in from
four suppliers, two lines make croissants and cookies from them, and a fifth supplier's pharmacy
range is received and picked for pharmacies and a hospital. Ninety days of work are simulated,
weekday by weekday, ending today (``station.clock.today()``):

* customer orders arrive and are picked FIFO/FEFO (now and then a picker overrides the
  suggestion, with a reason — never for PH-AMOX500, whose policy refuses a lot younger than the
  suggestion) and shipped the same day;
* finished goods are made on LINE-1 / LINE-2 when they run low: the components are moved from the
  racks to the line and consumed there, and the output lot is put away;
* purchased items arrive at DOCK-1 / DOCK-2 on a regular rhythm per item, with an extra delivery
  when stock would run short (most pallets with an SSCC; the receipt is dated with ``on=``), and
  are put away into the racks, except part of today's deliveries, which still wait on the dock.

A few cold-room pallets are "forgotten" at the back of a rack and expire there (or are about to);
other expired stock beyond 8-12 lots has been destroyed with an adjustment. At the end some lots
are put on hold or in quarantine (moved to the QA cage), and open orders wait, some partly picked.

Dates (receipt, production, expiry, lot numbers, lots.created_at, pallets' received_at, orders)
follow the simulated days, but the services stamp ledger rows and lot events with the real time,
so every movement of the seeded history carries the time the demo was seeded.

The same seed on the same day gives the same site (``random.Random(seed)``; no other randomness).
Everything is written in one transaction: a failed seed leaves the database as it was.

Barcodes and codes:

* locations: code ``A-01-02`` = rack A, bay 01, level 02; barcode ``LOC:<code>`` (``LOC:DOCK-1``).
  Racks A (ambient food) and A-05 (packaging), B (pharmacy), C (cold room); QA-CAGE; DOCK-1/2,
  LINE-1/2, SHIP-1/2.
* operators: badges ``OP-1001`` … ``OP-1006``, one or more per role. The supervisor (OP-1005) and the
  admin (OP-1006) sign in with the demo PIN ``1234`` (DEMO_PIN); the others need no PIN.
* GTINs, GLNs and SSCCs carry valid GS1 check digits on made-up company prefixes; our own
  prefix is 7312345. SSCC = extension digit + the supplier's 7-digit company prefix + 9-digit
  serial + check digit.
* lot numbers: the site's default scheme for purchased goods; croissants use ``{item}-{yy}{jjj}-{seq:04}``
  (yearly reset) and cookies ``{line}-{yy}{jjj}-{seq:02}`` (daily reset).
"""
from __future__ import annotations

import random

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labels.gs1 import check_digit, sscc  # noqa: F401 - the demo's GS1 numbers, importable from here

from .. import clock
from ..db import Database
from ..models import Customer, Item, Location, Lot, LotStatus, Operator, Order, OrderStatus, Supplier
from ..services.errors import Conflict

# The master data and the GS1 helpers stay importable from station.demo (tests and scripts use them).
from .master_data import (  # noqa: F401
    DAYS, DEMO_DOCK_PRINTER, DEMO_PIN, ITEMS, MAX_EXPIRED, OPERATORS, SUPPLIERS, gln, gtin13, gtin14,
)
from .site import _Site


# --- seeding -----------------------------------------------------------------------------------


def seed_demo(db: Database, *, seed: int = 2024, if_empty: bool = False) -> str:
    """Seed the demo site and return a one-line summary.

    With `if_empty`, a database that already has items is left alone (and the message says so);
    without it, such a database is refused, since the demo's codes would clash with its own.
    """
    with db.write() as session:
        items = session.scalar(select(func.count()).select_from(Item))
        if items:
            if if_empty:
                return f"demo site not seeded: the database already has {items} items"
            raise Conflict(f"The database already has {items} items; the demo site needs an empty "
                           f"database (use --if-empty to skip quietly).", code="not_empty")
        # DAYS is read here, when called: a test shortens the history by setting station.demo.DAYS.
        _Site(session, random.Random(seed), clock.today(), DAYS).build()
        return summary(session)


_OPEN = (OrderStatus.OPEN, OrderStatus.PICKING, OrderStatus.PICKED)


def summary(session: Session) -> str:
    """One line saying what the site holds."""
    today = clock.today()

    def count(model, *where) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where))

    return (f"demo site: {count(Item)} items, {count(Supplier)} suppliers, {count(Customer)} customers, "
            f"{count(Location)} locations, {count(Lot)} lots "
            f"({count(Lot, Lot.status == LotStatus.HOLD)} on hold, "
            f"{count(Lot, Lot.status == LotStatus.QUARANTINE)} in quarantine, "
            f"{count(Lot, Lot.expiry < today, Lot.on_hand > 0)} expired), "
            f"{count(Order, Order.status.in_(_OPEN))} open orders, "
            f"{count(Order, Order.status == OrderStatus.SHIPPED)} shipped, "
            f"{count(Operator)} operators")
