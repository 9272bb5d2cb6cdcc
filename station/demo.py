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

import calendar
import datetime as dt
import math
import random
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from labels.gs1 import check_digit, sscc  # GS1 check digits (biip's) and SSCCs, as on pallet labels

from . import clock
from .db import Database
from .scanning.codes import LOCATION_PREFIX
from .models import (HandlingUnit, Item, Location, LocationKind, Lot, LotStatus, Operator, Order,
                     OrderLine, OrderStatus, Printer, RemovalStrategy, Role, SequenceReset,
                     StationDevice, Stock, Supplier, Customer)
from .services import catalog, holds, numbering, picking, production, receiving, stock
from .services.actor import Actor
from .services.pins import hash_pin
from .services.errors import Conflict
from .services.production import Component
from .services.suggest import suggest

DAYS = 90
OWN_PREFIX = "7312345"
MAX_EXPIRED = 12  # at most this many expired lots are still on the shelves; the rest were destroyed
BARCODE_PREFIX = LOCATION_PREFIX  # labels/codes.py


# --- GS1 numbers -------------------------------------------------------------------------------


def gtin13(prefix: str, ref: str) -> str:
    body = prefix + ref
    assert len(body) == 12, body
    return body + check_digit(body)


def gtin14(indicator: int, gtin_13: str) -> str:
    """The GTIN-14 of a case of the trade item `gtin_13` (indicator digit 1-8)."""
    body = str(indicator) + gtin_13[:12]
    return body + check_digit(body)


def gln(prefix: str, ref: int) -> str:
    body = prefix + f"{ref:05d}"
    return body + check_digit(body)


# --- the site's master data --------------------------------------------------------------------


@dataclass(frozen=True)
class SupplierSpec:
    code: str
    name: str
    prefix: str
    lot_format: str  # how this supplier writes its lot numbers (str.format with p=produced, n=count)


SUPPLIERS = [
    SupplierSpec("HOFMUEHLE", "Hofmühle Getreide GmbH", "4012345", "M{p:%y}{j:03d}{c}"),
    SupplierSpec("NORDHAVN", "Nordhavn Mejeri A/S", "5790123", "{j:03d}{p:%y}-L{n:02d}"),
    SupplierSpec("VALCACAO", "Valcacao SAS", "3401234", "VC{p:%y%m%d}-{n:02d}"),
    SupplierSpec("PACKRIGHT", "PackRight Packaging Ltd", "5031234", "PR{n:06d}"),
    SupplierSpec("MEDIVERA", "Medivera Pharma B.V.", "8712345", "{c}{p:%y}{m}{n:03d}"),
]

CUSTOMERS = [
    ("GREENBASKET", "Green Basket Supermarkets", "5060123"),
    ("BAKEHOUSE", "Bakehouse Café Group", "4260123"),
    ("STOLAF", "St. Olaf Hospital Pharmacy", "7090123"),
    ("CITYCARE", "CityCare Pharmacies", "5400123"),
]


@dataclass(frozen=True)
class ItemSpec:
    sku: str
    name: str
    unit: str
    shelf_life: int | None
    fefo: bool
    zone: str              # A ambient, P packaging, B pharmacy, C cold room
    source: str            # supplier code, or the line that makes it
    ref: str               # 5-digit GTIN item reference under the source's company prefix
    case: int              # case GTIN-14 indicator digit, 0 for none
    lot: tuple[int, int]   # quantity per pallet (or per delivery when loose)
    step: int              # quantities come in multiples of this (a sack, a case)
    pallets: tuple[int, int]
    sscc: bool
    lag: tuple[int, int] | None  # days between production and receipt; None: not dated
    every: int             # weekdays between regular deliveries (0: made on a line)
    reorder: int           # an extra delivery (or a run) when usable stock would fall below this
    scheme: str | None = None
    oldest_first: bool = False  # picking refuses a younger lot than the suggestion, whatever the reason


