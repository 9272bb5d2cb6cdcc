"""Ninety days of the demo site's work, simulated weekday by weekday through the domain services
(station/demo/__init__.py tells the story; master_data.py holds what it is made of)."""
from __future__ import annotations

import calendar
import datetime as dt
import math
import random
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from labels.gs1 import sscc  # SSCCs as on pallet labels

from .. import clock, quantities
from ..models import (HandlingUnit, Item, Location, LocationKind, Lot, LotStatus, Operator, Order,
                     OrderLine, OrderStatus, Printer, Role, StationDevice, Stock, Supplier, Customer)
from .. import imports
from ..services import holds, picking, production, receiving, stock
from ..services.actor import NOBODY, Actor
from ..services.pins import hash_pin
from ..services.production import Component
from ..services.suggest import suggest
from .master_data import (
    BARCODE_PREFIX, CUSTOMERS, DEMAND, DEMO_DOCK_PRINTER, DEMO_PIN, HOLD_REASONS, ITEMS, LOT_SCHEMES,
    MAX_EXPIRED, OPERATORS, OVERRIDE_REASONS, OWN_PREFIX, QUARANTINE_REASONS, RECIPES, SUPPLIERS, ItemSpec,
    OPENING_STOCK, _locations, gln, gtin13, gtin14,
)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clock.site_zone())
    return local.astimezone(dt.timezone.utc)


def _past(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """That time of `day`, but never later than now: the ledger holds no future."""
    return min(_at(day, hour, minute), dt.datetime.now(dt.timezone.utc))


def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


class _Site:
    def __init__(self, session: Session, rng: random.Random, today: dt.date, days: int) -> None:
        self.days = days  # how many days of history, ending today
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
        day = self.today - dt.timedelta(days=self.days)
        self.opening_stock(day)
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
        """Suppliers, customers, locations, operators and items through the bulk import (the rows a site's
        files would hold, through the same checks and writers), then printers and stations."""
        s = self.s
        self.load("suppliers", [{"code": sup.code, "name": sup.name, "gln": gln(sup.prefix, 1)} for sup in SUPPLIERS])
        self.load("customers", [{"code": code, "name": name, "gln": gln(prefix, 1)}
                                for code, name, prefix in CUSTOMERS])
        self.load("locations", [{"code": code, "kind": kind, "name": name, "barcode": BARCODE_PREFIX + code}
                                for code, kind, name in _locations()])
        self.load("operators", [{"badge": badge, "name": name, "role": role} for badge, name, role in OPERATORS])
        prefixes = {sup.code: sup.prefix for sup in SUPPLIERS}
        rows = []
        for spec in ITEMS:
            consumer = gtin13(prefixes.get(spec.source, OWN_PREFIX), spec.ref)
            pattern, reset = LOT_SCHEMES[spec.scheme] if spec.scheme else ("", None)
            rows.append({"sku": spec.sku, "name": spec.name,
                         "gtins": [consumer] + ([gtin14(spec.case, consumer)] if spec.case else []),
                         "unit": spec.unit, "decimals": _decimals(spec), "shelf_life_days": spec.shelf_life,
                         "removal_strategy": "FEFO" if spec.fefo else "FIFO", "lot_pattern": pattern,
                         "lot_reset": reset, "supplier": spec.source if spec.source in prefixes else None,
                         "labels_per_receipt": 0 if spec.zone == "P" else 1,
                         "refuse_younger_lots": "yes" if spec.oldest_first else "no"})
        self.load("items", rows)
        self.suppliers = {r.code: r for r in s.scalars(select(Supplier))}
        self.customers = {r.code: r for r in s.scalars(select(Customer))}
        self.items = {r.sku: r for r in s.scalars(select(Item))}
        for location in s.scalars(select(Location).order_by(Location.id)):
            self.locations[location.code] = location
            self.by_id[location.id] = location
        operators = list(s.scalars(select(Operator).order_by(Operator.id)))
        for op in operators:
            if op.role in (Role.SUPERVISOR, Role.ADMIN):
                op.pin_hash = hash_pin(DEMO_PIN)
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

    def load(self, kind: str, rows: list[dict], by: Actor = NOBODY) -> None:
        imports.run(self.s, kind, imports.table_of(rows), by=by, today=self.today)

    def opening_stock(self, day: dt.date) -> None:
        """What stood on the shelves the day the site went live (the first day of the history): a pallet of
        each slow-moving, long-lived item, imported as opening stock (no random draws: the rest of the
        history draws as before)."""
        rows = []
        for n, sku in enumerate(OPENING_STOCK, start=1):
            spec = self.specs[sku]
            produced = day - dt.timedelta(days=20 + 7 * n)
            rows.append({"sku": sku, "supplier": spec.source, "supplier_lot": f"OPEN-{produced:%y%m%d}-{n:02d}",
                         "qty": spec.lot[1], "location": self.zones[spec.zone][n % len(self.zones[spec.zone])].code,
                         "produced": produced})
        with clock.at(_past(day, 6)):
            imports.run(self.s, "opening", imports.table_of(rows), by=self.ops[Role.ADMIN][0], today=day)

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
        usable.update({sku: qty for sku, qty in self.s.execute(query)})
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
                    need[part] += _use(self.specs[part], qty, per_1000)
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
            for a, take in self.allocate(part, _use(self.specs[part], qty, per_1000), day):
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
                    stock.adjust(self.s, lot, self.by_id[location_id], -qty,
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


def _decimals(spec: ItemSpec) -> int:
    """Ingredients weighed or measured are counted to the gram or millilitre; everything else in whole units."""
    return 3 if spec.unit in ("kg", "L") else 0


def _use(spec: ItemSpec, made: int, per_1000: int) -> quantities.Qty:
    """What a run of `made` units uses of a component: exact to its decimals (12.35 kg of flour), whole
    units rounded up (a carton is never cut)."""
    exact = Decimal(made * per_1000) / 1000
    return quantities.normal(exact) if _decimals(spec) >= 3 else math.ceil(exact)