ITEMS = [
    ItemSpec("ING-FLOUR550", "Wheat flour type 550, 25 kg sack", "kg", 365, False, "A", "HOFMUEHLE",
             "10001", 0, (200, 300), 25, (1, 2), True, (5, 40), 5, 50),
    ItemSpec("ING-SALT", "Fine sea salt, 25 kg sack", "kg", None, False, "A", "HOFMUEHLE",
             "10002", 0, (25, 25), 25, (1, 1), True, None, 13, 5),
    ItemSpec("ING-YEAST", "Fresh baker's yeast, 1 kg block", "kg", 35, True, "C", "HOFMUEHLE",
             "10003", 1, (5, 10), 5, (1, 1), False, (1, 3), 4, 3),
    ItemSpec("ING-SUGAR", "Caster sugar, 25 kg sack", "kg", 730, False, "A", "VALCACAO",
             "20001", 0, (50, 100), 25, (1, 1), True, (10, 60), 6, 15),
    ItemSpec("ING-CHOC54", "Dark chocolate callets 54%, 10 kg box", "kg", 540, True, "A", "VALCACAO",
             "20002", 1, (30, 50), 10, (1, 1), True, (14, 60), 6, 10),
    ItemSpec("ING-VANILLA", "Bourbon vanilla extract, 1 L bottle", "L", 730, True, "A", "VALCACAO",
             "20003", 1, (2, 4), 1, (1, 1), False, (30, 120), 13, 1),
    ItemSpec("ING-BUTTER82", "Unsalted butter 82% fat, 10 kg block", "kg", 120, True, "C", "NORDHAVN",
             "30001", 1, (100, 140), 10, (1, 1), True, (3, 14), 4, 40),
    ItemSpec("ING-EGG", "Pasteurised liquid whole egg, 10 L bag", "L", 28, True, "C", "NORDHAVN",
             "30002", 1, (10, 20), 10, (1, 1), False, (1, 3), 3, 10),
    ItemSpec("ING-SMP", "Skimmed milk powder, 25 kg bag", "kg", 540, True, "A", "NORDHAVN",
             "30003", 0, (25, 25), 25, (1, 1), True, (14, 90), 8, 5),
    ItemSpec("PKG-FILM320", "Flow-wrap film 320 mm, 1000 m roll", "ea", None, False, "P", "PACKRIGHT",
             "40001", 0, (6, 12), 6, (1, 1), True, None, 8, 2),
    ItemSpec("PKG-CARTON", "Shipping carton 400 x 300 x 200 mm", "ea", None, False, "P", "PACKRIGHT",
             "40002", 0, (150, 250), 50, (1, 1), True, None, 6, 40),
    ItemSpec("FG-CROISSANT6", "Butter croissants 6 x 60 g, chilled", "ea", 21, True, "C", "LINE-1",
             "00101", 1, (1200, 1800), 12, (1, 1), False, None, 0, 300, "finished goods"),
    ItemSpec("FG-COOKIE200", "Chocolate chip cookies 200 g", "ea", 180, True, "A", "LINE-2",
             "00102", 1, (1920, 3840), 24, (1, 1), False, None, 0, 800, "line daily"),
    ItemSpec("PH-PARA500", "Paracetamol 500 mg tablets, pack of 20", "ea", 1095, True, "B", "MEDIVERA",
             "50001", 1, (192, 480), 48, (1, 1), True, (30, 240), 3, 100),
    ItemSpec("PH-IBU400", "Ibuprofen 400 mg tablets, pack of 24", "ea", 1095, True, "B", "MEDIVERA",
             "50002", 1, (144, 360), 36, (1, 1), True, (30, 240), 4, 50),
    ItemSpec("PH-VITD1000", "Vitamin D3 1000 IU capsules, pack of 90", "ea", 730, True, "B", "MEDIVERA",
             "50003", 1, (96, 240), 24, (1, 1), True, (30, 180), 4, 50),
    ItemSpec("PH-AMOX500", "Amoxicillin 500 mg capsules, pack of 21", "ea", 730, True, "B", "MEDIVERA",
             "50004", 1, (90, 180), 30, (1, 1), True, (30, 180), 4, 30, oldest_first=True),
    ItemSpec("PH-NACL500", "Sodium chloride 0.9% infusion, 500 mL bag", "ea", 1095, True, "B", "MEDIVERA",
             "50005", 1, (60, 200), 20, (1, 1), True, (20, 120), 3, 40),
    ItemSpec("PH-GLOVES-M", "Nitrile examination gloves, size M, box of 100", "ea", 1825, False, "B",
             "MEDIVERA", "50006", 1, (20, 60), 10, (1, 1), True, (30, 365), 5, 10),
    ItemSpec("PH-SANIT500", "Hand sanitiser gel 70% ethanol, 500 mL", "ea", 1095, False, "B", "MEDIVERA",
             "50007", 1, (96, 240), 12, (1, 1), True, (20, 200), 4, 50),
]

# What a production run of 1000 units consumes, in each component's unit.
RECIPES = {
    "FG-CROISSANT6": {"ING-FLOUR550": 170, "ING-BUTTER82": 90, "ING-EGG": 20, "ING-YEAST": 7,
                      "ING-SUGAR": 20, "ING-SMP": 8, "ING-SALT": 3, "PKG-FILM320": 2,
                      "PKG-CARTON": 84},
    "FG-COOKIE200": {"ING-FLOUR550": 60, "ING-BUTTER82": 45, "ING-SUGAR": 50, "ING-CHOC54": 40,
                     "ING-EGG": 8, "ING-VANILLA": 1, "ING-SALT": 1, "PKG-FILM320": 2,
                     "PKG-CARTON": 42},
}

LOT_SCHEMES = {
    "finished goods": ("{item}-{yy}{jjj}-{seq:04}", SequenceReset.YEARLY),
    "line daily": ("{line}-{yy}{jjj}-{seq:02}", SequenceReset.DAILY),
}

# customer code -> (chance of an order on a weekday, [(sku, min qty, max qty, multiple of)])
DEMAND = {
    "GREENBASKET": (0.15, [("FG-CROISSANT6", 240, 720, 12), ("FG-COOKIE200", 240, 720, 24),
                          ("PH-VITD1000", 48, 192, 12), ("PH-SANIT500", 48, 144, 12)]),
    "BAKEHOUSE": (0.15, [("FG-CROISSANT6", 120, 480, 12), ("FG-COOKIE200", 120, 360, 24)]),
    "STOLAF": (0.1, [("PH-NACL500", 100, 400, 20), ("PH-GLOVES-M", 20, 80, 10),
                      ("PH-SANIT500", 24, 96, 12), ("PH-AMOX500", 60, 180, 30),
                      ("PH-PARA500", 96, 384, 48)]),
    "CITYCARE": (0.12, [("PH-PARA500", 240, 960, 48), ("PH-IBU400", 144, 576, 36),
                        ("PH-VITD1000", 48, 240, 24), ("PH-SANIT500", 48, 144, 12),
                        ("PH-AMOX500", 60, 180, 30)]),
}

OPERATORS = [
    ("OP-1001", "Anna Lindqvist", Role.RECEIVER),
    ("OP-1002", "Marek Nowak", Role.PICKER),
    ("OP-1003", "Sofia Rossi", Role.PICKER),
    ("OP-1004", "Jonas Weber", Role.LINE_OPERATOR),
    ("OP-1005", "Priya Natarajan", Role.SUPERVISOR),
    ("OP-1006", "Daniel Okafor", Role.ADMIN),
]

DEMO_DOCK_PRINTER = "tcp://127.0.0.1:9100"  # scripts/start.sh starts `station printer-emulator` there
DEMO_PIN = "1234"  # supervisors and admins sign in with badge and PIN (views/floor.py); demo only

# why a lot is held, and the zones (A ambient food, B pharmacy, C cold room, P packaging) it fits
HOLD_REASONS = [
    ("Customer complaint CC-{n:04d} under investigation", "ABC"),
    ("Supplier notice: possible mislabelled batch, awaiting confirmation", "ABCP"),
    ("Label misprint: expiry date unreadable on outer case", "ABC"),
    ("Damaged shrink wrap found at count, inspection pending", "ABCP"),
    ("Stock count discrepancy under investigation", "ABCP"),
    ("Water damage near rack after roof leak, inspection pending", "ABP"),
    ("Certificate of analysis does not match the batch number", "ABC"),
    ("Lab retest requested: moisture above specification", "A"),
    ("Foreign body found by customer, batch traced here", "AC"),
    ("Temperature excursion logged in cold room overnight", "C"),
    ("Seal defect found on retained sample", "B"),
    ("Regulator batch query, awaiting the QP's decision", "B"),
    ("Print registration off on part of the roll", "P"),
]
QUARANTINE_REASONS = [
    "Incoming QC: sampled, awaiting lab release",
    "Temperature logger alarm on arrival (9.4 °C)",
    "Pallet damaged in transit, awaiting supplier inspection",
    "Certificate of analysis missing on delivery",
]
OVERRIDE_REASONS = [
    "Suggested pallet blocked behind another pallet",
    "Suggested lot on a high level, no reach truck free",
    "Customer asked for a single lot on the order",
]


def _locations() -> list[tuple[str, LocationKind, str]]:
    rows = [("DOCK-1", LocationKind.DOCK, "Dock door 1 (food)"),
            ("DOCK-2", LocationKind.DOCK, "Dock door 2 (pharmacy)")]
    for aisle, bays, what in (("A", 4, "ambient food"), ("B", 4, "pharmacy"), ("C", 3, "cold room")):
        for bay in range(1, bays + 1):
            for level in (1, 2):
                rows.append((f"{aisle}-{bay:02d}-{level:02d}", LocationKind.STORAGE,
                             f"Rack {aisle} bay {bay:02d} level {level:02d} ({what})"))
    for level in (1, 2):
        rows.append((f"A-05-{level:02d}", LocationKind.STORAGE,
                     f"Rack A bay 05 level {level:02d} (packaging)"))
    rows += [("QA-CAGE", LocationKind.STORAGE, "QA quarantine cage"),
             ("LINE-1", LocationKind.LINE, "Line 1: croissants"),
             ("LINE-2", LocationKind.LINE, "Line 2: cookies"),
             ("SHIP-1", LocationKind.SHIPPING, "Shipping lane 1"),
             ("SHIP-2", LocationKind.SHIPPING, "Shipping lane 2")]
    return rows


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
        _Site(session, random.Random(seed), clock.today()).build()
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


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clock.site_zone())
    return local.astimezone(dt.timezone.utc)


def _past(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """That time of `day`, but never later than now: the ledger holds no future."""
    return min(_at(day, hour, minute), dt.datetime.now(dt.timezone.utc))


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


class _Site:
    def __init__(self, session: Session, rng: random.Random, today: dt.date) -> None:
        self.s = session
        self.rng = rng
        self.today = today
        self.specs = {spec.sku: spec for spec in ITEMS}
        self.items: dict[str, Item] = {}
        self.suppliers: dict[str, Supplier] = {}
        self.customers: dict[str, Customer] = {}
        self.locations: dict[str, Location] = {}
        self.by_id: dict[int, Location] = {}
        self.ops: dict[Role, list[Actor]] = {}
        self.forgotten: set[int] = set()  # lot ids nobody remembers; they sit until they expire
        # how many forgotten lots have expired by today, and how many expire within the week
        self.quota = {"expired": rng.randint(5, 8), "near": rng.randint(3, 5)}
        self.max_expired = rng.randint(8, MAX_EXPIRED)
        self.sscc_serial = {s.code: rng.randrange(10**6, 10**8) for s in SUPPLIERS}
        self.supplier_lots = {s.code: rng.randrange(100, 900) for s in SUPPLIERS}
        self.order_no = 24000 + rng.randrange(100, 900)
        self.offset = {spec.sku: rng.randrange(spec.every or 1) for spec in ITEMS}
        self.workday = 0
        self.forgotten_qty: dict[str, int] = {}
        self.stamps: dict[type, list[dict]] = {Lot: [], HandlingUnit: []}  # backdated created times

    # master data

    def build(self) -> None:
        self.master_data()
        day = self.today - dt.timedelta(days=DAYS)
        while day <= self.today:
            if day.weekday() < 5:
                self.work(day)
            day += dt.timedelta(days=1)
        self.write_off_expired()
        self.holds()
        self.open_orders()
        for model, rows in self.stamps.items():
            if rows:
                self.s.execute(update(model), rows)

    def master_data(self) -> None:
        s = self.s
        schemes = {name: numbering.create_scheme(s, name, pattern, reset)
                   for name, (pattern, reset) in LOT_SCHEMES.items()}
        prefixes = {sup.code: sup.prefix for sup in SUPPLIERS}
        for sup in SUPPLIERS:
            self.suppliers[sup.code] = catalog.create_supplier(
                s, code=sup.code, name=sup.name, gln=gln(sup.prefix, 1))
        for code, name, prefix in CUSTOMERS:
            self.customers[code] = catalog.create_customer(s, code=code, name=name, gln=gln(prefix, 1))
        for code, kind, name in _locations():
            location = catalog.create_location(s, code=code, kind=kind, name=name,
                                               barcode=BARCODE_PREFIX + code)
            self.locations[code] = location
            self.by_id[location.id] = location
        for spec in ITEMS:
            consumer = gtin13(prefixes.get(spec.source, OWN_PREFIX), spec.ref)
            gtins = [consumer] + ([gtin14(spec.case, consumer)] if spec.case else [])
            self.items[spec.sku] = catalog.create_item(
                s, sku=spec.sku, name=spec.name, gtins=gtins, unit=spec.unit,
                shelf_life_days=spec.shelf_life,
                removal_strategy=RemovalStrategy.FEFO if spec.fefo else RemovalStrategy.FIFO,
                lot_scheme=schemes[spec.scheme] if spec.scheme else None,
                labels_per_receipt=0 if spec.zone == "P" else 1)
            self.items[spec.sku].refuse_younger_lots = spec.oldest_first
        operators = []
        for badge, name, role in OPERATORS:
            pin = hash_pin(DEMO_PIN) if role in (Role.SUPERVISOR, Role.ADMIN) else None
            operators.append(Operator(badge=badge, name=name, role=role, pin_hash=pin))
        s.add_all(operators)
        # The dock printer is the printer emulator scripts/start.sh runs (the real network path, ~HS
        # status and all); the line printer is simulated in-process.
        printers = [Printer(name="dock-zebra", url=DEMO_DOCK_PRINTER, dpi=203, label_size="4x6"),
                    Printer(name="line-zebra", url="sim://line-zebra", dpi=203, label_size="4x6")]
        s.add_all(printers)
        s.flush()
        stations = [
            StationDevice(name="Dock tablet", location_id=self.locations["DOCK-1"].id,
                          printer_id=printers[0].id, scanner_url="sim://dock-scanner"),
            StationDevice(name="Line 1 PC", location_id=self.locations["LINE-1"].id,
                          printer_id=printers[1].id, scanner_url="sim://line-scanner"),
            StationDevice(name="Handheld 1", location_id=self.locations["SHIP-1"].id,
                          printer_id=printers[0].id),
        ]
        s.add_all(stations)
        s.flush()
        where = {Role.RECEIVER: stations[0], Role.LINE_OPERATOR: stations[1], Role.PICKER: stations[2]}
        for op in operators:
            station = where.get(op.role)
            self.ops.setdefault(op.role, []).append(Actor(op.id, station.id if station else None))
        self.zones: dict[str, list[Location]] = {}
        for code, location in self.locations.items():
            if location.kind is LocationKind.STORAGE and code != "QA-CAGE":
                zone = "P" if code.startswith("A-05") else code[0]
                self.zones.setdefault(zone, []).append(location)

    def actor(self, role: Role, raw_scan: str | None = None) -> Actor:
        base = self.rng.choice(self.ops[role])
        return Actor(base.operator_id, base.station_id, raw_scan)

    # the daily round

    def usable(self, day: dt.date) -> dict[str, int]:
        """Stock that could be used today: available, not expiring in two days, not forgotten."""
        query = (select(Item.sku, func.coalesce(func.sum(Lot.on_hand), 0))
                 .join(Lot, Lot.item_id == Item.id)
                 .where(Lot.status == LotStatus.AVAILABLE, Lot.on_hand > 0,
                        (Lot.expiry.is_(None)) | (Lot.expiry >= day + dt.timedelta(days=2)))
                 .group_by(Item.sku))
        if self.forgotten:
            query = query.where(Lot.id.not_in(self.forgotten))
        usable = {spec.sku: 0 for spec in ITEMS}
        usable.update({sku: int(qty) for sku, qty in self.s.execute(query)})
        return usable

    def work(self, day: dt.date) -> None:
        rng = self.rng
        usable = self.usable(day)
        orders = []
        for code, (chance, lines) in DEMAND.items():
            if rng.random() < chance:
                chosen = rng.sample(lines, rng.randint(1, min(4, len(lines))))
                orders.append((code, [(sku, rng.randrange(lo, hi + 1, step))
                                      for sku, lo, hi, step in chosen]))
        need = {sku: 0 for sku in usable}
        for _, lines in orders:
            for sku, qty in lines:
                need[sku] += qty
        runs = []
        for sku, recipe in RECIPES.items():
            spec = self.specs[sku]
            if usable[sku] - need[sku] < spec.reorder:
                qty = rng.randrange(spec.lot[0], spec.lot[1] + 1, spec.step)
                runs.append((sku, qty))
                for part, per_1000 in recipe.items():
                    need[part] += math.ceil(qty * per_1000 / 1000)
        self.workday += 1
        with clock.at(_past(day, 7, 30)):
            for spec in ITEMS:
                if spec.source in self.suppliers:
                    if (self.workday + self.offset[spec.sku]) % spec.every == 0:
                        usable[spec.sku] += self.receive(spec, day)  # the regular delivery
                    while usable[spec.sku] - need[spec.sku] < spec.reorder:
                        usable[spec.sku] += self.receive(spec, day)  # an extra one
        with clock.at(_past(day, 11)):
            for sku, qty in runs:
                self.produce(sku, qty, day)
        with clock.at(_past(day, 14, 15)):
            for code, lines in orders:
                self.ship_order(code, lines, day)

    def receive(self, spec: ItemSpec, day: dt.date) -> int:
        """One delivery of `spec` (pallets of one supplier lot), put away unless it came in just now."""
        rng, sup = self.rng, next(s for s in SUPPLIERS if s.code == spec.source)
        item, supplier = self.items[spec.sku], self.suppliers[spec.source]
        produced = day - dt.timedelta(days=rng.randint(*spec.lag)) if spec.lag else None
        expiry = None
        if spec.shelf_life is not None:
            expiry = (produced or day) + dt.timedelta(days=spec.shelf_life)
            if spec.zone == "B":
                expiry = _month_end(expiry)  # pharmacy expiry dates are month ends
        n = self.supplier_lots[sup.code] = self.supplier_lots[sup.code] + 1
        when = produced or day
        supplier_lot = sup.lot_format.format(p=when, j=when.timetuple().tm_yday, n=n,
                                             c="ABCDEFGHJK"[n % 10], m="ABCDEFGHIJKL"[when.month - 1])
        dock = self.locations["DOCK-2" if spec.zone == "B" else "DOCK-1"]
        pallets = rng.randint(*spec.pallets)
        total = 0
        lot = None
        for _ in range(pallets):
            qty = rng.randrange(spec.lot[0], spec.lot[1] + 1, spec.step)
            code = None
            if spec.sscc:
                self.sscc_serial[sup.code] += rng.randint(1, 40)
                code = sscc(rng.randrange(10), sup.prefix, self.sscc_serial[sup.code])
            gtin = item.gtins[-1].gtin
            scan = f"]C100{code}" if code else f"]C101{gtin}10{supplier_lot}"
            lot = receiving.receive(self.s, item=item, qty=qty, location=dock, supplier=supplier,
                                    supplier_lot=supplier_lot, expiry=expiry, produced=produced,
                                    sscc=code, by=self.actor(Role.RECEIVER, scan), on=day)
            total += qty
        at = _at(day, rng.randint(6, 11), rng.randrange(60))
        self.stamps[Lot].append({"id": lot.id, "created_at": at})
        units = list(self.s.scalars(select(HandlingUnit).where(HandlingUnit.lot_id == lot.id)
                                    .order_by(HandlingUnit.id)))
        self.stamps[HandlingUnit] += [{"id": unit.id, "received_at": at} for unit in units]
        if expiry and spec.zone == "C" and self.forget(expiry):
            self.forgotten.add(lot.id)
            self.forgotten_qty[spec.sku] = self.forgotten_qty.get(spec.sku, 0) + total
        if day >= self.today - dt.timedelta(days=1) and rng.random() < 0.5:
            return total  # still on the dock, waiting to be put away
        for unit in units:
            dest = rng.choice(self.zones[spec.zone])
            stock.move_unit(self.s, unit, dest, by=self.actor(Role.RECEIVER, BARCODE_PREFIX + dest.code))
        if not units:
            dest = rng.choice(self.zones[spec.zone])
            stock.move(self.s, lot, total, dock, dest,
                       by=self.actor(Role.RECEIVER, BARCODE_PREFIX + dest.code))
        return total

    def forget(self, expiry: dt.date) -> bool:
        """Whether a cold-room pallet with this expiry is the one left at the back of the rack."""
        kind = ("expired" if expiry < self.today else
                "near" if expiry <= self.today + dt.timedelta(days=7) else None)
        if kind is None or self.quota[kind] == 0 or self.rng.random() < 0.4:
            return False
        self.quota[kind] -= 1
        return True

    def allocate(self, sku: str, qty: int, day: dt.date):
        """The FIFO/FEFO suggestion for `qty`, leaving out forgotten lots."""
        extra = self.forgotten_qty.get(sku, 0)
        allocations, remaining = [], qty
        for a in suggest(self.s, self.items[sku], qty + extra, on=day).allocations:
            if a.lot_id in self.forgotten:
                continue
            take = min(a.qty, remaining)
            allocations.append((a, take))
            remaining -= take
            if remaining == 0:
                break
        return allocations

    def produce(self, sku: str, qty: int, day: dt.date) -> None:
        line = self.locations[self.specs[sku].source]
        by = self.actor(Role.LINE_OPERATOR)
        components: dict[int, int] = {}
        for part, per_1000 in RECIPES[sku].items():
            for a, take in self.allocate(part, math.ceil(qty * per_1000 / 1000), day):
                lot = self.s.get(Lot, a.lot_id)
                stock.move(self.s, lot, take, self.by_id[a.location_id], line,
                           by=Actor(by.operator_id, by.station_id, BARCODE_PREFIX + line.code))
                components[lot.id] = components.get(lot.id, 0) + take
        parts = [Component(self.s.get(Lot, lot_id), line, used) for lot_id, used in components.items()]
        lot = production.produce(self.s, item=self.items[sku], qty=qty, location=line, components=parts,
                                 line_code=line.code, by=by, on=day)
        self.stamps[Lot].append({"id": lot.id, "created_at": _at(day, self.rng.randint(12, 15),
                                                                 self.rng.randrange(60))})
        if day < self.today:
            dest = self.rng.choice(self.zones[self.specs[sku].zone])
            stock.move(self.s, lot, qty, line, dest, by=self.actor(Role.PICKER, BARCODE_PREFIX + dest.code))

    def new_order(self, code: str, lines: list[tuple[str, int]], due: dt.date,
                  created: dt.datetime) -> Order:
        self.order_no += 1
        order = Order(number=f"SO-{self.order_no}", customer_id=self.customers[code].id, due_on=due,
                      created_at=created)
        self.s.add(order)
        self.s.flush()
        for no, (sku, qty) in enumerate(lines, 1):
            self.s.add(OrderLine(order_id=order.id, line_no=no, item_id=self.items[sku].id, qty=qty))
        self.s.flush()
        return order

    def pick_line(self, line: OrderLine, qty: int, day: dt.date) -> int:
        """Pick up to `qty` for `line` as a picker would: by the suggestion, now and then not."""
        rng = self.rng
        allocations = self.allocate(line.item.sku, qty, day)
        override = None
        if len({a.lot_id for a, _ in allocations}) > 1 and rng.random() < 0.08:
            # the picker takes the second suggested lot first, and says why (the reason is drawn
            # even for an item that refuses younger lots, so the rest of the site stays the same)
            reason = rng.choice(OVERRIDE_REASONS)
            if not line.item.refuse_younger_lots:
                allocations = [allocations[1], allocations[0]] + allocations[2:]
                override = reason
        picker, picked = self.actor(Role.PICKER), 0
        for n, (a, take) in enumerate(allocations):
            picking.pick(self.s, lot=self.s.get(Lot, a.lot_id), location=self.by_id[a.location_id],
                         qty=take, line=line, by=picker, on=day,
                         followed_suggestion=not (override and n == 0),
                         override_reason=override if n == 0 else None)
            picked += take
        return picked

    def ship_order(self, code: str, lines: list[tuple[str, int]], day: dt.date) -> None:
        rng = self.rng
        ordered = _at(day - dt.timedelta(days=rng.randint(1, 3)), 9, rng.randrange(60))
        order = self.new_order(code, lines, day, ordered)
        picked = sum(self.pick_line(line, line.qty, day) for line in order.lines)
        if picked == 0:
            order.status = OrderStatus.CANCELLED  # nothing in stock to send
            return
        picking.ship(self.s, order, by=self.actor(Role.PICKER), on=day)
        order.shipped_at = _at(day, rng.randint(14, 17), rng.randrange(60))

    # the state today

    def write_off_expired(self) -> None:
        """Old expired stock was destroyed; forgotten lots and the latest to expire are still there."""
        expired = list(self.s.scalars(select(Lot).where(Lot.expiry < self.today, Lot.on_hand > 0)
                                      .order_by(Lot.expiry.desc(), Lot.id)))
        keep = [lot for lot in expired if lot.id in self.forgotten]
        others = [lot for lot in expired if lot.id not in self.forgotten]
        keep += others[:max(0, self.max_expired - len(keep))]
        supervisor = self.actor(Role.SUPERVISOR)
        for lot in expired:
            if lot in keep:
                continue
            rows = self.s.execute(select(Stock.location_id, func.sum(Stock.qty)).where(Stock.lot_id == lot.id)
                                  .group_by(Stock.location_id).order_by(Stock.location_id)).all()
            for location_id, qty in rows:
                if qty:
                    stock.adjust(self.s, lot, self.by_id[location_id], -int(qty),
                                 f"Expired {lot.expiry.isoformat()}: destroyed", by=supervisor)

    def holds(self) -> None:
        rng, today = self.rng, self.today
        candidates = list(self.s.scalars(
            select(Lot).where(Lot.status == LotStatus.AVAILABLE, Lot.on_hand > 0,
                              (Lot.expiry.is_(None)) | (Lot.expiry > today + dt.timedelta(days=7)))
            .order_by(Lot.id)))
        candidates = [lot for lot in candidates if lot.id not in self.forgotten]
        recent = [lot for lot in candidates if lot.origin == "receipt"
                  and lot.received_on >= today - dt.timedelta(days=14)]
        supervisor = self.actor(Role.SUPERVISOR)
        quarantined = rng.sample(recent, min(3, len(recent)))
        cage = self.locations["QA-CAGE"]
        for lot, reason in zip(quarantined, rng.sample(QUARANTINE_REASONS, len(quarantined))):
            for row in self.s.scalars(select(Stock).where(Stock.lot_id == lot.id, Stock.qty > 0)
                                      .order_by(Stock.id)).all():
                stock.move(self.s, lot, row.qty, self.by_id[row.location_id], cage,
                           unit=row.handling_unit, by=self.actor(Role.RECEIVER, BARCODE_PREFIX + cage.code))
            holds.hold(self.s, lot, reason, status=LotStatus.QUARANTINE, by=supervisor)
        rest = [lot for lot in candidates if lot not in quarantined]
        held = rng.sample(rest, min(rng.randint(9, 11), len(rest)))
        zone_of = {self.items[spec.sku].id: spec.zone for spec in ITEMS}
        used: set[str] = set()
        for lot in held:
            fitting = [r for r, zones in HOLD_REASONS if zone_of[lot.item_id] in zones]
            reason = rng.choice([r for r in fitting if r not in used] or fitting)
            used.add(reason)
            holds.hold(self.s, lot, reason.format(n=rng.randrange(1, 200)), by=supervisor)

    def open_orders(self) -> None:
        rng, today = self.rng, self.today
        codes = sorted(DEMAND)
        for n in range(8):
            code = codes[n % len(codes)] if n < len(codes) else rng.choice(codes)
            _, choices = DEMAND[code]
            chosen = rng.sample(choices, rng.randint(1, min(4, len(choices))))
            lines = [(sku, rng.randrange(lo, hi + 1, step)) for sku, lo, hi, step in chosen]
            created = _at(today - dt.timedelta(days=rng.randint(0, 2)), rng.randint(7, 12), rng.randrange(60))
            order = self.new_order(code, lines, today + dt.timedelta(days=rng.randint(0, 5)), created)
            if n < 3:  # being picked: the first line done, the next half done
                for i, line in enumerate(order.lines[:2]):
                    self.pick_line(line, line.qty if i == 0 else max(1, line.qty // 2), today)
            elif n == 3:  # picked, waiting for the truck
                for line in order.lines:
                    self.pick_line(line, line.qty, today)
